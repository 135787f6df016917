/**
 * Security replay, issue 12 item 1: an admin key tries to redirect a stored (or
 * environment-provided) credential to a server of its own, end to end against the real service
 * (`startService`: HTTP socket, SQLite, delivery thread) and the Microsoft 365 emulator, with a
 * second emulator as the attacker (its certificate is trusted, as in the report).
 *
 * For every credential kind × destination field: `PUT /api/v1/settings/email` answers 422
 * problem+json naming the credential to enter again, nothing changes, mail still goes to the
 * real server, and the attacker never sees a connection, a token request or an AUTH. A control
 * shows the attacker would have seen the AUTH had the change been accepted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SettingKey } from '../../src/core/settings.js';
import { buildTenantState, createClientCertificate, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { attackPatch, DESTINATION_FIELDS, envFor, envLocked, KINDS, makeMaterial, otherModePatch, setupPatch, type CredentialKind, type Material } from '../helpers/credential-matrix.js';
import { fastClassify, MASTER_KEY } from '../service/e2e-helpers.js';
import { LineCapture, tempDir, waitFor } from '../service/helpers.js';

let legit: Emulator;
let attacker: Emulator;
let m: Material;

before(async () => {
  const cert = await createClientCertificate();
  const password = 'Security-Basic-Password!0123';
  const built = buildTenantState({ certificates: [{ certPem: cert.certPem, thumbprintSha256: cert.thumbprintSha256 }], basicAuthPassword: password });
  legit = await startEmulator(built.state, { limits: { messagesPerMinute: Infinity } });
  attacker = await startEmulator(buildTenantState().state, { limits: { messagesPerMinute: Infinity } });
  m = await makeMaterial({ clientId: built.clientId, tenantId: built.tenantId, authorizedFrom: built.authorizedFrom, secret: built.clientSecret!, password }, cert);
});
after(async () => {
  await legit?.stop();
  await attacker?.stop();
});

interface Running {
  svc: RunningService;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string; type: string | null }>;
  stop(): Promise<void>;
}

async function start(env: Record<string, string>): Promise<Running> {
  const t = tempDir('mailgate-security-');
  const svc = await startService({
    env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_HTTP_PORT: '0', MAILGATE_RATE_PER_MINUTE: '1000000', MAILGATE_POLL_INTERVAL_MS: '50', ...env },
    // Both CAs are trusted: the attacker's server certificate is as good as the real one.
    ca: `${legit.caPem}\n${attacker.caPem}`,
    logger: createLogger({ destination: new LineCapture(), level: 'info' }),
    mailerDeps: { tokenRetry: { maxAttempts: 1 } },
    classify: fastClassify,
    workerOptions: { backoff: { baseMs: 20, maxMs: 200 } },
  });
  const key = (await createApiKey(svc.store, 'security', 'admin', { now: Date.now(), actor: 'test' })).key;
  return {
    svc,
    async api(method, path, body) {
      const r = await fetch(`${svc.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, json: text ? JSON.parse(text) : undefined, text, type: r.headers.get('content-type') };
    },
    async stop() {
      await svc.stop();
      t.remove();
    },
  };
}

/** Everything the attacker's emulator saw: SMTP sessions (with any AUTH) and token requests. */
function attackerSaw(): string {
  return JSON.stringify(attacker.log());
}

/** The attacker's value for a field (its own SMTP port and authority host). */
function attack(field: SettingKey, kind: CredentialKind): Record<string, unknown> {
  const p = attackPatch(field, kind, { host: 'localhost', port: attacker.smtp.port });
  if (field === 'authorityHost') p.authorityHost = attacker.authorityHost;
  return p;
}

/** The kinds whose set-up can deliver through the real emulator (a certificate file keeps the cloud's own endpoints). */
const deliverable = (k: CredentialKind) => k.source === 'stored' && k.key !== 'clientCertificatePath';

// The mode attack switches the mode first: last.
const FIELDS: SettingKey[] = [...DESTINATION_FIELDS.filter((f) => f !== 'useModernAuth'), 'useModernAuth'];

