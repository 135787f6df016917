/**
 * The outbox half of the PostgreSQL store: enqueue, claim with lease, state changes, listings.
 *
 * Why a separate file: the statements the delivery guarantees rest on, as in sqlite-outbox.ts,
 * whose behaviour this file matches statement for statement (the Store contract suite runs
 * against both).
 *
 * Claim atomicity across instances: the claim selects its rows `FOR UPDATE SKIP LOCKED` inside
 * one transaction, so two instances claiming at once take disjoint rows without waiting on each
 * other; every later state change names its lease (`lease_owner`, `attempt_count`,
 * status 'sending') in the UPDATE's WHERE, so a worker whose lease was taken over changes nothing.
 *
 * Enqueue is one statement (INSERT message + payload in a CTE) committed with
 * synchronous_commit on: when the 202 leaves, the message is on disk (and on synchronous
 * standbys, if the operator configured any). Idempotency: the unique index on
 * (submitter, key) decides between concurrent enqueues (ON CONFLICT DO NOTHING, then the
 * winner's row is read).
 *
 * Imports: ../store, ../message-rows, ./pg-db.
 */
import type { PoolClient } from 'pg';
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
  type MessageStatus,
  type NewMessage,
  type OutboxStore,
  type RequeueResult,
  type TestMessage,
} from '../store.js';
import type { PgDb } from './pg-db.js';
import { RECORD_COLUMNS, toAttempt, toRecord, type AttemptRow, type MessageRow } from '../message-rows.js';

const DURABLE = { durable: true };
const BOOKKEEPING = { durable: false };

const UPSERT_ATTEMPT = `INSERT INTO attempts (message_seq, attempt, at, outcome, reply, code, diagnosis)`;
const ON_ATTEMPT_CONFLICT = `ON CONFLICT (message_seq, attempt) DO UPDATE SET at = excluded.at, outcome = excluded.outcome,
  reply = excluded.reply, code = excluded.code, diagnosis = excluded.diagnosis`;

const INSERT_MESSAGE = `WITH m AS (
  INSERT INTO messages (id, message_id_header, mailbox, status, to_summary, subject, recipient_count,
    api_key_id, client_idempotency_key, request_hash, created_at, updated_at, next_attempt_at, expires_at, relay_client_id, source, sender)
  VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $10, $10, $11, $12, $13, $15)
  ON CONFLICT DO NOTHING RETURNING seq)
INSERT INTO message_payloads (seq, payload) SELECT seq, $14 FROM m RETURNING seq`;

