/**
 * Delivery ownership: which instance delivers for a signed-in mailbox, by a lease row.
 *
 * Why: Exchange's limits are per mailbox across every client (3 concurrent SMTP connections,
 * 30 messages a minute, 10,000 recipients a day). If every instance delivered for a mailbox,
 * N instances would open 3N connections and send 30N a minute. So one instance at a time owns
 * a mailbox's delivery: it holds the row `delivery_owners(mailbox)` with an expiry it renews
 * every lease/3; only the owner claims messages for it; the others accept intake for every
 * mailbox (any instance behind the load balancer takes a 202). An owner that dies stops
 * renewing, and another instance takes the row once it expires: within MAILGATE_LEASE_SECONDS
 * (+ one renewal interval) the mailbox is delivered again, and the messages the dead owner had
 * claimed are reclaimed when their own leases (same length) expire.
 *
 * The ownership unit is the signed-in mailbox (the XOAUTH2 `user=`), not the From address:
 * with several senders (issue 16: From address + signed-in mailbox + credential), two senders
 * that sign in as one mailbox share its limits, so they share an owner.
 *
 * Spreading: an instance takes a free (or expired) row only while it owns fewer mailboxes than
 * its fair share (ceil(mailboxes / live instances)), so owners spread across live instances.
 * Live instances are those with a fresh row in `delivery_instances` (same renewal).
 *
 * Rebalancing: an instance that took every mailbox while it was alone owns more than its share
 * once others start. It then hands the surplus over gracefully (`surplus()` marks them
 * draining, `handOver()` deletes the row): while draining it no longer owns the mailbox for the
 * worker (nothing new is claimed or started for it) but keeps renewing the row, so nobody else
 * takes it yet; the caller waits until no send of that mailbox is in flight and its connections
 * are closed, then hands over; another instance below its share takes the free row at its next
 * renewal. So a handover never adds connections at the mailbox: the old owner's are closed
 * before the new owner can open any.
 *
 * Never two owners at once: taking the row is a single conditional UPSERT (the current owner
 * renewing, or the row expired). An owner that cannot renew (database unreachable) stops
 * claiming once its own expiry passes; the new owner can take over only after that same expiry,
 * so an old owner's sends still in flight then are the only overlap (bounded by the send
 * timeout; documented in ARCHITECTURE.md).
 *
 * After a database outage the owner goes first: a row that expired while this instance could
 * not reach the database either says nothing about its owner (it could not renew, like us), so
 * for one lease after this instance reaches the database again it takes only rows that had
 * expired before it lost the database (their owner had stopped renewing before the outage);
 * the owner renews its own row (expired or not, as long as nobody took it) at its next renewal,
 * and records the delivery results it kept during the outage (delivery/unrecorded-results.ts)
 * before it claims anything. Left over: when the owner reaches the database a lease or more
 * after the others (an outage longer than the lease on its side only, a network partition),
 * another instance takes the mailbox over and claims the owner's expired leases; the owner's
 * late results for them are then refused (the claim guard) and those messages are sent again,
 * with the same Message-ID. And an owner that died during the outage is replaced one lease
 * after the database came back, not at its row's expiry.
 *
 * Imports: ./pg-db.
 */
import type { PgDb } from './pg-db.js';

export interface OwnershipOptions {
  owner: string;
  /** How long a row stays valid without renewal (MAILGATE_LEASE_SECONDS). */
  leaseMs: number;
  now: () => number;
}

export class MailboxOwnership {
  readonly #db: PgDb;
  readonly #o: OwnershipOptions;
  /** mailbox (lower case) → our row's expiry. */
  readonly #owned = new Map<string, number>();
  /** Mailboxes we hold but are handing over: not ours for the worker any more. */
  readonly #draining = new Set<string>();
  /** ceil(mailboxes / live instances) at the last refresh. */
  #share = Infinity;
  /** Wanted mailboxes with no live owner, since when (by our clock). */
  readonly #unownedSince = new Map<string, number>();
  /** Mailboxes taken by the safety net (beyond our share): not handed over while we hold them. */
  readonly #sticky = new Set<string>();
  /** The tail of refresh / handOver / release (see #exclusive). */
  #lock: Promise<unknown> = Promise.resolve();
  /** When our last refresh succeeded (by our clock). */
  #lastOk: number | undefined;
  /**
   * After an outage of ours: until when (`until`) we take only rows that expired before it
   * began (`before`), see the header.
   */
  #afterOutage: { before: number; until: number } | undefined;
  /** Our last refresh failed since `lastOk`: the outage's start. */
  #outageFrom: number | undefined;

