/**
 * DeliveryThread: the main thread's side of the delivery thread (see protocol.ts for why), and
 * the MailerFactory that hands the worker proxies to mailers living in that thread.
 *
 * A proxy behaves like createMailer's Mailer: `send()` resolves with the server's reply or
 * rejects with the MailgateError (code, phase, raw reply) the thread's mailer threw; `close()`
 * closes the thread-side pool; `tokenProvider.requestCount` and `stats` follow the thread's
 * counters, updated with every answer. Settings are checked on this thread first (preflight),
 * so an unusable credential (an unreadable certificate) fails the build synchronously, as
 * MailerSource expects, instead of failing every send.
 *
 * If the thread dies, every send it held is rejected as INTERNAL (retryable: the worker tries
 * again later; the message keeps its Message-ID) and the next mailer starts a new thread.
 * The thread is referenced only while a send or a close is outstanding, so it never keeps a
 * finished process alive.
 *
 * Imports: node:worker_threads, src/core, ../../../mailer.js (preflight), ./protocol.js.
 */
import { Worker } from 'node:worker_threads';
import { MailgateError } from '../../../core/errors.js';
import type { OutboundMessage, SendResult, TokenProvider } from '../../../core/ports.js';
import type { EmailSettings } from '../../../core/settings.js';
import type { Logger } from '../../../log/logger.js';
import { createTokenProvider, type MailerDeps, type MailgateMailer } from '../../../mailer.js';
import { errorFromPlain, settingsToPlain, type FromThread, type MailerCounters, type ThreadMailerOptions, type ToThread } from './protocol.js';

/** How long a mailer's close waits for the thread before it gives up waiting. */
const CLOSE_TIMEOUT_MS = 5_000;

interface Pending {
  resolve: (r: SendResult) => void;
  reject: (e: unknown) => void;
  counters: (c: MailerCounters) => void;
}

/**
 * A token provider stand-in on this thread, one per provider in the thread (its `id`): the
 * count follows that provider's, plus what earlier threads counted (a restarted thread starts
 * a new provider from 0).
 */
class ThreadTokenCounter implements TokenProvider {
  /** Requests counted by providers of threads that have ended. */
  base = 0;
  /** The current thread's provider's own count. */
  current = 0;
  constructor(readonly id: number) {}
  get requestCount(): number {
    return this.base + this.current;
  }
  getToken(): never {
    throw new Error('the token provider lives in the delivery thread');
  }
  invalidate(): void {}
}

export class DeliveryThread {
  #worker: Worker | undefined;
  #nextMailer = 1;
  #nextSend = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #closing = new Map<number, () => void>();
  /** Mailers opened in the current thread (a new thread does not know older ones). */
  #opened = new Set<number>();
  #nextProvider = 1;
  /** Every token counter handed out (few: one per credential in effect over time). */
  readonly #counters = new Set<ThreadTokenCounter>();
  readonly #logger?: Logger;
  readonly #entry: URL;
  #stopped = false;
  /** Thread exits since the last delivered message (or start), and the last exit code. */
  #exitsInARow = 0;
  #lastExitCode?: number;

  /** The settings each token provider in the thread was built from (its credential). */
  readonly #providerSettings = new Map<number, EmailSettings>();
  readonly #onFailover?: (settings: EmailSettings, event: { code: string; at: number }) => void;

  /**
   * `entry` replaces the thread's script (tests: a thread that dies). `onCredentialFailover`:
   * a token provider in the thread switched to its secondary credential (issue 17), with the
   * settings it was built from.
   */
  constructor(logger?: Logger, options: { entry?: URL; onCredentialFailover?: (settings: EmailSettings, event: { code: string; at: number }) => void } = {}) {
    this.#logger = logger;
    this.#entry = options.entry ?? new URL('./thread-main.js', import.meta.url);
    this.#onFailover = options.onCredentialFailover;
  }

  #ready?: Promise<void>;
  #onReady?: () => void;

