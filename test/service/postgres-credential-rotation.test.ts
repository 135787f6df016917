/**
 * Credential rotation on PostgreSQL (issue 17 item 3 with issue 18): the secondary, its metadata
 * (added, last test) and every step live in settings rows, so two instances sharing one
 * database see the same rotation: instance A adds the secondary and tests it, instance B sees
 * both and promotes, and A then uses the new primary.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { startService, type RunningService } from '../../src/app/service.js';
import { buildTenantState, startEmulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { countPostgresTests, pgSkip, pgUrl } from '../helpers/postgres.js';
import { LineCapture, tempDir, waitFor } from './helpers.js';
import { MASTER_KEY } from './e2e-helpers.js';

if (!pgSkip) countPostgresTests();

const NEW_SECRET = 'Pg48Q~postgres-secondary-secret-0123456789ab';

describe('credential rotation (PostgreSQL)', { skip: pgSkip }, () => {
  it('two instances share the rotation: A adds and tests, B sees it and promotes, A uses the new primary', async () => {
    const dbName = `rotation_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const u = new URL(pgUrl!);
    u.pathname = `/${dbName}`;
    const built = buildTenantState({});
    built.state.tenants[0]!.apps[0]!.secrets.push({ id: randomUUID(), value: NEW_SECRET, expires: new Date(Date.now() + 86_400_000).toISOString() } as never);
    const emulator = await startEmulator(built.state);
    const dirs = [tempDir('mailgate-rot-a-'), tempDir('mailgate-rot-b-')];
    const services: RunningService[] = [];
    try {
      for (const d of dirs) {
        services.push(await startService({
          env: { MAILGATE_DATABASE_URL: u.toString(), MAILGATE_DATA_DIR: d.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_WORKER: 'off' },
          listen: false, ca: emulator.caPem, logger: createLogger({ destination: new LineCapture(), level: 'warn' }),
        }));
      }
      const [a, b] = services as [RunningService, RunningService];
      const saved = await a.settings.update({ authorityHost: emulator.authorityHost, tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, authorizedFrom: built.authorizedFrom }, 'test');
      assert.ok(saved.ok);
      await waitFor(() => b.settings.settings()?.clientId === built.clientId || undefined, 10_000, 'B sees the settings');
      const ra = a.deps.credentialRotation!;
      const rb = b.deps.credentialRotation!;
      await ra.addSecondary('default', { clientSecret: NEW_SECRET }, 'api-key:a');
      assert.equal((await ra.test('default', 'secondary', 'api-key:a')).ok, true);
      await waitFor(() => rb.get('default')?.secondary?.lastTest?.ok === true || undefined, 10_000, 'B sees the tested secondary');
      const promoted = await rb.promote('default', 'api-key:b');
      assert.equal(promoted.primary?.hint, 'Pg4');
      await waitFor(() => a.settings.settings()?.clientSecret?.reveal() === NEW_SECRET || undefined, 10_000, 'A uses the new primary');
      assert.equal(ra.get('default')?.primary?.lastTest?.ok, true, 'the test went with the promoted credential');
      await ra.removeSecondary('default', 'api-key:a');
      await waitFor(() => rb.get('default')?.secondary === null || undefined, 10_000, 'B sees the removal');
      const actions = (await a.store.listAudit(20)).map((x) => `${x.action}:${x.actor}`);
      for (const step of ['credential.rotation.add:api-key:a', 'credential.rotation.test:api-key:a', 'credential.rotation.promote:api-key:b', 'credential.rotation.remove:api-key:a']) assert.ok(actions.includes(step), `${step} in ${actions.join(', ')}`);
    } finally {
      for (const s of services.reverse()) await s.stop().catch(() => undefined);
      for (const d of dirs) d.remove();
      await emulator.stop();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
    }
  });
});
