/**
 * Security reproductions for several senders (issue 16), against the service in-process on a
 * real SQLite store:
 * - a credential given through the API cannot be a reference (env:NAME, file:/path): an admin
 *   key could otherwise aim a secret it never held (an environment variable, any readable file)
 *   at a token endpoint of its choosing;
 * - moving a stored credential's endpoint needs its secret in the same request (the
 *   credential-redirect rule, per credential);
 * - a credential's secret never comes back: not from the API, not in the audit log, not in the
 *   database file;
 * - a send key limited to one sender cannot send as another.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { FakeMailer, LineCapture, tempDir } from '../service/helpers.js';

const CLIENT = '3cc0b6a1-1111-4222-8333-444455556666';
const TENANT = '6a1f0000-1111-4222-8333-444455556666';
const SECRET = 'sender-credential-secret~value-77';

describe('security: senders and credentials', () => {
  let svc: RunningService;
  let dir: { dir: string; remove(): void };
  let admin: string;
  let limited: string;
  const logs = new LineCapture();
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const r = await svc.app.request(path, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, text: await r.text() };
  };
  before(async () => {
    dir = tempDir();
    const mailer = new FakeMailer();
    svc = await startService({
      env: { MAILGATE_DATA_DIR: dir.dir, MAILGATE_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'), MAILGATE_CLIENT_ID: CLIENT, MAILGATE_TENANT_ID: TENANT, MAILGATE_CLIENT_SECRET: 'env-default-secret-1', MAILGATE_AUTHORIZED_FROM: 'noreply@contoso.com', HOME_SECRET: 'never-to-be-sent' },
      listen: false,
      worker: false,
      logger: createLogger({ destination: logs, level: 'debug' }),
      createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
    });
    admin = (await createApiKey(svc.store, 'ops', 'admin', { now: Date.now(), actor: 'test' })).key;
    limited = (await createApiKey(svc.store, 'billing', 'send', { now: Date.now(), actor: 'test', senders: ['billing@contoso.com'] })).key;
  });
  after(async () => {
    await svc.stop();
    dir.remove();
  });

  it('refuses a secret reference through the API (env: or file:), naming why', async () => {
    for (const clientSecret of ['env:HOME_SECRET', 'file:/etc/passwd']) {
      const r = await call('POST', '/api/v1/credentials', admin, { name: 'evil', tenantId: TENANT, clientId: CLIENT, clientSecret, authorityHost: 'https://login.attacker.example' });
      assert.equal(r.status, 422, r.text);
      assert.match(r.text, /references \(env:, file:\) are for the configuration file only/);
    }
    const cert = await call('POST', '/api/v1/credentials', admin, { name: 'evil', tenantId: TENANT, clientId: CLIENT, clientCertificate: 'file:/etc/mailgate/contoso.pem', authorityHost: 'https://login.attacker.example' });
    assert.equal(cert.status, 422);
  });

  it('moving a credential\'s endpoint without its secret is refused; the secret never comes back', async () => {
    let r = await call('POST', '/api/v1/credentials', admin, { name: 'fabrikam', tenantId: TENANT, clientId: CLIENT, clientSecret: SECRET });
    assert.equal(r.status, 201);
    for (const move of [{ authorityHost: 'https://login.attacker.example' }, { smtpHost: 'smtp.attacker.example' }, { smtpPort: 2525 }, { graphEndpoint: 'https://graph.attacker.example' }, { cloud: 'china' }]) {
      r = await call('PUT', '/api/v1/credentials/fabrikam', admin, { name: 'fabrikam', tenantId: TENANT, clientId: CLIENT, ...move });
      assert.equal(r.status, 422, `${JSON.stringify(move)}: ${r.text}`);
    }
    const views = [(await call('GET', '/api/v1/credentials', admin)).text, (await call('GET', '/api/v1/credentials/fabrikam', admin)).text, JSON.stringify(await svc.store.listAudit(50)), logs.lines.join('\n')];
    for (const v of views) assert.ok(!v.includes(SECRET), 'no secret in views, audit or logs');
    assert.ok(!readFileSync(join(dir.dir, 'mailgate.db')).includes(SECRET), 'encrypted at rest');
  });

  it('a send key limited to one sender cannot send as another', async () => {
    const r = await call('POST', '/api/v1/messages', limited, { from: 'noreply@contoso.com', to: 'a@example.com', subject: 's', text: 't' });
    assert.equal(r.status, 422);
    assert.match(r.text, /sender-not-allowed/);
  });
});
