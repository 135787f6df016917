/**
 * One delivery attempt of one claimed message, and how its outcome is recorded.
 *
 * Why apart from the loop (worker.ts): this is the state machine of a message
 * (sending → sent | retrying | failed) and the only place that decides between retry and
 * failure, computes the backoff and stores the diagnosis. Every text that came from outside
 * (server replies, error messages, diagnoses) is scrubbed of the send's own secrets before it is
 * stored or logged.
 *
 * Imports: src/core, ../outbox/store, ../outbox/payload, sibling delivery modules.
 */
import { isMailgateError } from '../../core/errors.js';
import { contextFor, learnedFromError } from '../../core/diagnosis/context.js';
import type { Diagnosis, DiagnosisContext } from '../../core/diagnosis/types.js';
import { scrubDeep, scrubText } from '../../core/secret.js';
import type { EmailSettings } from '../../core/settings.js';
import type { Logger } from '../../log/logger.js';
import { decodePayload } from '../outbox/payload.js';
import { StorageFullError, StoreUnavailableError, type AttemptInput, type AttemptOutcome, type ClaimedMessage, type Lease, type OutboxStore } from '../outbox/store.js';
import { retryDelayMs, type BackoffOptions } from './backoff.js';
import type { MailerLease } from './mailer-source.js';
import type { RecipientBudget } from './recipient-budget.js';
import type { Scheduler } from './scheduler.js';
import type { UnrecordedResult } from './unrecorded-results.js';

/** What the retry policy says about an error (core/retry-policy.ts `classifyForRetry`). */
export interface RetryClassification {
  retryable: boolean;
  reason: string;
  minDelayMs?: number;
}

export interface WorkerMetrics {
  attempt(outcome: AttemptOutcome | 'requeued' | 'held', code: string | undefined): void;
  sent(latencyMs: number): void;
}

export interface AttemptDeps {
  store: OutboxStore;
  scheduler: Scheduler;
  logger: Logger;
  classify: (error: unknown) => RetryClassification;
  diagnose?: (error: unknown, ctx: DiagnosisContext) => Diagnosis;
  metrics?: WorkerMetrics;
  /** The secret values of these settings (the ones the send used), for scrubbing what is stored. */
  secrets: (settings: EmailSettings) => string[];
  random: () => number;
  backoff: BackoffOptions;
  budget: RecipientBudget;
  budgetDeferMs: number;
  /**
   * Keep a result the store refused for a reason that clears up, to be written once it answers
   * (the worker's UnrecordedResults); false when it cannot be kept. Absent: nothing is kept.
   */
  keep?: (r: UnrecordedResult) => boolean;
}


/** Fail a message that outlived its maximum age, without sending it. */
export async function expireMessage(d: AttemptDeps, m: ClaimedMessage, now: number): Promise<void> {
  const attempt: AttemptInput = { at: now, outcome: 'expired', code: 'EXPIRED', reply: 'Not delivered within the maximum age (MAILGATE_MAX_AGE_SECONDS); no further attempts.' };
  await record(d, m, 'expired', (lease) => d.store.markFailed(lease, attempt, 'EXPIRED'));
  d.metrics?.attempt('expired', 'EXPIRED');
  d.logger.warn({ messageId: m.id, attempt: m.lease.attempt, code: 'EXPIRED' }, 'message expired before it could be delivered');
}

/** Hooks of one delivery for the loop: give back the rate token, free the connection slot. */
export interface DeliveryHooks {
  /** The message was deferred without being sent: its rate-limit token is not used. */
  untake(): void;
  /** The SMTP part is over (sent, failed or skipped); the connection slot is free again. */
  sendSettled(): void;
  /**
   * The attempt failed permanently with this error code (the loop may pause delivery). `reply`
   * is the server's basic and enhanced code, e.g. `550 5.7.708`, when there was a reply.
   * Returns 'held' when delivery was already paused for this very cause (another message in
   * flight hit it first): the message then goes back to the queue instead of failing.
   */
  failedPermanently?(code: string, diagnosisSummary: string | undefined, reply?: string): 'held' | undefined;
  /** The message was accepted by the server. */
  delivered?(): void;
  /** The message went back to the queue untried and is due now (the loop looks again). */
  requeued?(): void;
}

