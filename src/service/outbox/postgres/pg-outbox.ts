/**
 * The outbox half of the PostgreSQL store: enqueue, claim with lease, state changes, listings.
 *
 * Why a separate file: the statements the delivery guarantees rest on, as in sqlite-outbox.ts,
 * whose behaviour this file matches statement for statement (the Store contract suite runs
 * against both).
 *
 * Claim atomicity across instances: the claim (one statement) selects its rows `FOR UPDATE SKIP
 * LOCKED`, so two instances claiming at once take disjoint rows without waiting on each other;
 * every later state change names its lease (`lease_owner`, `attempt_count`, status 'sending')
 * in the UPDATE's WHERE, so a worker whose lease was taken over changes nothing. The guard is
 * the claim, never the lease's expiry: a result written late (kept in memory while the database
 * was unreachable, delivery/unrecorded-results.ts) is recorded when nobody claimed the message
 * since its lease lapsed, and refused when another instance did (that instance's outcome
 * stands). `lease_owner` is unique per process and `attempt_count` only grows while one owner
 * could match (a release lowers it, but also clears the owner), so no later claim can look like
 * an earlier one.
 *
 * Enqueue: the enqueues of the moment (without idempotency key) share one statement (INSERT
 * messages + payloads in a CTE) committed with synchronous_commit on (group commit,
 * pg-group-commit.ts): when a 202 leaves, its message is on disk (and on synchronous standbys,
 * if the operator configured any). Delivery results are grouped the same way, as bookkeeping.
 * Idempotency: the unique index on (submitter, key) decides between concurrent enqueues (ON
 * CONFLICT DO NOTHING, then the winner's row is read), one transaction per such enqueue.
 *
 * Imports: ../store, ../message-rows, ./pg-db, ./pg-group-commit.
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
import { StorageFullError, StoreUnavailableError } from '../store.js';
import type { PgDb } from './pg-db.js';
import { GroupCommit } from './pg-group-commit.js';
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

/**
 * The claim ($1 now, $2 limit, $3 owner, $4 lease expiry; $5 the senders left out). With
 * excludeSenders: skip the senders whose mailbox cannot take more in this worker (the worker's
 * fairness across senders, issue 16), and the senders whose mailbox another instance delivers
 * for; a message without a sender counts as ''. Their expired leases are left too: the instance
 * that held such a lease may still record its result (its send finished while the database was
 * unreachable, see delivery/unrecorded-results.ts), and a claim by an instance that does not
 * deliver for the mailbox would refuse that result only to put the message back in the queue.
 */
function claimSql(excluding: boolean): { name: string; text: string } {
  const text = `WITH expired AS MATERIALIZED (
    SELECT seq, attempt_count, lease_expires_at FROM messages WHERE status = 'sending' AND lease_expires_at <= $1
    ${excluding ? `AND coalesce(sender, '') <> ALL($5::text[])` : ''}
    ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED),
  interrupted AS (${UPSERT_ATTEMPT} SELECT seq, attempt_count, $1::bigint, 'interrupted', NULL, 'LEASE_EXPIRED', NULL FROM expired ${ON_ATTEMPT_CONFLICT}),
  due AS MATERIALIZED (
    SELECT seq, next_attempt_at FROM messages WHERE status IN ('queued', 'retrying') AND next_attempt_at <= $1
    ${excluding ? `AND coalesce(sender, '') <> ALL($5::text[])` : ''}
    ORDER BY next_attempt_at, seq LIMIT greatest(0, $2 - (SELECT count(*) FROM expired)) FOR UPDATE SKIP LOCKED),
  u AS (UPDATE messages SET status = 'sending', lease_owner = $3, lease_expires_at = $4,
      attempt_count = attempt_count + 1, next_attempt_at = NULL, updated_at = $1
    WHERE seq IN (SELECT seq FROM expired UNION ALL SELECT seq FROM due)
    RETURNING seq, id, message_id_header, mailbox, sender, recipient_count, created_at, expires_at, attempt_count)
SELECT u.*, p.payload, expired.seq IS NOT NULL AS reclaimed FROM u JOIN message_payloads p ON p.seq = u.seq
  LEFT JOIN expired ON expired.seq = u.seq LEFT JOIN due ON due.seq = u.seq
  ORDER BY expired.seq IS NULL, expired.lease_expires_at, due.next_attempt_at, u.seq`;
  return { name: excluding ? 'mailgate_claim_excluding' : 'mailgate_claim', text };
}
const CLAIM = claimSql(false);
const CLAIM_EXCLUDING = claimSql(true);