export class PgOutbox implements OutboxStore {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async #byKey(c: PoolClient, scope: string, key: string): Promise<MessageRow | undefined> {
    const r = await c.query<MessageRow>(`SELECT ${RECORD_COLUMNS}, request_hash FROM messages WHERE coalesce(api_key_id, '') = $1 AND client_idempotency_key = $2`, [scope, key]);
    return r.rows[0];
  }

  async enqueue(m: NewMessage): Promise<EnqueueResult> {
    const params = [
      m.id, m.messageIdHeader, m.mailbox, m.toSummary, m.subject, m.recipientCount,
      m.apiKeyId ?? null, m.idempotencyKey ?? null, m.requestHash ?? null, m.createdAt, m.expiresAt,
      m.relayClientId ?? null, m.source ?? null, m.payload, m.sender ?? null,
    ];
    const created = (): EnqueueResult => ({
      outcome: 'created',
      message: {
        id: m.id,
        messageIdHeader: m.messageIdHeader,
        mailbox: m.mailbox,
        status: 'queued',
        toSummary: m.toSummary,
        subject: m.subject,
        recipientCount: m.recipientCount,
        attemptCount: 0,
        ...(m.apiKeyId !== undefined ? { apiKeyId: m.apiKeyId } : {}),
        ...(m.relayClientId !== undefined ? { relayClientId: m.relayClientId } : {}),
        ...(m.source !== undefined ? { source: m.source } : {}),
        ...(m.sender !== undefined ? { sender: m.sender } : {}),
        createdAt: m.createdAt,
        updatedAt: m.createdAt,
        nextAttemptAt: m.createdAt,
        expiresAt: m.expiresAt,
      },
    });
    if (m.idempotencyKey === undefined) {
      // The common case: one statement, one durable commit. A conflict here can only be the id
      // (a UUID): report it rather than pretend.
      const r = await this.#db.query(INSERT_MESSAGE, params, DURABLE);
      if (r.rowCount !== 1) throw new Error(`message id ${m.id} already exists`);
      return created();
    }
    const key = m.idempotencyKey;
    const scope = m.apiKeyId ?? '';
    const known = (row: MessageRow): EnqueueResult =>
      ({ outcome: row.request_hash === (m.requestHash ?? null) ? 'duplicate' : 'conflict', message: toRecord(row) }) as EnqueueResult;
    return this.#db.tx(async (c) => {
      const existing = await this.#byKey(c, scope, key);
      if (existing) return known(existing);
      if (m.apiKeyId !== undefined) {
        // The legacy "no submitter" scope (see sqlite-outbox.ts: a retry across the 0002 upgrade).
        const legacy = await this.#byKey(c, '', key);
        if (legacy && legacy.request_hash === (m.requestHash ?? null)) {
          await c.query('UPDATE messages SET api_key_id = $1 WHERE seq = $2 AND api_key_id IS NULL', [m.apiKeyId, legacy.seq]);
          return { outcome: 'duplicate', message: toRecord({ ...legacy, api_key_id: m.apiKeyId }) } as EnqueueResult;
        }
      }
      const r = await c.query(INSERT_MESSAGE, params);
      if (r.rowCount === 1) return created();
      // A concurrent enqueue with the same key committed first (ON CONFLICT waited for it).
      const winner = await this.#byKey(c, scope, key);
      if (!winner) throw new Error(`message id ${m.id} already exists`);
      return known(winner);
    }, DURABLE);
  }

  claim(o: ClaimOptions): Promise<ClaimedMessage[]> {
    const leaseUntil = o.now + o.leaseMs;
    return this.#db.tx(async (c) => {
      const expired = (await c.query<{ seq: number; attempt_count: number }>(
        `SELECT seq, attempt_count FROM messages WHERE status = 'sending' AND lease_expires_at <= $1
         ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`, [o.now, o.limit])).rows;
      if (expired.length) {
        await c.query(
          `${UPSERT_ATTEMPT} SELECT s, a, $3::bigint, 'interrupted', NULL, 'LEASE_EXPIRED', NULL FROM unnest($1::bigint[], $2::int[]) AS t(s, a) ${ON_ATTEMPT_CONFLICT}`,
          [expired.map((e) => e.seq), expired.map((e) => e.attempt_count), o.now],
        );
      }
      let due: { seq: number }[] = [];
      if (expired.length < o.limit) {
        // With excludeSenders: skip the senders whose mailbox cannot take more in this worker (the
        // worker's fairness across senders, issue 16); a message without a sender counts as ''.
        due = (o.excludeSenders?.length
          ? await c.query<{ seq: number }>(
            `SELECT seq FROM messages WHERE status IN ('queued', 'retrying') AND next_attempt_at <= $1
             AND coalesce(sender, '') <> ALL($3::text[])
             ORDER BY next_attempt_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED`, [o.now, o.limit - expired.length, o.excludeSenders])
          : await c.query<{ seq: number }>(
            `SELECT seq FROM messages WHERE status IN ('queued', 'retrying') AND next_attempt_at <= $1
             ORDER BY next_attempt_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED`, [o.now, o.limit - expired.length])).rows;
      }
      const order = [...expired.map((e) => e.seq), ...due.map((d) => d.seq)];
      if (!order.length) return [];
      const rows = (await c.query<{ seq: number; id: string; message_id_header: string; mailbox: string; sender: string | null; recipient_count: number; created_at: number; expires_at: number; attempt_count: number; payload: string }>(
        `WITH u AS (UPDATE messages SET status = 'sending', lease_owner = $2, lease_expires_at = $3,
           attempt_count = attempt_count + 1, next_attempt_at = NULL, updated_at = $4 WHERE seq = ANY($1::bigint[])
           RETURNING seq, id, message_id_header, mailbox, sender, recipient_count, created_at, expires_at, attempt_count)
         SELECT u.*, p.payload FROM u JOIN message_payloads p ON p.seq = u.seq`, [order, o.owner, leaseUntil, o.now])).rows;
      const bySeq = new Map(rows.map((r) => [r.seq, r]));
      const reclaimed = new Set(expired.map((e) => e.seq));
      return order.map((seq) => {
        const r = bySeq.get(seq)!;
        return {
          id: r.id,
          messageIdHeader: r.message_id_header,
          mailbox: r.mailbox,
          ...(r.sender !== null ? { sender: r.sender } : {}),
          payload: r.payload,
          recipientCount: r.recipient_count,
          createdAt: r.created_at,
          expiresAt: r.expires_at,
          lease: { id: r.id, owner: o.owner, attempt: r.attempt_count },
          leaseExpiresAt: leaseUntil,
          reclaimed: reclaimed.has(seq),
        };
      });
    }, BOOKKEEPING);
  }

  async renewLeases(owner: string, ids: string[], leaseExpiresAt: number): Promise<string[]> {
    if (!ids.length) return [];
    const r = await this.#db.query<{ id: string }>(
      `UPDATE messages SET lease_expires_at = $1 WHERE id = ANY($2::text[]) AND lease_owner = $3 AND status = 'sending' RETURNING id`,
      [leaseExpiresAt, ids, owner], BOOKKEEPING);
    const held = new Set(r.rows.map((x) => x.id));
    return ids.filter((id) => held.has(id));
  }

  /**
   * One statement: the UPDATE guarded by the lease, and the attempt row only when it matched.
   * `set` is the SET list ($1..$3 are the lease; further parameters follow).
   */
  async #withLease(lease: Lease, set: string, params: unknown[], attempt?: AttemptInput): Promise<boolean> {
    const update = `UPDATE messages SET ${set} WHERE id = $1 AND lease_owner = $2 AND attempt_count = $3 AND status = 'sending' RETURNING seq`;
    const base = [lease.id, lease.owner, lease.attempt, ...params];
    if (!attempt) {
      return (await this.#db.query(update, base, BOOKKEEPING)).rowCount === 1;
    }
    const n = base.length;
    const sql = `WITH m AS (${update}) ${UPSERT_ATTEMPT} SELECT seq, $3::int, $${n + 1}::bigint, $${n + 2}::text, $${n + 3}::text, $${n + 4}::text, $${n + 5}::text FROM m ${ON_ATTEMPT_CONFLICT} RETURNING message_seq`;
    const r = await this.#db.query(sql, [...base, attempt.at, attempt.outcome, attempt.reply ?? null, attempt.code ?? null,
      attempt.diagnosis === undefined ? null : JSON.stringify(attempt.diagnosis)], BOOKKEEPING);
    return r.rowCount === 1;
  }

  markSent(lease: Lease, result: { at: number; response: string; mailbox: string }): Promise<boolean> {
    return this.#withLease(lease,
      `status = 'sent', sent_at = $4, response = $5, mailbox = $6, updated_at = $4, lease_owner = NULL, lease_expires_at = NULL, last_code = NULL`,
      [result.at, result.response, result.mailbox], { at: result.at, outcome: 'sent', reply: result.response });
  }

  markRetrying(lease: Lease, attempt: AttemptInput, nextAttemptAt: number): Promise<boolean> {
    return this.#withLease(lease,
      `status = 'retrying', next_attempt_at = $4, last_code = $5, updated_at = $6, lease_owner = NULL, lease_expires_at = NULL`,
      [nextAttemptAt, attempt.code ?? null, attempt.at], attempt);
  }

  markFailed(lease: Lease, attempt: AttemptInput, code?: string): Promise<boolean> {
    return this.#withLease(lease,
      `status = 'failed', last_code = $4, updated_at = $5, next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL`,
      [code ?? attempt.code ?? null, attempt.at], attempt);
  }

  release(lease: Lease, nextAttemptAt: number): Promise<boolean> {
    return this.#withLease(lease,
      `status = CASE WHEN attempt_count > 1 THEN 'retrying' ELSE 'queued' END, attempt_count = attempt_count - 1,
       next_attempt_at = $4, lease_owner = NULL, lease_expires_at = NULL`,
      [nextAttemptAt]);
  }

  requeue(id: string, now: number, expiresAt: number): Promise<RequeueResult> {
    return this.#db.tx(async (c) => {
      const changed = (await c.query(`UPDATE messages SET status = 'queued', next_attempt_at = $2, updated_at = $2, expires_at = greatest(expires_at, $3),
        lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND status = 'failed'`, [id, now, expiresAt])).rowCount === 1;
      const row = (await c.query<MessageRow>(`SELECT ${RECORD_COLUMNS} FROM messages WHERE id = $1`, [id])).rows[0];
      if (!row) return { outcome: 'not-found' } as RequeueResult;
      // The instance that owns the mailbox's delivery may be paused: tell every instance (delivered at commit).
      if (changed) await c.query(`SELECT pg_notify('mailgate_config', 'retry')`);
      return { outcome: changed ? 'requeued' : 'not-failed', message: toRecord(row) } as RequeueResult;
    }, DURABLE);
  }

  async recordTest(m: TestMessage): Promise<void> {
    const sent = m.outcome === 'sent';
    await this.#db.query(
      `WITH m AS (INSERT INTO messages (id, message_id_header, mailbox, status, to_summary, subject, recipient_count, attempt_count,
         created_at, updated_at, expires_at, sent_at, response, last_code, is_test, sender)
         VALUES ($1, $2, $3, $4, $5, $6, 1, 1, $7, $7, $8, $9, $10, $11, true, $15) RETURNING seq),
       p AS (INSERT INTO message_payloads (seq, payload) SELECT seq, $12 FROM m)
       ${UPSERT_ATTEMPT} SELECT seq, 1, $7::bigint, $4::text, $13::text, $11::text, $14::text FROM m`,
      [m.id, m.messageIdHeader, m.mailbox, m.outcome, m.toSummary, m.subject, m.at, m.expiresAt,
        sent ? m.at : null, sent ? m.response ?? null : null, sent ? null : m.code ?? null, m.payload,
        (sent ? m.response : m.reply) ?? null, m.diagnosis ? JSON.stringify(m.diagnosis) : null, m.sender ?? null],
      DURABLE,
    );
  }

  async get(id: string): Promise<MessageDetail | undefined> {
    const row = (await this.#db.query<MessageRow>(`SELECT ${RECORD_COLUMNS} FROM messages WHERE id = $1`, [id])).rows[0];
    if (!row) return undefined;
    const attempts = (await this.#db.query<AttemptRow>(`SELECT attempt, at, outcome, reply, code, diagnosis FROM attempts WHERE message_seq = $1 ORDER BY attempt`, [row.seq])).rows.map(toAttempt);
    return { ...toRecord(row), attempts };
  }

  async list(o: ListOptions): Promise<MessagePage> {
    const limit = Math.max(1, Math.min(200, Math.floor(o.limit)));
    const after = o.cursor === undefined ? undefined : Number(decodeCursor(o.cursor));
    const where: string[] = [];
    const args: (string | number)[] = [];
    const arg = (v: string | number) => {
      args.push(v);
      return `$${args.length}`;
    };
    if (o.status) where.push(`status = ${arg(o.status)}`);
    if (o.apiKeyId !== undefined) where.push(`api_key_id = ${arg(o.apiKeyId)}`);
    if (o.sender !== undefined) where.push(`sender = ${arg(o.sender.toLowerCase())}`);
    if (after !== undefined && Number.isFinite(after)) where.push(`seq < ${arg(after)}`);
    const sql = `SELECT ${RECORD_COLUMNS} FROM messages ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${arg(limit + 1)}`;
    const rows = (await this.#db.query<MessageRow>(sql, args)).rows;
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const result: MessagePage = { items: page.map(toRecord) };
    if (more) result.nextCursor = encodeCursor(page[page.length - 1].seq);
    return result;
  }

  async countByStatus(): Promise<Record<MessageStatus, number>> {
    const out = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<MessageStatus, number>;
    for (const r of (await this.#db.query<{ status: MessageStatus; n: number }>(`SELECT status, count(*) AS n FROM messages GROUP BY status`)).rows) out[r.status] = r.n;
    return out;
  }

  async recipientsSentSince(mailbox: string, since: number): Promise<number> {
    const r = await this.#db.query<{ n: number }>(`SELECT coalesce(sum(recipient_count), 0)::bigint AS n FROM messages WHERE mailbox = $1 AND status = 'sent' AND sent_at >= $2`, [mailbox, since]);
    return r.rows[0].n;
  }

  async deliveryHistogram(since: number, bucketMs: number): Promise<DeliveryBucket[]> {
    const bucket = Math.max(1, Math.floor(bucketMs));
    const rows = (await this.#db.query<{ status: 'sent' | 'failed'; b: number; n: number }>(
      `SELECT status, ((updated_at - $1) / $2)::bigint AS b, count(*) AS n FROM messages
       WHERE status IN ('sent', 'failed') AND updated_at >= $1 GROUP BY status, b`, [since, bucket])).rows;
    const buckets = new Map<number, DeliveryBucket>();
    for (const r of rows) {
      const start = since + r.b * bucketMs;
      const b = buckets.get(start) ?? { start, sent: 0, failed: 0 };
      b[r.status] += r.n;
      buckets.set(start, b);
    }
    return [...buckets.values()].sort((a, b) => a.start - b.start);
  }
}
