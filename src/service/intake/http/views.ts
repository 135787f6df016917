/**
 * JSON views of stored records for API responses: ISO timestamps, explicit nulls for the
 * fields the API documents (`response`, `nextAttemptAt`), no internal columns (lease, seq).
 *
 * Imports: ../../outbox/store types.
 */
import type { AttemptRecord, MessageDetail, MessageRecord } from '../../outbox/store.js';

const iso = (t: number | undefined): string | null => (t === undefined ? null : new Date(t).toISOString());

export function messageView(m: MessageRecord): Record<string, unknown> {
  return {
    id: m.id,
    status: m.status,
    messageId: m.messageIdHeader,
    to: m.toSummary,
    subject: m.subject,
    recipients: m.recipientCount,
    attemptCount: m.attemptCount,
    createdAt: iso(m.createdAt),
    updatedAt: iso(m.updatedAt),
    nextAttemptAt: m.status === 'queued' || m.status === 'retrying' ? iso(m.nextAttemptAt) : null,
    expiresAt: iso(m.expiresAt),
    sentAt: iso(m.sentAt),
    response: m.response ?? null,
    errorCode: m.lastCode ?? null,
    // The sender (From address) it is sent as (issue 16); null for a message queued before any sender was configured.
    sender: m.sender ?? null,
    ...(m.test ? { test: true } : {}),
    // Where it came from: `relay` with the relay client's name (issue 14); absent for the API.
    ...(m.source !== undefined ? { source: 'relay', relayClient: m.source } : {}),
  };
}

export function attemptView(a: AttemptRecord): Record<string, unknown> {
  return { attempt: a.attempt, at: iso(a.at), outcome: a.outcome, reply: a.reply ?? null, code: a.code ?? null, diagnosis: a.diagnosis ?? null };
}

export function messageDetailView(m: MessageDetail): Record<string, unknown> {
  return { ...messageView(m), attempts: m.attempts.map(attemptView) };
}
