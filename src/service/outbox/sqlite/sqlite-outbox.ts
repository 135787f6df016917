/**
 * The outbox half of the SQLite store: enqueue, claim with lease, state changes, listings.
 *
 * Why a separate file: these are the statements the delivery guarantees rest on (claim and
 * lease checks); keeping them together and apart from settings/API keys makes them reviewable.
 * Every write goes through the WriteQueue (group commit); reads run directly on the connection,
 * which between batches never has an open transaction and so sees only committed data.
 *
 * The claim's two queries name their partial indexes (INDEXED BY): without statistics the
 * planner would otherwise pick the status index and sort every queued row on each claim.
 *
 * Claim atomicity: the claim runs inside the queue's `BEGIN IMMEDIATE` transaction, which holds
 * SQLite's single write lock, so two processes can never claim the same row. Every later state
 * change is guarded by `lease_owner = ? AND attempt_count = ? AND status = 'sending'`.
 *
 * Imports: better-sqlite3 types, ../store, ../message-rows.
 */
import type { Database, Statement } from 'better-sqlite3';
import {
  decodeCursor,
  encodeCursor,
  MESSAGE_STATUSES,
  type AttemptInput,
  type ClaimedMessage,
  type ClaimOptions,
  type DeliveryBucket,
  type EnqueueResult,
  type Lease,
  type ListOptions,
  type MessageDetail,
  type MessagePage,
  type MessageRecord,
  type MessageStatus,
  type NewMessage,
  type OutboxStore,
  type RequeueResult,
  type TestMessage,
} from '../store.js';
import type { WriteQueue } from './write-queue.js';
import { RECORD_COLUMNS, toAttempt, toRecord, type AttemptRow, type MessageRow } from '../message-rows.js';

export class SqliteOutbox implements OutboxStore {
  readonly #db: Database;
  readonly #queue: WriteQueue;
  readonly #s: Record<string, Statement>;