/**
 * Send one claimed message and record the outcome. The connection slot is freed as soon as the
 * server answered (`hooks.sendSettled`), before the result is committed, so the next message
 * goes out while the bookkeeping shares a commit with others.
 */
export async function deliverMessage(d: AttemptDeps, m: ClaimedMessage, lease: MailerLease, hooks: DeliveryHooks): Promise<void> {
  let settled = false;
  const settle = () => {
    if (!settled) {
      settled = true;
      hooks.sendSettled();
    }
  };
  try {
    await sendAndRecord(d, m, lease, hooks, settle);
  } finally {
    settle();
  }
}

async function sendAndRecord(d: AttemptDeps, m: ClaimedMessage, lease: MailerLease, hooks: DeliveryHooks, settle: () => void): Promise<void> {
  const mailbox = lease.settings.authorizedFrom;
  const started = d.scheduler.now();
  if (!(await d.budget.allows(mailbox, m.recipientCount, started, lease.limits?.dailyRecipients))) {
    hooks.untake();
    settle();
    await d.store.release(m.lease, started + d.budgetDeferMs);
    d.logger.warn({ messageId: m.id, code: 'RECIPIENT_BUDGET' }, 'the 10,000 recipients per 24 h budget of the mailbox is used up; message deferred');
    return;
  }
  let result: Awaited<ReturnType<typeof lease.mailer.send>>;
  try {
    const message = decodePayload(m.payload, m.messageIdHeader);
    // The stored JSON (~11 KB for the benchmark's message) is not needed once decoded, but the
    // claim record lives on until the result is recorded (the worker's bookkeeping holds it):
    // let it go now, so it is not carried through the send and promoted to the old generation
    // with every message in flight (issue 19: memory and GC work per message).
    m.payload = '';
    // Send As: a sender whose From is not its signed-in mailbox puts its address in From
    // (the request's own "Name <address>" when it gave one, already checked at intake).
    if (lease.from && message.from === undefined && !message.raw) message.from = lease.from;
    result = await lease.mailer.send(message);
  } catch (error) {
    settle();
    await recordFailure(d, m, error, lease.settings, hooks);
    return;
  }
  // Exchange has the message. From here on a failure is the store's, never the send's: a sent
  // message must not be recorded as failed (an administrator's retry would send it twice).
  settle();
  const at = d.scheduler.now();
  d.budget.record(mailbox, m.recipientCount);
  const response = scrubText(result.response, d.secrets(lease.settings));
  hooks.delivered?.();
  d.metrics?.attempt('sent', undefined);
  d.metrics?.sent(at - m.createdAt);
  const recorded = await recordSent(d, m, { at, response, mailbox });
  if (recorded === true) d.logger.debug({ messageId: m.id, attempt: m.lease.attempt }, 'message sent');
  else if (recorded === false) d.logger.warn({ messageId: m.id, attempt: m.lease.attempt }, 'message sent but its lease was lost; another worker may send it again (same Message-ID)');
}

/** How often a result the store refused is written again (UnrecordedResults). */
export const RECORD_SENT_RETRY_MS = 1000;

/**
 * Whether a refused write is worth trying again: a full disk (space may be freed), a busy or
 * locked database (the other writer finishes) or an unreachable PostgreSQL (it comes back).
 * Anything else (a bug, a corrupt database) will not clear up by waiting, so it is not retried.
 */
export function isTransientStoreError(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StorageFullError || e instanceof StoreUnavailableError) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code)) return true;
  }
  return false;
}

/**
 * Write one result under the message's claim. When the store refuses for a reason that clears
 * up, the result is kept in memory (unrecorded-results.ts) and written as soon as the store
 * answers, before the worker claims anything new, so the message is not claimed and sent again
 * meanwhile: 'kept'. Other errors propagate.
 */
async function record(d: AttemptDeps, m: ClaimedMessage, outcome: string, write: (lease: Lease) => Promise<boolean>): Promise<boolean | 'kept'> {
  try {
    return await write(m.lease);
  } catch (error) {
    if (!isTransientStoreError(error)) throw error;
    if (d.keep?.({ id: m.id, lease: m.lease, outcome, write })) {
      d.logger.warn({ messageId: m.id, attempt: m.lease.attempt, outcome, err: error }, 'the store could not record a delivery result; it is kept in memory and recorded once the store answers (nothing new is claimed before)');
      return 'kept';
    }
    d.logger.error({ messageId: m.id, attempt: m.lease.attempt, outcome, err: error }, 'the store could not record a delivery result and too many are kept already; when the lease expires the message is tried again (same Message-ID)');
    throw error;
  }
}

