/**
 * The service on PostgreSQL when the database goes away (issue 18 item 4): /readyz turns 503
 * naming the database, intake answers 503 `store-unavailable` with Retry-After (never 500),
 * and once the database is back both recover by themselves and nothing accepted is lost.
 * Stops its own private cluster (never the run's shared one).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService } from '../../src/app/service.js';
import { clusterUnavailableReason, startCluster } from '../helpers/pg-cluster.js';
import { countPostgresTests } from '../helpers/postgres.js';
import { LineCapture, tempDir, waitFor } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 5).toString('base64');
const why = clusterUnavailableReason();
if (!why) countPostgresTests();

describe('the service on PostgreSQL, database outage', () => {
  it('answers 503 with Retry-After while PostgreSQL is down, /readyz says database, and recovers by itself losing nothing', { skip: why ? `SKIPPED: ${why}` : false }, async () => {
    const cluster = startCluster();
    const t = tempDir();
    const svc = await startService({
      env: { MAILGATE_DATABASE_URL: cluster.url, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_DATA_DIR: t.dir },
      listen: false,
      worker: false,
      logger: createLogger({ destination: new LineCapture(), level: 'debug' }),
    });
    try {
      assert.equal(svc.store.kind, 'postgres');
      const key = (await createApiKey(svc.store, 'app', 'send', { now: Date.now(), actor: 'test' })).key;
      const call = async (method: string, path: string, body?: unknown) => {
        const r = await svc.app.request(path, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await r.text();
        return { status: r.status, headers: r.headers, json: text && r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
      };
      const readyErrors = async () => ((await call('GET', '/readyz')).json?.errors ?? []).map((e: { key: string }) => e.key) as string[];
      const accepted: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await call('POST', '/api/v1/messages', { to: 'a@example.com', subject: `before ${i}`, text: 'kept' });
        assert.equal(r.status, 202);
        accepted.push(r.json.id);
      }
      assert.ok(!(await readyErrors()).includes('database'));

      cluster.stop();
      const refused = await call('POST', '/api/v1/messages', { to: 'a@example.com', subject: 'during', text: 'x' });
      assert.equal(refused.status, 503, JSON.stringify(refused.json));
      assert.equal(refused.json.type.endsWith('store-unavailable'), true, refused.json.type);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      assert.ok((await readyErrors()).includes('database'));

      cluster.start();
      await waitFor(async () => !(await readyErrors()).includes('database'), 20_000);
      const after = await call('POST', '/api/v1/messages', { to: 'a@example.com', subject: 'after', text: 'y' });
      assert.equal(after.status, 202);
      accepted.push(after.json.id);
      for (const id of accepted) assert.equal((await svc.store.get(id))?.status, 'queued', `message ${id} kept`);
    } finally {
      await svc.stop();
      cluster.destroy();
      t.remove();
    }
  });
});
