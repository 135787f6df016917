/**
 * Writes queued messages straight into a stopped service's SQLite database, for the memory
 * figure with a million queued (capacity scenario, bench/capacity-1m.ts): filling that many
 * through the API takes minutes and ~11 GB. The rows are small: what is measured is what the
 * service keeps in its own memory per queued message (nothing, if it is right), which does not
 * depend on the bodies it never reads while the worker is off.
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

/** Insert `n` queued messages (small rows) straight into the service's database. */
export function prefillQueued(dataDir: string, n: number): void {
  const db = new Database(join(dataDir, 'mailgate.db'));
  db.pragma('journal_mode = WAL');
  const now = Date.now();
  const payload = JSON.stringify({ to: ['rcpt@bench.example.test'], subject: 'prefilled', text: 'prefilled queued message' });
  const batch = 50_000;
  const insert = db.prepare(`INSERT INTO messages (id, message_id_header, mailbox, status, to_summary, subject, recipient_count, created_at, updated_at, next_attempt_at, expires_at)
    SELECT @prefix || x, '<' || @prefix || x || '@bench.mailgate.test>', 'sender@bench.mailgate.test', 'queued', 'rcpt@bench.example.test', 'prefilled', 1, @now, @now, @now, @now + 86400000
    FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < @n) SELECT x FROM c)`);
  const payloads = db.prepare(`INSERT INTO message_payloads (seq, payload) SELECT seq, @payload FROM messages WHERE seq > @last`);
  for (let done = 0; done < n; done += batch) {
    db.transaction(() => {
      const last = (db.prepare('SELECT coalesce(max(seq), 0) AS s FROM messages').get() as { s: number }).s;
      insert.run({ prefix: `${randomUUID()}-`, now, n: Math.min(batch, n - done) });
      payloads.run({ last, payload });
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

