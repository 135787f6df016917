/**
 * Test helpers for the service: temp data dirs, a fake clock with timers, a scriptable fake
 * Mailer, a log capture stream, and waiting for conditions without long sleeps.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Mailer, OutboundMessage, SendResult } from '../../src/core/ports.js';
import type { Scheduler } from '../../src/service/delivery/scheduler.js';

export function tempDir(prefix = 'mailgate-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A clock whose timers fire only when the test advances it. */
export class FakeClock implements Scheduler {
  #now: number;
  #timers: { at: number; fn: () => void; id: number }[] = [];
  #nextId = 1;

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const id = this.#nextId++;
    this.#timers.push({ at: this.#now + Math.max(0, ms), fn, id });
    return () => {
      this.#timers = this.#timers.filter((t) => t.id !== id);
    };
  }

  /** Move time forward, firing due timers in order (each may schedule more). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const t = this.#timers[0];
      if (!t || t.at > target) break;
      this.#timers.shift();
      this.#now = Math.max(this.#now, t.at);
      t.fn();
    }
    this.#now = target;
  }

  pendingTimers(): number {
    return this.#timers.length;
  }
}

/** Let queued promise callbacks and setImmediate work (group commits) run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Poll `check` until it returns truthy, or fail after `timeoutMs`. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export type SendBehaviour = (message: OutboundMessage, call: number) => Promise<SendResult> | SendResult;

/** A Mailer whose behaviour each test scripts; records calls and the peak concurrency. */
export class FakeMailer implements Mailer {
  calls: OutboundMessage[] = [];
  inFlight = 0;
  peakInFlight = 0;
  closed = false;
  behaviour: SendBehaviour;
  /** Resolvers of sends held open by `hold()`. */
  held: (() => void)[] = [];
  #holding = false;

  constructor(behaviour?: SendBehaviour) {
    this.behaviour = behaviour ?? ((m) => ({ messageId: m.messageId ?? '<x@y>', response: '250 2.0.0 OK', accepted: m.to, rejected: [] }));
  }

  /** Make sends wait until `releaseAll()`. */
  hold(): void {
    this.#holding = true;
  }

  releaseAll(): void {
    this.#holding = false;
    const h = this.held;
    this.held = [];
    for (const r of h) r();
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    const call = this.calls.length + 1;
    this.calls.push(message);
    this.inFlight++;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    try {
      if (this.#holding) await new Promise<void>((r) => this.held.push(r));
      return await this.behaviour(message, call);
    } finally {
      this.inFlight--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A writable stream that keeps every line written (for pino). */
export class LineCapture extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
  text(): string {
    return this.lines.join('\n');
  }
}