  constructor(db: Database, queue: WriteQueue) {
    this.#db = db;
    this.#queue = queue;
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      insert: p(`INSERT INTO messages (id, message_id_header, mailbox, status, to_summary, subject, recipient_count,
        api_key_id, client_idempotency_key, request_hash, created_at, updated_at, next_attempt_at, expires_at, relay_client_id, source, sender)
        VALUES (@id, @messageIdHeader, @mailbox, 'queued', @toSummary, @subject, @recipientCount,
        @apiKeyId, @idempotencyKey, @requestHash, @createdAt, @createdAt, @createdAt, @expiresAt, @relayClientId, @source, @sender)`),
      insertPayload: p(`INSERT INTO message_payloads (seq, payload) VALUES (?, ?)`),
      insertTest: p(`INSERT INTO messages (id, message_id_header, mailbox, status, to_summary, subject, recipient_count, attempt_count,
        created_at, updated_at, expires_at, sent_at, response, last_code, is_test, sender)
        VALUES (@id, @messageIdHeader, @mailbox, @outcome, @toSummary, @subject, 1, 1, @at, @at, @expiresAt, @sentAt, @response, @code, 1, @sender)`),
      payloadOf: p(`SELECT payload FROM message_payloads WHERE seq = ?`),
      // The expression matches the unique index messages_idempotency (0002): '' is "no submitter".
      byKey: p(`SELECT ${RECORD_COLUMNS}, request_hash FROM messages WHERE coalesce(api_key_id, '') = ? AND client_idempotency_key = ?`),
      adopt: p(`UPDATE messages SET api_key_id = ? WHERE seq = ? AND api_key_id IS NULL`),
      byId: p(`SELECT ${RECORD_COLUMNS} FROM messages WHERE id = ?`),
      expiredLeases: p(`SELECT seq, attempt_count FROM messages INDEXED BY messages_leased WHERE status = 'sending' AND lease_expires_at <= ? ORDER BY lease_expires_at LIMIT ?`),
      expiredExcept: p(`SELECT seq, attempt_count FROM messages INDEXED BY messages_leased WHERE status = 'sending' AND lease_expires_at <= ?
        AND coalesce(sender, '') NOT IN (SELECT value FROM json_each(?)) ORDER BY lease_expires_at LIMIT ?`),
      due: p(`SELECT seq FROM messages INDEXED BY messages_due WHERE status IN ('queued', 'retrying') AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?`),
      // The same, skipping the senders whose mailbox cannot take more now (the worker's fairness
      // across senders, issue 16); a message without a sender counts as sender ''.
      dueExcept: p(`SELECT seq FROM messages INDEXED BY messages_due WHERE status IN ('queued', 'retrying') AND next_attempt_at <= ?
        AND coalesce(sender, '') NOT IN (SELECT value FROM json_each(?)) ORDER BY next_attempt_at, seq LIMIT ?`),
      claimOne: p(`UPDATE messages SET status = 'sending', lease_owner = @owner, lease_expires_at = @leaseUntil,
        attempt_count = attempt_count + 1, next_attempt_at = NULL, updated_at = @now WHERE seq = @seq
        RETURNING seq, id, message_id_header, mailbox, sender, recipient_count, created_at, expires_at, attempt_count`),
      insertAttempt: p(`INSERT OR REPLACE INTO attempts (message_seq, attempt, at, outcome, reply, code, diagnosis)
        VALUES (@seq, @attempt, @at, @outcome, @reply, @code, @diagnosis)`),
      seqOfLease: p(`SELECT seq FROM messages WHERE id = ? AND lease_owner = ? AND attempt_count = ? AND status = 'sending'`),
      renew: p(`UPDATE messages SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? AND status = 'sending'`),
      sent: p(`UPDATE messages SET status = 'sent', sent_at = @at, response = @response, mailbox = @mailbox, updated_at = @at,
        lease_owner = NULL, lease_expires_at = NULL, last_code = NULL WHERE seq = @seq`),
      retrying: p(`UPDATE messages SET status = 'retrying', next_attempt_at = @next, last_code = @code, updated_at = @at,
        lease_owner = NULL, lease_expires_at = NULL WHERE seq = @seq`),
      failed: p(`UPDATE messages SET status = 'failed', last_code = @code, updated_at = @at, next_attempt_at = NULL,
        lease_owner = NULL, lease_expires_at = NULL WHERE seq = @seq`),
      release: p(`UPDATE messages SET status = CASE WHEN attempt_count > 1 THEN 'retrying' ELSE 'queued' END,
        attempt_count = attempt_count - 1, next_attempt_at = @next, lease_owner = NULL, lease_expires_at = NULL WHERE seq = @seq`),
      requeue: p(`UPDATE messages SET status = 'queued', next_attempt_at = @now, updated_at = @now, expires_at = max(expires_at, @expiresAt),
        lease_owner = NULL, lease_expires_at = NULL WHERE id = @id AND status = 'failed'`),
      attemptsOf: p(`SELECT attempt, at, outcome, reply, code, diagnosis FROM attempts
        WHERE message_seq = (SELECT seq FROM messages WHERE id = ?) ORDER BY attempt`),
      counts: p(`SELECT status, count(*) AS n FROM messages GROUP BY status`),
      recipients: p(`SELECT coalesce(sum(recipient_count), 0) AS n FROM messages WHERE mailbox = ? AND status = 'sent' AND sent_at >= ?`),
      histogram: p(`SELECT status, CAST((updated_at - @since) / @bucket AS INTEGER) AS b, count(*) AS n FROM messages INDEXED BY messages_updated
        WHERE status IN ('sent', 'failed') AND updated_at >= @since GROUP BY status, b`),
    };
  }

  enqueue(m: NewMessage): Promise<EnqueueResult> {
    return this.#queue.write(() => {
      if (m.idempotencyKey !== undefined) {
        const existing = this.#s.byKey.get(m.apiKeyId ?? '', m.idempotencyKey) as MessageRow | undefined;
        if (existing) {
          const outcome = existing.request_hash === (m.requestHash ?? null) ? 'duplicate' : 'conflict';
          return { outcome, message: toRecord(existing) } as EnqueueResult;
        }
        if (m.apiKeyId !== undefined) {
          // Messages accepted before idempotency keys were scoped (migration 0002) have no
          // submitter. The same key with the same request is the client retrying across the
          // upgrade: the original message. With a different request it is most likely another
          // application that happened to pick the same string: a new message, in its own scope
          // (the collision this scoping exists to end), never a 409 about someone else's message.
          // The retrying key adopts the message, so it can read what it was just told about.
          const legacy = this.#s.byKey.get('', m.idempotencyKey) as MessageRow | undefined;
          if (legacy && legacy.request_hash === (m.requestHash ?? null)) {
            this.#s.adopt.run(m.apiKeyId, legacy.seq);
            return { outcome: 'duplicate', message: toRecord({ ...legacy, api_key_id: m.apiKeyId }) } as EnqueueResult;
          }
        }
      }
      const { lastInsertRowid } = this.#s.insert.run({ ...m, apiKeyId: m.apiKeyId ?? null, idempotencyKey: m.idempotencyKey ?? null, requestHash: m.requestHash ?? null, relayClientId: m.relayClientId ?? null, source: m.source ?? null, sender: m.sender ?? null });
      this.#s.insertPayload.run(lastInsertRowid, m.payload);
      const rec: MessageRecord = {
        id: m.id,
        messageIdHeader: m.messageIdHeader,
        mailbox: m.mailbox,
        ...(m.sender !== undefined ? { sender: m.sender } : {}),
        status: 'queued',
        toSummary: m.toSummary,
        subject: m.subject,
        recipientCount: m.recipientCount,
        attemptCount: 0,
        ...(m.apiKeyId !== undefined ? { apiKeyId: m.apiKeyId } : {}),
        ...(m.relayClientId !== undefined ? { relayClientId: m.relayClientId } : {}),
        ...(m.source !== undefined ? { source: m.source } : {}),
        createdAt: m.createdAt,
        updatedAt: m.createdAt,
        nextAttemptAt: m.createdAt,
        expiresAt: m.expiresAt,
      };
      return { outcome: 'created', message: rec } as EnqueueResult;
    });
  }

  claim(o: ClaimOptions): Promise<ClaimedMessage[]> {
    // Committed before anything is sent (other workers must see the lease), but bookkeeping:
    // after a power loss a lost claim only means the message is claimed again.
    return this.#queue.write(() => {
      const out: ClaimedMessage[] = [];
      const leaseUntil = o.now + o.leaseMs;
      const take = (seq: number, reclaimed: boolean) => {
        const r = this.#s.claimOne.get({ seq, owner: o.owner, leaseUntil, now: o.now }) as {
          seq: number; id: string; message_id_header: string; mailbox: string; sender: string | null; recipient_count: number;
          created_at: number; expires_at: number; attempt_count: number;
        };
        const { payload } = this.#s.payloadOf.get(r.seq) as { payload: string };
        out.push({
          id: r.id,
          messageIdHeader: r.message_id_header,
          mailbox: r.mailbox,
          ...(r.sender !== null ? { sender: r.sender } : {}),
          payload,
          recipientCount: r.recipient_count,
          createdAt: r.created_at,
          expiresAt: r.expires_at,
          lease: { id: r.id, owner: o.owner, attempt: r.attempt_count },
          leaseExpiresAt: leaseUntil,
          reclaimed,
        });
      };
      // The excluded senders' expired leases are left too (ClaimOptions.excludeSenders).
      const expired = (o.excludeSenders?.length
        ? this.#s.expiredExcept.all(o.now, JSON.stringify(o.excludeSenders), o.limit)
        : this.#s.expiredLeases.all(o.now, o.limit)) as { seq: number; attempt_count: number }[];
      for (const e of expired) {
        this.#s.insertAttempt.run({
          seq: e.seq, attempt: e.attempt_count, at: o.now, outcome: 'interrupted',
          reply: null, code: 'LEASE_EXPIRED', diagnosis: null,
        });
        take(e.seq, true);
      }
      if (out.length < o.limit) {
        const due = (o.excludeSenders?.length
          ? this.#s.dueExcept.all(o.now, JSON.stringify(o.excludeSenders), o.limit - out.length)
          : this.#s.due.all(o.now, o.limit - out.length)) as { seq: number }[];
        for (const d of due) take(d.seq, false);
      }
      return out;
    }, { durable: false });
  }

  renewLeases(owner: string, ids: string[], leaseExpiresAt: number): Promise<string[]> {
    if (!ids.length) return Promise.resolve([]);
    return this.#queue.write(() => ids.filter((id) => this.#s.renew.run(leaseExpiresAt, id, owner).changes === 1), { lazy: true, durable: false });
  }

  /** State changes after a claim are bookkeeping: lazy writes that share commits. */
  #withLease(lease: Lease, fn: (seq: number) => void): Promise<boolean> {
    return this.#queue.write(() => {
      const row = this.#s.seqOfLease.get(lease.id, lease.owner, lease.attempt) as { seq: number } | undefined;
      if (!row) return false;
      fn(row.seq);
      return true;
    }, { lazy: true, durable: false });
  }

  #recordAttempt(seq: number, attempt: number, a: AttemptInput): void {
    this.#s.insertAttempt.run({
      seq, attempt, at: a.at, outcome: a.outcome, reply: a.reply ?? null, code: a.code ?? null,
      diagnosis: a.diagnosis === undefined ? null : JSON.stringify(a.diagnosis),
    });
  }

  markSent(lease: Lease, result: { at: number; response: string; mailbox: string }): Promise<boolean> {
    return this.#withLease(lease, (seq) => {
      this.#recordAttempt(seq, lease.attempt, { at: result.at, outcome: 'sent', reply: result.response });
      this.#s.sent.run({ seq, at: result.at, response: result.response, mailbox: result.mailbox });
    });
  }

  markRetrying(lease: Lease, attempt: AttemptInput, nextAttemptAt: number): Promise<boolean> {
    return this.#withLease(lease, (seq) => {
      this.#recordAttempt(seq, lease.attempt, attempt);
      this.#s.retrying.run({ seq, next: nextAttemptAt, code: attempt.code ?? null, at: attempt.at });
    });
  }

  markFailed(lease: Lease, attempt: AttemptInput, code?: string): Promise<boolean> {
    return this.#withLease(lease, (seq) => {
      this.#recordAttempt(seq, lease.attempt, attempt);
      this.#s.failed.run({ seq, code: code ?? attempt.code ?? null, at: attempt.at });
    });
  }

  release(lease: Lease, nextAttemptAt: number): Promise<boolean> {
    return this.#withLease(lease, (seq) => {
      this.#s.release.run({ seq, next: nextAttemptAt });
    });
  }

  requeue(id: string, now: number, expiresAt: number): Promise<RequeueResult> {
    return this.#queue.write(() => {
      const changed = this.#s.requeue.run({ id, now, expiresAt }).changes === 1;
      const row = this.#s.byId.get(id) as MessageRow | undefined;
      if (!row) return { outcome: 'not-found' } as RequeueResult;
      return { outcome: changed ? 'requeued' : 'not-failed', message: toRecord(row) } as RequeueResult;
    });
  }

  recordTest(m: TestMessage): Promise<void> {
    return this.#queue.write(() => {
      const sent = m.outcome === 'sent';
      const { lastInsertRowid } = this.#s.insertTest.run({
        id: m.id,
        messageIdHeader: m.messageIdHeader,
        mailbox: m.mailbox,
        outcome: m.outcome,
        toSummary: m.toSummary,
        subject: m.subject,
        at: m.at,
        expiresAt: m.expiresAt,
        sentAt: sent ? m.at : null,
        response: sent ? m.response ?? null : null,
        code: sent ? null : m.code ?? null,
        sender: m.sender ?? null,
      });
      this.#s.insertPayload.run(lastInsertRowid, m.payload);
      this.#s.insertAttempt.run({
        seq: lastInsertRowid,
        attempt: 1,
        at: m.at,
        outcome: m.outcome,
        reply: (sent ? m.response : m.reply) ?? null,
        code: sent ? null : m.code ?? null,
        diagnosis: m.diagnosis ? JSON.stringify(m.diagnosis) : null,
      });
    });
  }

  async get(id: string): Promise<MessageDetail | undefined> {
    const row = this.#s.byId.get(id) as MessageRow | undefined;
    if (!row) return undefined;
    const attempts = (this.#s.attemptsOf.all(id) as AttemptRow[]).map(toAttempt);
    return { ...toRecord(row), attempts };
  }

  async list(o: ListOptions): Promise<MessagePage> {
    const limit = Math.max(1, Math.min(200, Math.floor(o.limit)));
    const after = o.cursor === undefined ? undefined : Number(decodeCursor(o.cursor));
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (o.status) {
      where.push('status = ?');
      args.push(o.status);
    }
    if (o.apiKeyId !== undefined) {
      where.push('api_key_id = ?');
      args.push(o.apiKeyId);
    }
    if (o.sender !== undefined) {
      where.push('sender = ?');
      args.push(o.sender.toLowerCase());
    }
    if (after !== undefined && Number.isFinite(after)) {
      where.push('seq < ?');
      args.push(after);
    }
    const sql = `SELECT ${RECORD_COLUMNS} FROM messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    const rows = this.#db.prepare(sql).all(...args, limit + 1) as MessageRow[];
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const result: MessagePage = { items: page.map(toRecord) };
    if (more) result.nextCursor = encodeCursor(page[page.length - 1].seq);
    return result;
  }

  async countByStatus(): Promise<Record<MessageStatus, number>> {
    const out = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<MessageStatus, number>;
    for (const r of this.#s.counts.all() as { status: MessageStatus; n: number }[]) out[r.status] = r.n;
    return out;
  }

  async recipientsSentSince(mailbox: string, since: number): Promise<number> {
    return (this.#s.recipients.get(mailbox, since) as { n: number }).n;
  }

  async deliveryHistogram(since: number, bucketMs: number): Promise<DeliveryBucket[]> {
    const buckets = new Map<number, DeliveryBucket>();
    const rows = this.#s.histogram.all({ since, bucket: Math.max(1, Math.floor(bucketMs)) }) as { status: 'sent' | 'failed'; b: number; n: number }[];
    for (const r of rows) {
      const start = since + r.b * bucketMs;
      const b = buckets.get(start) ?? { start, sent: 0, failed: 0 };
      b[r.status] += r.n;
      buckets.set(start, b);
    }
    return [...buckets.values()].sort((a, b) => a.start - b.start);
  }
}