  constructor(db: PgDb, o: OwnershipOptions) {
    this.#db = db;
    this.#o = o;
  }

  /** Whether we own `mailbox` now (our row has not expired by our clock). */
  owns(mailbox: string): boolean {
    const m = mailbox.toLowerCase();
    const until = this.#owned.get(m);
    return until !== undefined && until > this.#o.now() && !this.#draining.has(m);
  }

  owned(): string[] {
    return [...this.#owned.keys()].filter((m) => this.owns(m));
  }

  /**
   * Renew what we own and try to take `wanted` mailboxes that are free or expired, within our
   * fair share. Returns the mailboxes we own afterwards. Errors (database down) propagate; what
   * we owned stays owned only until its recorded expiry.
   */
  refresh(wanted: string[]): Promise<string[]> {
    return this.#exclusive(() => this.#refreshTracked(wanted));
  }

  /**
   * Renewals, handovers and the release run one at a time: a handover landing between a
   * renewal's UPDATE and its bookkeeping would otherwise be undone in memory (the renewal
   * re-marks the handed-over mailbox as ours while its row is gone), and this instance would
   * deliver for a mailbox another instance is taking: two owners, more than its connections.
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** One refresh, remembering when our outage began and ended (for #takeExpiredBefore). */
  async #refreshTracked(wanted: string[]): Promise<string[]> {
    const now = this.#o.now();
    // Reaching the database after an outage of ours: the lease of restraint starts now (and
    // starts again if this refresh fails too).
    if (this.#outageFrom !== undefined) this.#afterOutage = { before: this.#outageFrom, until: now + this.#o.leaseMs };
    try {
      const out = await this.#refresh(wanted, now);
      this.#outageFrom = undefined;
      this.#lastOk = now;
      return out;
    } catch (error) {
      this.#outageFrom ??= this.#lastOk ?? now;
      throw error;
    }
  }

  /**
   * Rows expired up to this time may be taken now: `now`, except during the lease after an
   * outage of ours (see the header).
   */
  #takeExpiredBefore(now: number): number {
    const o = this.#afterOutage;
    if (!o) return now;
    if (now >= o.until) {
      this.#afterOutage = undefined;
      return now;
    }
    return Math.min(now, o.before);
  }