/** The columns a group enqueue writes per message, with their types (the VALUES list is typed by casts). */
const GROUP_COLUMNS = [
  ['id', 'text'], ['message_id_header', 'text'], ['mailbox', 'text'], ['to_summary', 'text'], ['subject', 'text'],
  ['recipient_count', 'int'], ['api_key_id', 'text'], ['request_hash', 'text'], ['created_at', 'bigint'], ['expires_at', 'bigint'],
  ['relay_client_id', 'text'], ['source', 'text'], ['sender', 'text'], ['payload', 'text'],
] as const;

function groupParams(m: NewMessage): unknown[] {
  return [m.id, m.messageIdHeader, m.mailbox, m.toSummary, m.subject, m.recipientCount, m.apiKeyId ?? null, m.requestHash ?? null,
    m.createdAt, m.expiresAt, m.relayClientId ?? null, m.source ?? null, m.sender ?? null, m.payload];
}

/** The `queued` notification at most this often per instance (see #announce). */
const ANNOUNCE_EVERY_MS = 20;

/** Messages per group statement at most. */
const MAX_GROUP = 64;

/**
 * Group statements come in sizes 1, 2, 4, ... 64 rows (a group is padded with NULL rows up to
 * its size, which match nothing), so a connection holds few of them. Up to NAMED_UP_TO rows they
 * are named (prepared once per connection); larger ones, only met under heavy load where the
 * parse is shared by many messages, are not: measured, a prepared 64-row insert keeps ~0.8 MB in
 * the server's plan cache per connection.
 */
const NAMED_UP_TO = 16;

function bucket(n: number): number {
  let b = 1;
  while (b < n) b *= 2;
  return b;
}

/** A group's parameters, padded with NULL rows of `width` up to its bucket size. */
function padded(rows: unknown[][], width: number): unknown[] {
  const out = rows.flat();
  for (let i = rows.length; i < bucket(rows.length); i++) for (let c = 0; c < width; c++) out.push(null);
  return out;
}

function statement(kind: string, size: number, text: string): { name?: string; text: string } {
  return size <= NAMED_UP_TO ? { name: `mailgate_${kind}_${size}`, text } : { text };
}
/**
 * Group enqueues in flight at once. What arrives while they commit waits for the next group, so
 * under load the groups grow, and the server's time per message falls with a group's size
 * (pg_stat_statements in the benchmark: ~0.48 ms for a group of 1, ~0.26 ms per message in a
 * group of 8). Measured on a quiet machine (quick benchmark, 2 instances, 8 concurrent POSTs
 * each): 4 in flight left most groups at 1–3 messages; 2 gave 1,177–1,248 enqueues/s, 1 gave
 * 1,055–1,112 (a request arriving during the only commit waits for it), at the same server CPU
 * per enqueue (0.3–0.4 ms).
 */
const GROUPS_IN_FLIGHT = 2;

const groupStatements = new Map<number, { name?: string; text: string }>();

/**
 * n messages (without idempotency key) in one statement: the messages, then their payloads, and
 * the ids that were inserted (a conflict on the id, a UUID, leaves one out).
 */
function groupInsert(n: number): { name?: string; text: string } {
  let s = groupStatements.get(n);
  if (!s) {
    const w = GROUP_COLUMNS.length;
    const rows = Array.from({ length: n }, (_, r) => `(${GROUP_COLUMNS.map(([, type], c) => `$${r * w + c + 1}::${type}`).join(', ')})`);
    const text = `WITH v (${GROUP_COLUMNS.map(([c]) => c).join(', ')}) AS (VALUES ${rows.join(', ')}),
m AS (INSERT INTO messages (id, message_id_header, mailbox, status, to_summary, subject, recipient_count, api_key_id, request_hash,
    created_at, updated_at, next_attempt_at, expires_at, relay_client_id, source, sender)
  SELECT id, message_id_header, mailbox, 'queued', to_summary, subject, recipient_count, api_key_id, request_hash,
    created_at, created_at, created_at, expires_at, relay_client_id, source, sender FROM v WHERE id IS NOT NULL
  ON CONFLICT DO NOTHING RETURNING seq, id),
p AS (INSERT INTO message_payloads (seq, payload) SELECT m.seq, v.payload FROM m JOIN v ON v.id = m.id RETURNING seq)
SELECT m.id FROM m JOIN p ON p.seq = m.seq`;
    s = statement('enqueue', n, text);
    groupStatements.set(n, s);
  }
  return s;
}

