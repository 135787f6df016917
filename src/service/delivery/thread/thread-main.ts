/**
 * The delivery thread's entry point: it builds the mailers (createMailer: token cache + SMTP
 * pool) the main thread asks for, sends what it is given, and answers each send with the
 * server's reply or the error, plus the mailer's counters (token requests, connections).
 *
 * Why: see protocol.ts. This module holds no policy: which message, when, how often, and what a
 * failure means are decided on the main thread (worker, retry table, diagnosis); here only the
 * SMTP and token work happens, on the second core.
 *
 * Token providers are kept by the id the main thread gives them, with the number of open
 * mailers using each: mailers opened with the same id share one token cache (settings changed,
 * credential the same: no new token), however many settings changes follow, as MailerSource
 * does in one thread.
 *
 * Imports: ../../../mailer.js, ./protocol.js.
 */
import { parentPort } from 'node:worker_threads';
import { createMailer, createTokenProvider, type MailgateMailer } from '../../../mailer.js';
import type { TokenProvider } from '../../../core/ports.js';
import { scrubText } from '../../../core/secret.js';
import { secretValues } from '../../../core/settings.js';
import type { Logger } from '../../../log/logger.js';
import { errorToPlain, messageFromClone, settingsFromPlain, type FromThread, type MailerCounters, type ToThread } from './protocol.js';

if (!parentPort) throw new Error('thread-main.ts runs only as a worker thread');
const port = parentPort;

interface Open {
  mailer: MailgateMailer;
  /** Cleans an error text of this mailer's secrets and of token-shaped strings. */
  scrub: (text: string) => string;
  tokens?: TokenProvider;
  provider?: number;
  closing?: Promise<void>;
}

const mailers = new Map<number, Open>();
const providers = new Map<number, { tokens: TokenProvider; users: number }>();

function post(m: FromThread): void {
  port.postMessage(m);
}

/** Debug lines of the mailer (token requests, sends) go to the main thread's logger. */
function forwardingLogger(): Logger {
  const fwd = (obj: unknown, msg?: string) => post({ t: 'log', level: 'debug', obj: (obj ?? {}) as Record<string, unknown>, msg: msg ?? '' });
  const noop = () => undefined;
  const l = { debug: fwd, trace: noop, info: noop, warn: noop, error: noop, fatal: noop, child: () => l, level: 'debug' };
  return l as unknown as Logger;
}

function counters(o: Open | undefined): MailerCounters {
  const s = o?.mailer.stats;
  return {
    tokenRequests: o?.tokens?.requestCount ?? 0,
    ...(o?.mailer.route ? { route: o.mailer.route } : {}),
    peakConnections: s?.peakConnections ?? 0,
    connectionsOpened: s?.connectionsOpened ?? 0,
    openConnections: s?.openConnections ?? 0,
  };
}

function open(m: Extract<ToThread, { t: 'open' }>): void {
  const settings = settingsFromPlain(m.settings);
  const logger = m.debug ? forwardingLogger() : undefined;
  const ca = m.options.ca instanceof Uint8Array && !Buffer.isBuffer(m.options.ca) ? Buffer.from(m.options.ca) : m.options.ca;
  const deps = { ...m.options, ca, logger };
  let tokens: TokenProvider | undefined;
  if (settings.useModernAuth && m.provider !== undefined) {
    let p = providers.get(m.provider);
    if (!p) {
      const provider = m.provider;
      // A switch to the secondary credential is reported to the main thread (log, alert, metric).
      p = { tokens: createTokenProvider(settings, { ...deps, onCredentialFailover: (e) => post({ t: 'failover', provider, code: e.code, at: e.at }) }), users: 0 };
      providers.set(m.provider, p);
    }
    tokens = p.tokens;
  }
  const mailer = createMailer(settings, { ...deps, tokenProvider: tokens });
  if (tokens && m.provider !== undefined) providers.get(m.provider)!.users++;
  const secrets = secretValues(settings);
  mailers.set(m.mailer, { mailer, tokens, provider: tokens ? m.provider : undefined, scrub: (t) => scrubText(t, secrets) });
}

async function send(m: Extract<ToThread, { t: 'send' }>): Promise<void> {
  const o = mailers.get(m.mailer);
  try {
    if (!o) throw new Error(`delivery thread: mailer ${m.mailer} is not open`);
    const result = await o.mailer.send(messageFromClone(m.message));
    post({ t: 'result', id: m.id, ok: true, result, counters: counters(o) });
  } catch (error) {
    post({ t: 'result', id: m.id, ok: false, error: errorToPlain(error, o?.scrub ?? ((t) => scrubText(t, []))), counters: counters(o) });
  }
}

function close(id: number): void {
  const o = mailers.get(id);
  if (!o) return post({ t: 'closed', mailer: id });
  o.closing ??= o.mailer.close().catch(() => undefined).finally(() => {
    mailers.delete(id);
    if (o.provider !== undefined) {
      const p = providers.get(o.provider);
      if (p && --p.users <= 0) providers.delete(o.provider);
    }
    post({ t: 'closed', mailer: id });
  });
}

// A message from the main thread that cannot be read (never expected: the protocol is plain
// data) is said there; the send it carried is retried when its lease expires.
port.on('messageerror', (error) => post({ t: 'log', level: 'error', obj: { event: 'thread_message_unreadable' }, msg: `delivery thread: a message from the main thread could not be read: ${error.message}` }));

// Everything is loaded (nodemailer, MSAL): the main thread may now report itself ready.
post({ t: 'ready' });

port.on('message', (m: ToThread) => {
  switch (m.t) {
    case 'open':
      // Build errors were caught on the main thread before it asked (preflight); one here is
      // reported on each send of this mailer.
      try {
        open(m);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const secrets = secretValues(settingsFromPlain(m.settings));
        const scrub = (t: string) => scrubText(t, secrets);
        mailers.set(m.mailer, { scrub, mailer: { send: () => Promise.reject(error), close: async () => undefined, stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } } as unknown as MailgateMailer });
        post({ t: 'log', level: 'error', obj: { event: 'mailer_build_failed' }, msg: `delivery thread: the mailer could not be built: ${scrub(message)}` });
      }
      break;
    case 'send':
      void send(m);
      break;
    case 'close':
      close(m.mailer);
      break;
  }
});