  async #refresh(wanted: string[], now: number): Promise<string[]> {
    const until = now + this.#o.leaseMs;
    const mailboxes = [...new Set(wanted.map((m) => m.toLowerCase()))];
    await this.#db.query(
      `INSERT INTO delivery_instances (owner, expires_at) VALUES ($1, $2) ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at`,
      [this.#o.owner, until], { durable: false });
    // Renew ours (a row someone else took after it expired is no longer ours).
    const renewed = (await this.#db.query<{ mailbox: string }>(
      `UPDATE delivery_owners SET expires_at = $2 WHERE owner = $1 AND mailbox = ANY($3::text[]) RETURNING mailbox`,
      [this.#o.owner, until, mailboxes], { durable: false })).rows.map((r) => r.mailbox);
    // Give up mailboxes we no longer deliver for (settings changed).
    await this.#db.query(`DELETE FROM delivery_owners WHERE owner = $1 AND NOT (mailbox = ANY($2::text[]))`, [this.#o.owner, mailboxes], { durable: false });
    this.#owned.clear();
    for (const m of renewed) this.#owned.set(m, until);
    for (const m of [...this.#draining]) if (!this.#owned.has(m)) this.#draining.delete(m);
    const live = Number((await this.#db.query<{ n: number }>(`SELECT count(*) AS n FROM delivery_instances WHERE expires_at > $1`, [now])).rows[0].n);
    const share = Math.max(1, Math.ceil(mailboxes.length / Math.max(1, live)));
    this.#share = share;
    const expiredBefore = this.#takeExpiredBefore(now);
    const take = async (m: string) => {
      const r = await this.#db.query(
        `INSERT INTO delivery_owners (mailbox, owner, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (mailbox) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE delivery_owners.owner = excluded.owner OR delivery_owners.expires_at <= $4`,
        [m, this.#o.owner, until, expiredBefore], { durable: false });
      if (r.rowCount === 1) this.#owned.set(m, until);
      return r.rowCount === 1;
    };
    for (const m of mailboxes) {
      if (this.#owned.has(m) || this.#owned.size >= share) continue;
      await take(m);
    }
    // Safety net: a mailbox nobody has taken for a whole lease (the instances disagree on the
    // mailboxes or on how many are live) is taken even beyond our share, and kept (never
    // handed over as surplus while we hold it), so no mailbox is left without delivery.
    for (const m of [...this.#sticky]) if (!this.#owned.has(m)) this.#sticky.delete(m);
    const held = new Set((await this.#db.query<{ mailbox: string }>(`SELECT mailbox FROM delivery_owners WHERE expires_at > $1 AND mailbox = ANY($2::text[])`, [now, mailboxes])).rows.map((r) => r.mailbox));
    for (const m of mailboxes) {
      if (held.has(m) || this.#owned.has(m)) {
        this.#unownedSince.delete(m);
        continue;
      }
      const since = this.#unownedSince.get(m) ?? now;
      this.#unownedSince.set(m, since);
      if (now - since >= this.#o.leaseMs && (await take(m))) {
        this.#sticky.add(m);
        this.#unownedSince.delete(m);
      }
    }
    for (const m of [...this.#unownedSince.keys()]) if (!mailboxes.includes(m)) this.#unownedSince.delete(m);
    return this.owned();
  }

  /**
   * The mailboxes beyond our fair share (other instances started since we took them): marked
   * draining (`owns` is false for them from now on) and returned, so the caller can wait for
   * their sends to finish, close their connections and `handOver` each. Includes those already
   * draining. Deterministic: the last ones in name order go.
   */
  surplus(): string[] {
    // Mailboxes the safety net took do not count: handing over what others may not take would
    // only pause their delivery for a lease.
    const kept = this.owned().filter((m) => !this.#sticky.has(m)).sort();
    for (const m of kept.slice(this.#share)) this.#draining.add(m);
    return [...this.#draining].filter((m) => this.#owned.has(m));
  }

  /** Whether we are handing `mailbox` over (see surplus). */
  draining(mailbox: string): boolean {
    return this.#draining.has(mailbox.toLowerCase());
  }

  /**
   * Give one draining mailbox up (no send of it in flight, its connections closed): the row is
   * deleted, and an instance below its share takes it at its next renewal.
   */
  handOver(mailbox: string): Promise<void> {
    return this.#exclusive(() => this.#handOver(mailbox));
  }

  async #handOver(mailbox: string): Promise<void> {
    const m = mailbox.toLowerCase();
    await this.#db.query(`DELETE FROM delivery_owners WHERE owner = $1 AND mailbox = $2`, [this.#o.owner, m], { durable: false });
    this.#owned.delete(m);
    this.#draining.delete(m);
  }

  /**
   * When messages from `mailbox` were sent since `since` (by whichever instance): the new
   * owner's rate limiter counts them (DeliveryWorker.seedRate). Delivery results are
   * bookkeeping commits, so a send whose result was not recorded yet is missed; the limiter's
   * headroom and Exchange's "throttled and carried over" cover that one message.
   */
  async sentSince(mailbox: string, since: number): Promise<number[]> {
    const r = await this.#db.query<{ sent_at: number }>(
      `SELECT sent_at FROM messages WHERE mailbox IN ($1, $2) AND status = 'sent' AND sent_at >= $3 AND NOT is_test ORDER BY sent_at`,
      [mailbox, mailbox.toLowerCase(), since]);
    return r.rows.map((x) => x.sent_at);
  }

  /** Give everything up (clean shutdown): another instance takes over at once instead of after the lease. */
  release(): Promise<void> {
    return this.#exclusive(() => this.#release());
  }

  async #release(): Promise<void> {
    this.#owned.clear();
    this.#draining.clear();
    await this.#db.query(`DELETE FROM delivery_owners WHERE owner = $1`, [this.#o.owner], { durable: false });
    await this.#db.query(`DELETE FROM delivery_instances WHERE owner = $1`, [this.#o.owner], { durable: false });
  }
}
