/**
 * Credential rotation through the API (issue 17 item 3), on the real service (SQLite, HTTP)
 * with the emulator's token endpoint for the Test step: add the secondary → test it (a real
 * token request with it alone) → promote → remove, for the Email Settings' credential and for
 * a stored one; the steps the flow refuses (409 rotation-step-invalid with the next step), the
 * read-only credentials (environment: 409 credential-read-only), the audit (every step, never
 * the secret), the secondary dropped with a destination move, and no secret in any answer.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildTenantState, startEmulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService } from '../../src/app/service.js';
import { LineCapture, tempDir } from './helpers.js';
import { MASTER_KEY } from './e2e-helpers.js';

const NEW_SECRET = 'Nw58Q~second-secret-value-0123456789abcdefgh';

async function setup(env: Record<string, string> = {}) {
  const built = buildTenantState({});
  built.state.tenants[0]!.apps[0]!.secrets.push({ id: randomUUID(), value: NEW_SECRET, expires: new Date(Date.now() + 400 * 86_400_000).toISOString() } as never);
  const emulator = await startEmulator(built.state, { limits: { messagesPerMinute: Infinity } });
  const t = tempDir('mailgate-rotation-');
  const logs = new LineCapture();
  const svc = await startService({
    env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_HTTP_PORT: '0', MAILGATE_WORKER: 'off', ...env },
    ca: emulator.caPem,
    logger: createLogger({ destination: logs, level: 'debug' }),
  });
  const key = (await createApiKey(svc.store, 'rot', 'admin', { now: Date.now(), actor: 'test' })).key;
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${svc.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body !== undefined ? JSON.stringify(body) : undefined });
    const text = await r.text();
    return { status: r.status, text, json: text ? JSON.parse(text) as any : undefined };
  };
  const close = async () => {
    await svc.stop();
    await emulator.stop();
    t.remove();
  };
  return { built, emulator, svc, api, logs, close };
}

describe('credential rotation API', () => {
  it('default credential: add → test → promote → remove, each audited without the secret; illegal steps refused', async () => {
    const s = await setup();
    try {
      const { built, emulator, api } = s;
      const saved = await api('PUT', '/api/v1/settings/email', {
        smtpHost: emulator.smtp.host, smtpPort: emulator.smtp.port, authorityHost: emulator.authorityHost,
        tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, authorizedFrom: built.authorizedFrom,
      });
      assert.equal(saved.status, 200, saved.text);
      // The settings API cannot set the secondary (only drop it).
      const direct = await api('PUT', '/api/v1/settings/email', { clientSecretSecondary: NEW_SECRET });
      assert.equal(direct.status, 422);
      assert.match(direct.text, /set with the rotation steps/);
      assert.ok(!direct.text.includes(NEW_SECRET));

      let view = await api('GET', '/api/v1/credentials/default/rotation');
      assert.equal(view.status, 200);
      assert.deepEqual([view.json.source, view.json.readOnly, view.json.primary.kind, view.json.secondary, view.json.active], ['settings', false, 'secret', null, 'primary']);
      assert.equal(view.json.primary.hint, built.clientSecret!.slice(0, 3));

      // Promote with no secondary: 409 with the next step.
      const early = await api('POST', '/api/v1/credentials/default/promote');
      assert.equal(early.status, 409);
      assert.equal(early.json.type, 'urn:mailgate:problem:rotation-step-invalid');
      assert.match(early.json.detail, /add the new credential as the secondary first/);

      const bad = await api('POST', '/api/v1/credentials/default/secondary', { clientSecret: NEW_SECRET, clientCertificate: '-----BEGIN x', extra: 1 });
      assert.equal(bad.status, 422);
      assert.ok(!bad.text.includes(NEW_SECRET));
      const added = await api('POST', '/api/v1/credentials/default/secondary', { clientSecret: NEW_SECRET, clientSecretExpires: '2028-01-15' });
      assert.equal(added.status, 201, added.text);
      assert.deepEqual([added.json.secondary.kind, added.json.secondary.expires, added.json.secondary.hint], ['secret', '2028-01-15', 'Nw5']);
      assert.ok(added.json.secondary.addedAt);
      // The expiry monitor watches the secondary too, under its own name.
      await s.svc.credentials.tick();
      const watched = s.svc.credentials.statuses().find((x) => x.input.credential === 'default.secondary');
      assert.equal(watched?.input.kind, 'client-secret');
      assert.equal(watched?.input.expiresAt, Date.UTC(2028, 0, 15));
      assert.ok(!added.text.includes(NEW_SECRET));
      const twice = await api('POST', '/api/v1/credentials/default/secondary', { clientSecret: NEW_SECRET });
      assert.equal(twice.status, 409);
      // Not tested yet: promote refused.
      const untested = await api('POST', '/api/v1/credentials/default/promote', {});
      assert.equal(untested.status, 409);
      assert.match(untested.json.detail, /not tested: test the secondary/);

      const tested = await api('POST', '/api/v1/credentials/default/test', { slot: 'secondary' });
      assert.equal(tested.status, 200, tested.text);
      assert.equal(tested.json.ok, true, tested.text);
      assert.equal(tested.json.credential.secondary.lastTest.ok, true);
      const promoted = await api('POST', '/api/v1/credentials/default/promote', {});
      assert.equal(promoted.status, 200, promoted.text);
      assert.equal(promoted.json.primary.hint, 'Nw5');
      assert.equal(promoted.json.primary.expires, '2028-01-15');
      assert.equal(promoted.json.primary.lastTest.ok, true);
      assert.equal(promoted.json.secondary.hint, built.clientSecret!.slice(0, 3));
      // The Email Settings now hold the new secret as the primary: a token with it works.
      assert.equal(s.svc.settings.settings()!.clientSecret!.reveal(), NEW_SECRET);
      assert.equal(s.svc.settings.settings()!.clientSecretSecondary!.reveal(), built.clientSecret);
      const removed = await api('DELETE', '/api/v1/credentials/default/secondary');
      assert.equal(removed.status, 200, removed.text);
      assert.equal(removed.json.secondary, null);
      assert.equal(s.svc.settings.settings()!.clientSecretSecondary, undefined);

      // A wrong secret as the secondary: the test fails with Entra's code, and promote is refused.
      await api('POST', '/api/v1/credentials/default/secondary', { clientSecret: built.secretId });
      const failed = await api('POST', '/api/v1/credentials/default/test', {});
      assert.equal(failed.json.slot, 'secondary');
      assert.equal(failed.json.ok, false);
      assert.equal(failed.json.code, 'AADSTS7000215');
      assert.ok(failed.json.fixes.length > 0);
      const refused = await api('POST', '/api/v1/credentials/default/promote', {});
      assert.equal(refused.status, 409);
      assert.match(refused.json.detail, /last test failed/);

      // Moving a destination must drop the secondary (never redirect it).
      const moved = await api('PUT', '/api/v1/settings/email', { smtpHost: 'smtp.example.net', clientSecret: NEW_SECRET });
      assert.equal(moved.status, 422);
      assert.match(moved.text, /Secondary client secret .* remove it in the same request/);
      const movedOk = await api('PUT', '/api/v1/settings/email', { smtpHost: 'smtp.example.net', clientSecret: NEW_SECRET, clientSecretSecondary: null });
      assert.equal(movedOk.status, 200, movedOk.text);
      assert.equal((await api('GET', '/api/v1/credentials/default/rotation')).json.secondary, null);

      // Every step audited, never with a secret.
      const audit = await s.svc.store.listAudit(50);
      const actions = audit.map((a) => a.action);
      for (const a of ['credential.rotation.add', 'credential.rotation.test', 'credential.rotation.promote', 'credential.rotation.remove']) assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
      const all = JSON.stringify(audit);
      for (const secret of [NEW_SECRET, built.clientSecret!]) assert.ok(!all.includes(secret), 'no secret in the audit');
      // Nor in the log or the stored rows in clear.
      assert.ok(!s.logs.lines.join('\n').includes(NEW_SECRET));
      const rows = JSON.stringify(await s.svc.store.getSettings());
      assert.ok(!rows.includes(NEW_SECRET));
    } finally {
      await s.close();
    }
  });

  it('a stored credential: the secondary lives encrypted in its row; promote swaps; a destination move needs "secondary": null', async () => {
    const s = await setup();
    try {
      const { built, emulator, api } = s;
      const created = await api('POST', '/api/v1/credentials', { name: 'contoso', tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, authorityHost: emulator.authorityHost });
      assert.equal(created.status, 201, created.text);
      const added = await api('POST', '/api/v1/credentials/contoso/secondary', { clientSecret: NEW_SECRET });
      assert.equal(added.status, 201, added.text);
      const list = await api('GET', '/api/v1/credentials');
      const item = list.json.items.find((c: any) => c.name === 'contoso');
      assert.equal(item.rotation.secondary.kind, 'secret');
      assert.equal(item.rotation.source, 'stored');
      assert.ok(!list.text.includes(NEW_SECRET));
      assert.equal((await api('POST', '/api/v1/credentials/contoso/test', { slot: 'secondary' })).json.ok, true);
      assert.equal((await api('POST', '/api/v1/credentials/contoso/test', { slot: 'primary' })).json.ok, true);
      const promoted = await api('POST', '/api/v1/credentials/contoso/promote', {});
      assert.equal(promoted.status, 200, promoted.text);
      assert.equal(promoted.json.primary.hint, 'Nw5');
      // Still decrypts after the swap (ciphertext re-encrypted for its new field): a test of each passes.
      assert.equal((await api('POST', '/api/v1/credentials/contoso/test', { slot: 'primary' })).json.ok, true);
      assert.equal((await api('POST', '/api/v1/credentials/contoso/test', { slot: 'secondary' })).json.ok, true);
      const move = await api('PUT', '/api/v1/credentials/contoso', { name: 'contoso', tenantId: built.tenantId, clientId: built.clientId, clientSecret: NEW_SECRET, authorityHost: 'https://login.example.net' });
      assert.equal(move.status, 422);
      assert.match(move.text, /secondary: changing authorityHost/);
      const moveOk = await api('PUT', '/api/v1/credentials/contoso', { name: 'contoso', tenantId: built.tenantId, clientId: built.clientId, clientSecret: NEW_SECRET, authorityHost: 'https://login.example.net', secondary: null });
      assert.equal(moveOk.status, 200, moveOk.text);
      assert.equal((await api('GET', '/api/v1/credentials/contoso/rotation')).json.secondary, null);
      // A change that moves nothing keeps the secondary.
      await api('POST', '/api/v1/credentials/contoso/secondary', { clientSecret: NEW_SECRET });
      const same = await api('PUT', '/api/v1/credentials/contoso', { name: 'contoso', tenantId: built.tenantId, clientId: built.clientId, authorityHost: 'https://login.example.net', clientSecretExpires: '2027-01-01' });
      assert.equal(same.status, 200, same.text);
      assert.equal((await api('GET', '/api/v1/credentials/contoso/rotation')).json.secondary.kind, 'secret');
      const exported = s.svc.deps.senders!.exportConfig();
      assert.ok(!JSON.stringify(exported).includes(NEW_SECRET));
      assert.ok(!JSON.stringify(exported).includes('Encrypted'));
      assert.equal((await api('GET', '/api/v1/credentials/nope/rotation')).status, 404);
      assert.equal((await api('POST', '/api/v1/credentials/nope/secondary', { clientSecret: NEW_SECRET })).status, 404);
    } finally {
      await s.close();
    }
  });

  it('a default credential from the environment is read-only: 409 credential-read-only; its secondary comes from MAILGATE_CLIENT_SECRET_SECONDARY', async () => {
    const built = buildTenantState({});
    const s = await setup({ MAILGATE_CLIENT_ID: built.clientId, MAILGATE_TENANT_ID: built.tenantId, MAILGATE_CLIENT_SECRET: 'env-primary-secret-value-0123456789', MAILGATE_CLIENT_SECRET_SECONDARY: 'env-secondary-secret-value-012345', MAILGATE_AUTHORIZED_FROM: built.authorizedFrom });
    try {
      const view = await s.api('GET', '/api/v1/credentials/default/rotation');
      assert.deepEqual([view.json.source, view.json.readOnly, view.json.secondary.kind], ['environment', true, 'secret']);
      for (const [method, path] of [['POST', '/api/v1/credentials/default/promote'], ['DELETE', '/api/v1/credentials/default/secondary']] as const) {
        const r = await s.api(method, path, method === 'POST' ? {} : undefined);
        assert.equal(r.status, 409, r.text);
        assert.equal(r.json.type, 'urn:mailgate:problem:credential-read-only');
        assert.match(r.json.detail, /environment variables/);
      }
      assert.ok(!view.text.includes('env-secondary-secret-value'));
    } finally {
      await s.close();
    }
  });
});

describe('credential rotation with MAILGATE_CONFIG', () => {
  it('a file credential\'s secondary (references) is used and shown; rotation steps answer 409 credential-read-only', async () => {
    const built = buildTenantState({});
    const t = tempDir('mailgate-rotation-file-');
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const path = join(t.dir, 'mailgate.yaml');
    writeFileSync(path, `credentials:
  - name: contoso
    tenantId: ${built.tenantId}
    clientId: ${built.clientId}
    clientSecret: env:CONTOSO_SECRET
    secondary:
      clientSecret: env:CONTOSO_SECRET_NEXT
      clientSecretExpires: 2028-02-01
senders:
  - address: ${built.authorizedFrom}
    credential: contoso
`);
    const s = await setup({ MAILGATE_CONFIG: path, CONTOSO_SECRET: 'file-primary-secret-value-0123456789', CONTOSO_SECRET_NEXT: 'file-secondary-secret-value-012345' });
    try {
      const view = await s.api('GET', '/api/v1/credentials/contoso/rotation');
      assert.equal(view.status, 200, view.text);
      assert.deepEqual([view.json.source, view.json.readOnly, view.json.secondary.kind, view.json.secondary.expires], ['file', true, 'secret', '2028-02-01']);
      // The default sender's settings carry the secondary (so the token provider can fail over).
      assert.equal(s.svc.settings.settings()!.clientSecretSecondary!.reveal(), 'file-secondary-secret-value-012345');
      const add = await s.api('POST', '/api/v1/credentials/contoso/secondary', { clientSecret: NEW_SECRET });
      assert.equal(add.status, 409);
      assert.equal(add.json.type, 'urn:mailgate:problem:credential-read-only');
      assert.match(add.json.detail, /MAILGATE_CONFIG/);
      assert.equal((await s.api('POST', '/api/v1/credentials/contoso/promote', { force: true })).status, 409);
      const exported = JSON.stringify(s.svc.deps.senders!.exportConfig());
      assert.match(exported, /"secondary":\{"clientSecret":"env:CONTOSO_SECRET_NEXT"/);
      assert.ok(!exported.includes('file-secondary-secret-value'));
      assert.ok(!view.text.includes('file-secondary-secret-value'));
    } finally {
      await s.close();
      t.remove();
    }
  });
});

describe('credential rotation with a certificate', () => {
  it('a certificate secondary: kind, thumbprint and expiry from the certificate; a real test; a certificate not uploaded fails with AADSTS700027', async () => {
    const { createClientCertificate } = await import('../../src/emulator/index.js');
    const uploaded = await createClientCertificate({ commonName: 'mailgate-rotation' });
    const stranger = await createClientCertificate({ commonName: 'not-uploaded' });
    const s = await setup();
    try {
      const { built, emulator, api } = s;
      const state = structuredClone(built.state);
      state.tenants[0]!.apps[0]!.certificates.push({ thumbprintSha256: uploaded.thumbprintSha256, pem: uploaded.certPem, expires: new Date(Date.now() + 200 * 86_400_000).toISOString() } as never);
      emulator.setState(state);
      await api('PUT', '/api/v1/settings/email', { authorityHost: emulator.authorityHost, tenantId: built.tenantId, clientId: built.clientId, clientSecret: built.clientSecret, authorizedFrom: built.authorizedFrom });
      const notPem = await api('POST', '/api/v1/credentials/default/secondary', { clientCertificate: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----' });
      assert.equal(notPem.status, 422);
      const strangerPem = `${stranger.certPem}\n${stranger.privateKeyPem}`;
      const added = await api('POST', '/api/v1/credentials/default/secondary', { clientCertificate: strangerPem });
      assert.equal(added.status, 201, added.text);
      assert.deepEqual([added.json.secondary.kind, added.json.secondary.thumbprint], ['certificate', stranger.thumbprintSha1]);
      assert.ok(added.json.secondary.expires);
      assert.ok(!added.text.includes('PRIVATE KEY'));
      const refused = await api('POST', '/api/v1/credentials/default/test', { slot: 'secondary' });
      assert.deepEqual([refused.json.ok, refused.json.code], [false, 'AADSTS700027']);
      await api('DELETE', '/api/v1/credentials/default/secondary');
      await api('POST', '/api/v1/credentials/default/secondary', { clientCertificate: `${uploaded.certPem}\n${uploaded.privateKeyPem}` });
      const ok = await api('POST', '/api/v1/credentials/default/test', { slot: 'secondary' });
      assert.equal(ok.json.ok, true, ok.text);
      const promoted = await api('POST', '/api/v1/credentials/default/promote', {});
      assert.deepEqual([promoted.json.primary.kind, promoted.json.secondary.kind], ['certificate', 'secret']);
      // The certificate is now the Email Settings' primary (PEM, stored encrypted), the secret the secondary.
      assert.ok(s.svc.settings.settings()!.clientCertificatePem);
      assert.equal(s.svc.settings.settings()!.clientSecret, undefined);
      assert.equal(s.svc.settings.settings()!.clientSecretSecondary!.reveal(), built.clientSecret);
      const rows = JSON.stringify(await s.svc.store.getSettings());
      assert.ok(!rows.includes('PRIVATE KEY'), 'the key is stored encrypted');
    } finally {
      await s.close();
    }
  });
});