  /**
   * Start the thread now and resolve once it has loaded nodemailer and MSAL (about 100 ms of
   * module loading), so the service reports itself ready only when the first send need not
   * wait for that. Resolves anyway after `timeoutMs` (the first send then waits).
   */
  warmUp(timeoutMs = 10_000): Promise<void> {
    this.#thread();
    const ready = this.#ready!;
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      t.unref();
      void ready.then(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(this.#entry, { name: 'mailgate-delivery' });
    this.#ready = new Promise<void>((resolve) => (this.#onReady = resolve));
    w.unref();
    w.on('message', (m: FromThread) => this.#onMessage(m));
    w.on('error', (error) => this.#logger?.error({ err: error }, 'the delivery thread failed; sends in flight will be retried'));
    // A message from the thread that cannot be read (never expected: the protocol is plain data)
    // is said; the send it answered is retried when its lease expires.
    w.on('messageerror', (error) => this.#logger?.error({ err: error }, 'a message from the delivery thread could not be read; a send it answered is retried when its lease expires'));
    w.on('exit', (code) => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      this.#exitsInARow++;
      this.#lastExitCode = code;
      this.#opened = new Set();
      for (const c of this.#counters) {
        c.base += c.current;
        c.current = 0;
      }
      const lost = [...this.#pending.values()];
      this.#pending.clear();
      for (const p of lost) {
        p.reject(new MailgateError({ code: 'INTERRUPTED', phase: 'send', retryable: true, message: `The delivery thread exited (code ${code}) during the send; the message will be retried` }));
      }
      for (const done of this.#closing.values()) done();
      this.#closing.clear();
      this.#onReady?.();
      if (!this.#stopped) this.#logger?.error({ code }, 'the delivery thread exited; it is restarted for the next message');
    });
    this.#worker = w;
    return w;
  }

  #post(m: ToThread): void {
    this.#thread().postMessage(m);
    this.#refresh();
  }

  /** Keep the process alive only while the thread owes an answer. */
  #refresh(): void {
    if (!this.#worker) return;
    if (this.#pending.size || this.#closing.size) this.#worker.ref();
    else this.#worker.unref();
  }

  #onMessage(m: FromThread): void {
    switch (m.t) {
      case 'ready':
        this.#onReady?.();
        break;
      case 'result': {
        const p = this.#pending.get(m.id);
        if (!p) break;
        this.#pending.delete(m.id);
        p.counters(m.counters);
        if (m.ok) this.#exitsInARow = 0;
        if (m.ok) p.resolve(m.result);
        else p.reject(errorFromPlain(m.error));
        break;
      }
      case 'closed': {
        const done = this.#closing.get(m.mailer);
        this.#closing.delete(m.mailer);
        done?.();
        break;
      }
      case 'failover': {
        const settings = this.#providerSettings.get(m.provider);
        if (settings) this.#onFailover?.(settings, { code: m.code, at: m.at });
        break;
      }
      case 'log':
        if (m.level === 'error') this.#logger?.error(m.obj, m.msg);
        else this.#logger?.debug(m.obj, m.msg);
        break;
    }
    this.#refresh();
  }

  /**
   * A Mailer in the thread for these settings. `reuse.tokenProvider` (a previous mailer of
   * this thread with the same credential) shares its token cache.
   */
  createMailer(settings: EmailSettings, deps: MailerDeps): MailgateMailer {
    if (this.#stopped) throw new Error('the delivery thread is stopped');
    // Preflight on this thread: the synchronous checks createMailer makes (credential complete,
    // certificate readable and well-formed), so a bad credential fails here, not per send.
    if (settings.useModernAuth) createTokenProvider(settings, {});
    const id = this.#nextMailer++;
    const reuse = deps.tokenProvider instanceof ThreadTokenCounter && this.#counters.has(deps.tokenProvider) ? deps.tokenProvider : undefined;
    let tokens: ThreadTokenCounter | undefined;
    if (settings.useModernAuth) {
      tokens = reuse ?? new ThreadTokenCounter(this.#nextProvider++);
      this.#counters.add(tokens);
      if (!reuse) this.#providerSettings.set(tokens.id, settings);
    }
    const options: ThreadMailerOptions = {
      ca: deps.ca,
      maxConnections: deps.maxConnections,
      idleTimeoutMs: deps.idleTimeoutMs,
      xoauth2Mode: deps.xoauth2Mode,
      tokenRetry: deps.tokenRetry,
      localAddress: deps.localAddress,
      pipelining: deps.pipelining,
    };
    const debug = deps.logger?.isLevelEnabled?.('debug') ?? false;
    let stats: Omit<MailerCounters, 'tokenRequests' | 'route'> = { peakConnections: 0, connectionsOpened: 0, openConnections: 0 };
    let route: MailerCounters['route'];
    let closed: Promise<void> | undefined;
    const ensureOpen = () => {
      if (this.#opened.has(id)) return;
      this.#post({ t: 'open', mailer: id, settings: settingsToPlain(settings), options, provider: tokens?.id, debug });
      this.#opened.add(id);
    };
    ensureOpen();
    return {
      tokenProvider: tokens,
      get stats() {
        return stats;
      },
      get route() {
        return route;
      },
      send: (message: OutboundMessage): Promise<SendResult> => {
        if (closed) return Promise.reject(new MailgateError({ code: 'INTERRUPTED', phase: 'send', retryable: true, message: 'The mailer was closed (the settings changed or the service is stopping); nothing was sent', context: { notSent: true } }));
        ensureOpen();
        return new Promise<SendResult>((resolve, reject) => {
          const sendId = this.#nextSend++;
          this.#pending.set(sendId, {
            resolve,
            reject,
            counters: (c) => {
              const { tokenRequests, route: r, ...rest } = c;
              stats = rest;
              if (r) route = r;
              // Mailers sharing a provider report that provider's total.
              if (tokens) tokens.current = tokenRequests;
            },
          });
          try {
            this.#post({ t: 'send', id: sendId, mailer: id, message });
          } catch (error) {
            // The thread could not be started or the message not be cloned: nothing was sent.
            // Retried with backoff (not at once: the cause may persist), never lost.
            this.#pending.delete(sendId);
            this.#refresh();
            reject(new MailgateError({ code: 'INTERRUPTED', phase: 'send', retryable: true, message: `The message could not be handed to the delivery thread: ${(error as Error).message}` }));
          }
        });
      },
      close: () => {
        closed ??= new Promise<void>((resolve) => {
          if (!this.#worker || !this.#opened.has(id)) return resolve();
          this.#opened.delete(id);
          // A stuck thread must not hold up a settings change or the shutdown.
          const timer = setTimeout(() => {
            this.#closing.delete(id);
            this.#refresh();
            resolve();
          }, CLOSE_TIMEOUT_MS);
          timer.unref();
          this.#closing.set(id, () => {
            clearTimeout(timer);
            resolve();
          });
          this.#post({ t: 'close', mailer: id });
        });
        return closed;
      },
    };
  }

  /**
   * Why delivery cannot work now, for /readyz: the thread ended twice or more in a row without
   * delivering in between (it cannot load, or it crashes on every message). Undefined when fine.
   */
  problem(): string | undefined {
    if (this.#exitsInARow < 2) return undefined;
    return `the delivery thread ended ${this.#exitsInARow} times in a row (last exit code ${this.#lastExitCode}) without delivering; messages wait and are retried (see the service log)`;
  }

  /** End the thread (after the mailers were closed). */
  async stop(): Promise<void> {
    this.#stopped = true;
    const w = this.#worker;
    this.#worker = undefined;
    for (const done of this.#closing.values()) done();
    this.#closing.clear();
    if (w) await w.terminate();
    // Sends still out after the worker's shutdown grace keep their lease, which expires; the
    // message is retried by the next start (same Message-ID).
    const lost = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of lost) p.reject(new MailgateError({ code: 'INTERRUPTED', phase: 'send', retryable: true, message: 'The service stopped during the send; the message will be retried' }));
  }
}
