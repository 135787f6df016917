/**
 * The outbox's application service: accepting a parsed submission into the store (stable
 * Message-ID, expiry, idempotency) and the admin retry of a failed message.
 *
 * Why: the HTTP route, the admin page and tests all submit the same way; the Message-ID is
 * generated here, once, at enqueue, so every attempt (and a duplicate after a crash) carries
 * the same one. Its domain is the Authorized from Address's domain when known, else
 * `mailgate`.
 *
 * Imports: ./message-ids, ./store, ../intake/message-request, ./payload.
 */
import type { EmailSettings } from '../../core/settings.js';
import type { ParsedMessageRequest } from '../intake/message-request.js';
import { newMessageId } from './message-ids.js';
import { encodePayload, encodeRawPayload } from './payload.js';
import type { EnqueueResult, ConfigStore, OutboxStore, RequeueResult } from './store.js';

export interface OutboxDeps {
  store: OutboxStore & Pick<ConfigStore, 'appendAudit'>;
  now: () => number;
  /** Current valid settings (for the mailbox and the Message-ID domain), if any. */
  settings: () => EmailSettings | undefined;
  /** Messages older than this are failed with EXPIRED instead of sent. */
  maxAgeMs: number;
  /** Called after a message was committed (wakes the worker). */
  onEnqueued?: () => void;
  /** A failed message was queued again by an administrator (who has presumably fixed the cause). */
  onRetried?: () => void;
}

export interface Outbox {
  /**
   * `submitter.apiKeyId`: the API key submitting (scopes the idempotency key, owns the message).
   * `submitter.sender`: the sender chosen for it (core/senders.ts chooseSender); absent: the
   * Email Settings' Authorized from Address.
   */
  submit(request: ParsedMessageRequest, submitter?: { apiKeyId?: string; sender?: { address: string; signInAs: string } }): Promise<EnqueueResult>;
  /**
   * Accept a relayed message (the SMTP relay): stored as received, with the client's envelope;
   * resolves once committed durably (the relay answers 250 only then).
   */
  submitRaw(m: RawSubmission): Promise<EnqueueResult>;
  /** Queue a failed message again; the retry is audited under `actor` (e.g. `admin`, `api-key:NAME`). */
  retry(id: string, actor: string): Promise<RequeueResult>;
}

export interface RawSubmission {
  /** API id (UUID), chosen by the relay (it names it in `250 ... queued as <id>`). */
  id: string;
  /** The Message-ID header the message carries (its own, or the one the relay added). */
  messageIdHeader: string;
  content: Buffer;
  envelope: { from: string; to: string[] };
  subject: string;
  relayClientId: string;
  /** The relay client's name (the delivery log's source). */
  source: string;
  /** The sender it is sent as (the envelope sender the relay accepted), when known. */
  sender?: { address: string; signInAs: string };
}

export function messageIdFor(id: string, authorizedFrom: string | undefined): string {
  const domain = authorizedFrom?.split('@')[1]?.replace(/[^A-Za-z0-9.-]/g, '');
  return `<${id}@${domain || 'mailgate'}>`;
}

export function createOutbox(d: OutboxDeps): Outbox {
  return {
    async submit(r, submitter = {}) {
      const now = d.now();
      const id = newMessageId(now);
      const from = submitter.sender?.address ?? d.settings()?.authorizedFrom;
      const result = await d.store.enqueue({
        id,
        messageIdHeader: messageIdFor(id, from),
        mailbox: submitter.sender?.signInAs ?? from ?? '',
        ...(submitter.sender ? { sender: submitter.sender.address.toLowerCase() } : {}),
        payload: r.payloadJson ?? encodePayload(r.payload),
        toSummary: r.payload.to.join(', ').slice(0, 500),
        subject: r.payload.subject.slice(0, 500),
        recipientCount: r.recipientCount,
        ...(submitter.apiKeyId !== undefined ? { apiKeyId: submitter.apiKeyId } : {}),
        idempotencyKey: r.idempotencyKey,
        requestHash: r.requestHash,
        createdAt: now,
        expiresAt: now + d.maxAgeMs,
      });
      if (result.outcome === 'created') d.onEnqueued?.();
      return result;
    },
    async submitRaw(m) {
      const now = d.now();
      const result = await d.store.enqueue({
        id: m.id,
        messageIdHeader: m.messageIdHeader,
        mailbox: m.sender?.signInAs ?? d.settings()?.authorizedFrom ?? '',
        ...(m.sender ? { sender: m.sender.address.toLowerCase() } : {}),
        payload: encodeRawPayload({ envelope: m.envelope, subject: m.subject, content: m.content }),
        toSummary: m.envelope.to.join(', ').slice(0, 500),
        subject: m.subject.slice(0, 500),
        recipientCount: m.envelope.to.length,
        relayClientId: m.relayClientId,
        source: m.source,
        createdAt: now,
        expiresAt: now + d.maxAgeMs,
      });
      if (result.outcome === 'created') d.onEnqueued?.();
      return result;
    },
    async retry(id, actor) {
      const now = d.now();
      const r = await d.store.requeue(id, now, now + d.maxAgeMs);
      if (r.outcome === 'requeued') {
        await d.store.appendAudit({ at: now, actor, action: 'message.retry', detail: { id: r.message.id } });
        (d.onRetried ?? d.onEnqueued)?.();
      }
      return r;
    },
  };
}