interface SentResult {
  lease: Lease;
  result: { at: number; response: string; mailbox: string };
}

const sentStatements = new Map<number, { name?: string; text: string }>();

/**
 * n delivery results in one bookkeeping statement: each message's UPDATE guarded by its lease
 * (as #withLease), and its attempt row only when the guard matched; the ids that matched.
 */
function groupSent(n: number): { name?: string; text: string } {
  let s = sentStatements.get(n);
  if (!s) {
    const rows = Array.from({ length: n }, (_, r) => `($${r * 6 + 1}::text, $${r * 6 + 2}::text, $${r * 6 + 3}::int, $${r * 6 + 4}::bigint, $${r * 6 + 5}::text, $${r * 6 + 6}::text)`);
    const text = `WITH v (id, owner, attempt, at, response, mailbox) AS (VALUES ${rows.join(', ')}),
m AS (UPDATE messages SET status = 'sent', sent_at = v.at, response = v.response, mailbox = v.mailbox, updated_at = v.at,
    lease_owner = NULL, lease_expires_at = NULL, last_code = NULL
  FROM v WHERE messages.id = v.id AND messages.lease_owner = v.owner AND messages.attempt_count = v.attempt AND messages.status = 'sending'
  RETURNING messages.seq, messages.id, v.attempt, v.at, v.response),
a AS (${UPSERT_ATTEMPT} SELECT seq, attempt, at, 'sent', response, NULL, NULL FROM m ${ON_ATTEMPT_CONFLICT} RETURNING message_seq)
SELECT m.id FROM m JOIN a ON a.message_seq = m.seq`;
    s = statement('sent', n, text);
    sentStatements.set(n, s);
  }
  return s;
}

export class PgOutbox implements OutboxStore {
  readonly #db: PgDb;
  readonly #intake: GroupCommit<NewMessage, true>;
  readonly #sent: GroupCommit<SentResult, boolean>;
  #announcing = false;
  #announceAgain = false;

  constructor(db: PgDb) {
    this.#db = db;
    this.#intake = new GroupCommit((ms) => this.#insertGroup(ms), { maxBatch: MAX_GROUP, maxConcurrent: GROUPS_IN_FLIGHT });
    this.#sent = new GroupCommit((rs) => this.#sentGroup(rs), { maxBatch: MAX_GROUP, maxConcurrent: 1 });
  }