/**
 * Record a delivered message as sent. True when recorded, false when the lease was lost,
 * 'kept' when the store refused for now (written later, see `record`), undefined when the
 * store failed otherwise: the lease then expires and the message is sent again with the same
 * Message-ID, which is the at-least-once promise (never lost, never recorded as failed).
 */
async function recordSent(d: AttemptDeps, m: ClaimedMessage, result: { at: number; response: string; mailbox: string }): Promise<boolean | 'kept' | undefined> {
  try {
    return await record(d, m, 'sent', (lease) => d.store.markSent(lease, result));
  } catch (error) {
    if (!isTransientStoreError(error)) d.logger.error({ messageId: m.id, attempt: m.lease.attempt, err: error }, 'message sent but recording its result failed (not retried); when the lease expires it will be sent again (same Message-ID)');
    return undefined;
  }
}

async function recordFailure(d: AttemptDeps, m: ClaimedMessage, error: unknown, settings: EmailSettings, hooks?: DeliveryHooks): Promise<void> {
  const at = d.scheduler.now();
  if (isMailgateError(error) && error.code === 'INTERRUPTED' && error.context.notSent === true) {
    // Mailgate withdrew the message before any byte went out (its pool closed: settings
    // changed, shutdown): not an attempt. It goes back to the queue as it was.
    await d.store.release(m.lease, at);
    d.metrics?.attempt('requeued', error.code);
    d.logger.debug({ messageId: m.id, code: error.code }, 'send withdrawn before it started; message returned to the queue');
    hooks?.requeued?.();
    return;
  }
  const secrets = d.secrets(settings);
  const code = isMailgateError(error) ? error.code : 'INTERNAL';
  const rawReply = isMailgateError(error) ? error.reply ?? error.message : error instanceof Error ? error.message : String(error);
  const reply = scrubText(rawReply, secrets);
  let diagnosis: Diagnosis | undefined;
  try {
    diagnosis = d.diagnose ? scrubDeep(d.diagnose(error, contextFor(settings, learnedFromError(error))), secrets) : undefined;
  } catch (e) {
    d.logger.error({ messageId: m.id, err: e }, 'diagnosis failed');
  }
  const policy = code === 'ARGUMENT_INVALID' ? { retryable: false, reason: 'invalid message' } : d.classify(error);
  // An unexpected error is a bug: its type and stack (scrubbed by the logger) go to the log.
  const log = { messageId: m.id, attempt: m.lease.attempt, code, reply, diagnosisId: diagnosis?.id, ...(code === 'INTERNAL' ? { err: error } : {}) };
  if (policy.retryable) {
    const delay = retryDelayMs(m.lease.attempt, d.backoff, d.random(), policy.minDelayMs);
    // Never schedule past the expiry: the message is then claimed once more and expires.
    const next = Math.min(at + delay, m.expiresAt);
    await record(d, m, 'retry', (l) => d.store.markRetrying(l, { at, outcome: 'retry', reply, code, diagnosis }, next));
    d.metrics?.attempt('retry', code);
    d.logger.warn({ ...log, retryInMs: next - at, reason: policy.reason }, 'transient failure; will retry');
  } else {
    const smtp = isMailgateError(error) ? error.smtp : undefined;
    if (hooks?.failedPermanently?.(code, diagnosis?.summary, smtp ? `${smtp.code} ${smtp.enhanced ?? ''}`.trim() : undefined) === 'held') {
      // One configuration incident fails one message; the others wait with the queue.
      await d.store.release(m.lease, at);
      d.metrics?.attempt('held', code);
      d.logger.warn({ ...log }, 'configuration refused again while delivery is paused for it; message returned to the queue');
      return;
    }
    await record(d, m, 'failed', (l) => d.store.markFailed(l, { at, outcome: 'failed', reply, code, diagnosis }));
    d.metrics?.attempt('failed', code);
    d.logger.error({ ...log, reason: policy.reason }, 'permanent failure; message failed');
  }
}
