/**
 * `mailgate migrate` whose connection to PostgreSQL is reset while it waits for the migration
 * lock (a network failure, a load balancer or proxy in between dropping it). pg emits 'error'
 * on a client whose socket fails, even while a statement is in flight, and the command's client
 * had no listener: the command died of an uncaught exception (Node's stack trace) instead of its
 * own one-line failure. The connection goes through a TCP proxy (real sockets) to the test
 * cluster's socket, so the test can reset it at the moment it chooses.
 * Asserted: exit code 1, the `mailgate migrate: ...` line, and no stack trace.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { MIGRATION_LOCK_KEY } from '../../src/service/outbox/postgres/pg-migrate.js';
import { countPostgresTests, pgSkip, pgUrl } from '../helpers/postgres.js';
import { freshDatabase, MAIN } from '../helpers/serve-process.js';

if (!pgSkip) countPostgresTests();

/** Where pgUrl's server listens: its unix socket (the run's cluster) or host:port. */
function serverAddress(url: URL): net.NetConnectOpts {
  const host = url.searchParams.get('host') ?? url.hostname;
  const port = Number(url.port || 5432);
  return host.startsWith('/') ? { path: join(host, `.s.PGSQL.${port}`) } : { host, port };
}

describe('mailgate migrate when its PostgreSQL connection is reset', { skip: pgSkip }, () => {
  it('fails with its own error line, not an uncaught exception', async () => {
    const database = await freshDatabase(pgUrl!, 'migrate_reset');
    const target = new URL(database.url);
    const dbName = target.pathname.slice(1);
    // The migration lock is held, so the command waits in pg_advisory_lock (a statement in flight).
    const holder = new pg.Client({ connectionString: target.toString() });
    const clientSides = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      clientSides.add(client);
      const server = net.connect(serverAddress(target));
      client.on('error', () => undefined);
      server.on('error', () => client.destroy());
      client.pipe(server).pipe(client);
      client.on('close', () => server.destroy());
    });
    try {
      await holder.connect();
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const viaProxy = new URL(target.toString());
      viaProxy.searchParams.delete('host');
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String((proxy.address() as net.AddressInfo).port);

      const child = spawn(process.execPath, [MAIN, 'migrate'], { env: { ...process.env, MAILGATE_DATABASE_URL: viaProxy.toString() }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      let waiting = false;
      for (let i = 0; i < 200 && !waiting; i++) {
        const r = await holder.query(`SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND query LIKE 'SELECT pg_advisory_lock%'`, [dbName]);
        waiting = r.rowCount === 1;
        if (!waiting) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(waiting, `the command waits for the migration lock (stderr: ${stderr})`);
      for (const s of clientSides) s.resetAndDestroy();
      const code = await exited;
      assert.equal(code, 1, stderr);
      assert.match(stderr, /^mailgate migrate: /, `the command's own failure line:\n${stderr}`);
      assert.doesNotMatch(stderr, /\n\s+at |Unhandled 'error' event/, `no uncaught exception:\n${stderr}`);
    } finally {
      proxy.close();
      for (const s of clientSides) s.destroy();
      await holder.end().catch(() => undefined);
      await database.drop();
    }
  });
});
