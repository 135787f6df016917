/**
 * The messages between the service's main thread and its delivery thread, and the conversions
 * of what does not survive a structured clone: Email Settings (their `Secret` fields), errors
 * (a MailgateError arrives as a plain Error without its code), Buffers (arrive as Uint8Array).
 *
 * Why a thread at all: MIME composition and SMTP over TLS cost about as much CPU per message as
 * the HTTP intake and the SQLite bookkeeping together. On one event loop they take turns, so a
 * burst was capped by one core while the second sat half idle, and enqueues slowed down while
 * delivery ran (bench/results). The thread owns the nodemailer sessions and the token cache;
 * the main thread keeps the outbox, the worker's rules (leases, rate, pause) and the HTTP API.
 *
 * Secrets cross the thread boundary in memory only (a MessagePort inside one process), never a
 * file, socket or log.
 *
 * Imports: src/core only.
 */
import { MailgateError, type ErrorCode, type MailgateErrorInit, type Phase } from '../../../core/errors.js';
import type { Attachment, OutboundMessage, SendResult } from '../../../core/ports.js';
import { Secret } from '../../../core/secret.js';
import type { EmailSettings } from '../../../core/settings.js';

/** The mailer options that can cross to the thread (no logger, no clock, no provider). */
export interface ThreadMailerOptions {
  ca?: string | Uint8Array;
  maxConnections?: number;
  idleTimeoutMs?: number;
  xoauth2Mode?: 'initial-response' | 'two-step';
  tokenRetry?: { maxAttempts?: number; baseDelayMs?: number; retryBudgetMs?: number };
  localAddress?: string;
  pipelining?: boolean;
}

/** Email Settings with each Secret replaced by `{ secret: value }`. */
export type PlainSettings = Record<string, unknown>;

export type ToThread =
  /** `provider`: the token provider's id; mailers opened with the same id share one token cache. */
  | { t: 'open'; mailer: number; settings: PlainSettings; options: ThreadMailerOptions; provider?: number; debug: boolean }
  | { t: 'send'; id: number; mailer: number; message: OutboundMessage }
  | { t: 'close'; mailer: number };

export interface MailerCounters {
  tokenRequests: number;
  /** Transport auto: the route of the mailer's sender (RouteState of mailer.ts), plain data. */
  route?: { transport: 'smtp' | 'graph'; reason: string; since: number; switches: Record<string, number> };
  peakConnections: number;
  connectionsOpened: number;
  openConnections: number;
}

export type FromThread =
  | { t: 'result'; id: number; ok: true; result: SendResult; counters: MailerCounters }
  | { t: 'result'; id: number; ok: false; error: PlainError; counters: MailerCounters }
  | { t: 'ready' }
  | { t: 'closed'; mailer: number }
  | { t: 'log'; level: 'debug' | 'error'; obj: Record<string, unknown>; msg: string }
  /** The token provider `provider` switched to its secondary credential (issue 17). */
  | { t: 'failover'; provider: number; code: string; at: number };

export interface PlainError {
  mailgate: boolean;
  init: Omit<MailgateErrorInit, 'cause'>;
  /** The underlying error's name, message and system code (for logs), never its object. */
  cause?: { name?: string; message?: string; code?: string };
  /** The error's stack as the thread saw it (scrubbed), so the log can show where it happened. */
  stack?: string;
}

export function settingsToPlain(s: EmailSettings): PlainSettings {
  const out: PlainSettings = {};
  for (const [k, v] of Object.entries(s)) out[k] = v instanceof Secret ? { secret: v.reveal() } : v;
  return out;
}

export function settingsFromPlain(p: PlainSettings): EmailSettings {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    out[k] = v !== null && typeof v === 'object' && typeof (v as { secret?: unknown }).secret === 'string' ? new Secret((v as { secret: string }).secret) : v;
  }
  return out as unknown as EmailSettings;
}

/**
 * An error as plain data. `scrub` cleans the free texts (messages of the error and its cause,
 * which libraries may fill with what they sent) before they leave the thread.
 */
export function errorToPlain(error: unknown, scrub: (text: string) => string = (t) => t): PlainError {
  const causeOf = (c: unknown) => {
    if (c === undefined || c === null) return undefined;
    const e = c as { name?: unknown; message?: unknown; code?: unknown };
    return { name: typeof e.name === 'string' ? e.name : undefined, message: scrub(typeof e.message === 'string' ? e.message : String(c)), code: typeof e.code === 'string' ? e.code : undefined };
  };
  if (error instanceof MailgateError) {
    return {
      mailgate: true,
      init: { code: error.code, phase: error.phase, message: scrub(error.message), retryable: error.retryable, smtp: error.smtp, token: error.token, graph: error.graph, problems: error.problems, context: error.context },
      cause: causeOf(error.cause),
      ...(error.stack ? { stack: scrub(error.stack) } : {}),
    };
  }
  const message = scrub(error instanceof Error ? error.message : String(error));
  const stack = error instanceof Error && error.stack ? scrub(error.stack) : undefined;
  return { mailgate: false, init: { code: 'INTERNAL', phase: 'send', message }, cause: causeOf(error), ...(stack ? { stack } : {}) };
}

/** The error again, as the worker's retry policy and diagnosis expect it. */
export function errorFromPlain(p: PlainError): MailgateError | Error {
  const cause = p.cause ? Object.assign(new Error(p.cause.message ?? ''), { name: p.cause.name ?? 'Error', code: p.cause.code }) : undefined;
  const error = !p.mailgate
    ? Object.assign(new Error(p.init.message, cause ? { cause } : undefined), cause?.code ? { code: cause.code } : {})
    : new MailgateError({ ...p.init, code: p.init.code as ErrorCode, phase: p.init.phase as Phase, cause });
  // The thread's stack, not this function's: where the error really happened.
  if (p.stack) error.stack = p.stack;
  return error;
}

/** Attachments arrive as Uint8Array; the mailer wants Buffers. */
export function messageFromClone(m: OutboundMessage): OutboundMessage {
  if (m.raw) {
    const c = m.raw.content as Uint8Array;
    return { ...m, raw: { envelope: m.raw.envelope, content: Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength) } };
  }
  if (!m.attachments?.length) return m;
  const attachments: Attachment[] = m.attachments.map((a) => ({
    ...a,
    content: Buffer.isBuffer(a.content) ? a.content : Buffer.from((a.content as Uint8Array).buffer, (a.content as Uint8Array).byteOffset, (a.content as Uint8Array).byteLength),
  }));
  return { ...m, attachments };
}