describe('security: a stored credential cannot be redirected (issue 12 item 1)', () => {
  for (const kind of KINDS) {
    it(`${kind.name}: every destination change without it is 422 and the attacker sees nothing`, { timeout: 120_000 }, async () => {
      const r = await start(envFor(kind, m));
      try {
        const destinations = deliverable(kind) ? { smtpHost: legit.smtp.host, smtpPort: legit.smtp.port, authorityHost: legit.authorityHost } : {};
        const saved = await r.api('PUT', '/api/v1/settings/email', setupPatch(kind, m, destinations));
        assert.equal(saved.status, 200, saved.text);
        for (const field of FIELDS) {
          if (field === 'useModernAuth') {
            if (deliverable(kind)) {
              // Before the mode changes: mail still goes to the real server with the credential.
              const sent = await r.api('POST', '/api/v1/messages', { to: 'user@example.com', subject: `still delivered (${kind.name})`, text: 'hello' });
              assert.equal(sent.status, 202, sent.text);
              await waitFor(async () => (await r.svc.store.get(sent.json.id))?.status === 'sent', 20_000, 'the message sent to the real server');
            }
            if (!envLocked(kind, field)) assert.equal((await r.api('PUT', '/api/v1/settings/email', otherModePatch(kind, m))).status, 200, 'switched to the other mode');
          }
          const version = (await r.api('GET', '/api/v1/settings/email')).json.version;
          const res = await r.api('PUT', '/api/v1/settings/email', attack(field, kind));
          assert.equal(res.status, 422, `${field}: ${res.text}`);
          assert.equal(res.type, 'application/problem+json');
          assert.equal(res.json.type, 'urn:mailgate:problem:validation');
          if (envLocked(kind, field)) {
            assert.deepEqual(res.json.errors.map((e: { key: string }) => e.key), [field]);
          } else {
            assert.ok(res.json.reenter.includes(kind.key), `${field}: names ${kind.key}: ${res.text}`);
            assert.match(res.json.detail, /Enter again \(or clear\) in the same request: /);
          }
          for (const secret of [m.secret, m.password, m.pem.split('\n')[1]!]) assert.ok(!res.text.includes(secret), 'no secret in the answer');
          assert.equal((await r.api('GET', '/api/v1/settings/email')).json.version, version, `${field}: nothing saved`);
        }
        assert.equal(attackerSaw(), '[]', 'the attacker saw no connection, no token request, no AUTH');
      } finally {
        await r.stop();
      }
    });
  }

  it('the report’s reproduction: MAILGATE_CLIENT_CERTIFICATE_PATH, no secret, PUT smtpHost + smtpPort → 422, and authorityHost → 422', { timeout: 60_000 }, async () => {
    const r = await start({
      MAILGATE_CLIENT_CERTIFICATE_PATH: m.certPath,
      MAILGATE_CLIENT_ID: m.clientId,
      MAILGATE_TENANT_ID: m.tenantId,
      MAILGATE_AUTHORIZED_FROM: m.authorizedFrom,
    });
    try {
      const a = await r.api('PUT', '/api/v1/settings/email', { smtpHost: 'localhost', smtpPort: attacker.smtp.port });
      assert.equal(a.status, 422, a.text);
      assert.deepEqual(a.json.reenter, ['clientCertificatePath']);
      assert.match(a.json.errors[0].message, /comes from the environment.*MAILGATE_SMTP_HOST, MAILGATE_SMTP_PORT/);
      const b = await r.api('PUT', '/api/v1/settings/email', { authorityHost: attacker.authorityHost });
      assert.equal(b.status, 422, b.text);
      assert.equal(attackerSaw(), '[]');
    } finally {
      await r.stop();
    }
  });

  it('control: an administrator who holds the secret may move it, and then the attacker server does see the AUTH', { timeout: 60_000 }, async () => {
    const kind = KINDS.find((k) => k.key === 'clientSecret' && k.source === 'stored')!;
    const r = await start({});
    try {
      assert.equal((await r.api('PUT', '/api/v1/settings/email', setupPatch(kind, m, { smtpHost: legit.smtp.host, smtpPort: legit.smtp.port, authorityHost: legit.authorityHost }))).status, 200);
      const moved = await r.api('PUT', '/api/v1/settings/email', { smtpHost: 'localhost', smtpPort: attacker.smtp.port, clientSecret: m.secret });
      assert.equal(moved.status, 200, moved.text);
      const sent = await r.api('POST', '/api/v1/messages', { to: 'user@example.com', subject: 'control', text: 'control' });
      assert.equal(sent.status, 202);
      await waitFor(() => attacker.log().some((e) => e.kind === 'smtp' && e.auth.length > 0), 20_000, 'an AUTH at the attacker (the detector works)');
    } finally {
      await r.stop();
      attacker.clearLog();
    }
  });
});