  /**
   * Tell every instance that messages were queued (pg-notifications.ts: `queued`), so the one
   * delivering for their mailbox claims them at once: before, a message queued through another
   * instance waited for the owner's next poll (MAILGATE_POLL_INTERVAL_MS, 1 s). After the commit,
   * in its own bookkeeping transaction, not awaited by the enqueue: NOTIFY serialises the
   * commits of notifying transactions, which must not include the durable enqueues. At most one
   * per ANNOUNCE_EVERY_MS: groups committed meanwhile are covered by one more at the end of that
   * window (under load a group commits every few ms, and one notification per group measured as
   * a quarter of the enqueue's server time). Lost notifications are made up by the poll.
   */
  #announce(): void {
    if (this.#announcing) {
      this.#announceAgain = true;
      return;
    }
    this.#announcing = true;
    this.#announceAgain = false;
    const started = performance.now();
    this.#db.bookkeeping.query(`SELECT pg_notify('mailgate_config', 'queued')`).catch(() => undefined).finally(() => {
      const done = () => {
        this.#announcing = false;
        if (this.#announceAgain) this.#announce();
      };
      const rest = ANNOUNCE_EVERY_MS - (performance.now() - started);
      if (rest > 0 && this.#announceAgain) setTimeout(done, rest).unref();
      else done();
    });
  }

  /** One bookkeeping statement for a group of delivery results; per result: whether its lease still held. */
  async #sentGroup(rs: SentResult[]): Promise<(boolean | Error)[]> {
    // The same message twice in one statement would update its attempt row twice (an error):
    // a second result for an id goes alone (the fallback below), which never happens in practice.
    const ids = new Set(rs.map((r) => r.lease.id));
    if (ids.size < rs.length) return this.#sentOneByOne(rs);
    try {
      const r = await this.#db.query<{ id: string }>(groupSent(bucket(rs.length)),
        padded(rs.map(({ lease, result }) => [lease.id, lease.owner, lease.attempt, result.at, result.response, result.mailbox]), 6), { durable: false, writes: rs.length });
      const held = new Set(r.rows.map((x) => x.id));
      return rs.map((x) => held.has(x.lease.id));
    } catch (error) {
      if (rs.length === 1 || error instanceof StoreUnavailableError || error instanceof StorageFullError) throw error;
      return this.#sentOneByOne(rs);
    }
  }

  async #sentOneByOne(rs: SentResult[]): Promise<(boolean | Error)[]> {
    const out: (boolean | Error)[] = [];
    for (const r of rs) out.push(await this.#sentGroup([r]).then((x) => x[0], (e: unknown) => (e instanceof Error ? e : new Error(String(e)))));
    return out;
  }

  /** One durable statement for a group of enqueues; per message: inserted, or an Error of its own. */
  async #insertGroup(ms: NewMessage[]): Promise<(true | Error)[]> {
    try {
      const r = await this.#db.query<{ id: string }>(groupInsert(bucket(ms.length)), padded(ms.map(groupParams), GROUP_COLUMNS.length), { durable: true, writes: ms.length });
      const inserted = new Set(r.rows.map((x) => x.id));
      if (inserted.size) this.#announce();
      // A conflict here can only be the id (a UUID): report it rather than pretend.
      return ms.map((m) => (inserted.has(m.id) ? true : new Error(`message id ${m.id} already exists`)));
    } catch (error) {
      // The database is down or full: every message of the group gets that answer (503).
      if (ms.length === 1 || error instanceof StoreUnavailableError || error instanceof StorageFullError) throw error;
      // One bad message rolled the whole group back: write each alone, so only that one fails.
      return Promise.all(ms.map((m) => this.#insertGroup([m]).then((r) => r[0], (e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
    }
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
      // The common case: grouped with the other enqueues of the moment into one statement and
      // one durable commit (pg-group-commit.ts); resolves once that commit returned.
      await this.#intake.add(m);
      return created();
    }
    const key = m.idempotencyKey;
    const scope = m.apiKeyId ?? '';
    const known = (row: MessageRow): EnqueueResult =>
      ({ outcome: row.request_hash === (m.requestHash ?? null) ? 'duplicate' : 'conflict', message: toRecord(row) }) as EnqueueResult;
    const out = await this.#db.tx(async (c) => {
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
    // Committed: the instance delivering for its mailbox claims it at once (as for a group).
    if (out.outcome === 'created') this.#announce();
    return out;
  }

  /**
   * One statement (one round trip, one bookkeeping commit): the expired leases first (their
   * `interrupted` attempt recorded), then the due messages, oldest due first, all locked
   * `FOR UPDATE SKIP LOCKED`, set to `sending` under our lease, returned with their payloads.
   */
  async claim(o: ClaimOptions): Promise<ClaimedMessage[]> {
    const leaseUntil = o.now + o.leaseMs;
    const exclude = o.excludeSenders?.length ? o.excludeSenders : undefined;
    const rows = (await this.#db.query<{ seq: number; id: string; message_id_header: string; mailbox: string; sender: string | null; recipient_count: number; created_at: number; expires_at: number; attempt_count: number; payload: string; reclaimed: boolean }>(
      exclude ? CLAIM_EXCLUDING : CLAIM, [o.now, o.limit, o.owner, leaseUntil, ...(exclude ? [exclude] : [])], BOOKKEEPING)).rows;
    return rows.map((r) => ({
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
      reclaimed: r.reclaimed,
    }));
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

  /** Grouped with the other results of the moment into one bookkeeping statement (pg-group-commit.ts). */
  markSent(lease: Lease, result: { at: number; response: string; mailbox: string }): Promise<boolean> {
    return this.#sent.add({ lease, result });
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
