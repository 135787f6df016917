/**
 * Several senders (issue 16): the one schema (paths named, every problem at once, secrets by
 * reference only), the choice of the sender from the API's `from`, API keys limited to senders,
 * the sender recorded on each message and the listing filtered by it, the stored credentials
 * and senders (secrets encrypted, write-only, the redirect rule per credential), and the
 * upgrade of a data dir made by the release before senders (test/fixtures/pre-senders).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chooseSender, parseSendersConfig, type SenderInfo } from '../../src/core/senders.js';
import { checkConfigFile, parseConfigText, singleSenderEnvConflicts } from '../../src/config/mailgate-config.js';
import { createLogger } from '../../src/log/logger.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { FakeMailer, LineCapture, tempDir } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
const CLIENT = '3cc0b6a1-1111-4222-8333-444455556666';
const TENANT = '6a1f0000-1111-4222-8333-444455556666';

const info = (address: string, o: Partial<SenderInfo> = {}): SenderInfo => ({ address, signInAs: address, credential: 'c', transport: 'smtp', source: 'stored', isDefault: false, ...o });

describe('sender model: the schema', () => {
  it('names the path of every problem, all at once: unknown keys, wrong types, inline secrets, unknown credentials', () => {
    const r = parseSendersConfig({
      credentials: [
        { name: 'contoso', tenantId: TENANT, clientId: CLIENT, clientSecret: 'the-actual-secret' },
        { name: 'fabrikam', tenantId: TENANT, clientId: 'not-a-guid', clientSecret: 'env:FAB', colour: 'red' },
      ],
      senders: [
        { address: 'noreply@contoso.com', credential: 'contoso' },
        { address: 'support@contoso.com', credential: 'x', maxConnections: 5 },
        { address: 'billing@contoso.com', credential: 'contoso', ratePerMinute: 'fast' },
      ],
    }, 'reference');
    assert.equal(r.ok, false);
    const messages = r.ok ? [] : r.problems.map((p) => p.message);
    const has = (re: RegExp) => assert.ok(messages.some((m) => re.test(m)), `${re} in ${JSON.stringify(messages, null, 1)}`);
    has(/^credentials\[0\]\.clientSecret: must be a reference \(env:NAME or file:\/path\), never the secret itself/);
    has(/^credentials\[1\]\.clientId: must be a GUID/);
    has(/^credentials\[1\]: unknown key "colour"/);
    has(/^senders\[1\]\.credential: no credential named "x"$/);
    has(/^senders\[1\]\.maxConnections: must be 1, 2 or 3/);
    has(/^senders\[2\]\.ratePerMinute: /);
    // and the inline secret's value is never repeated in a message
    assert.ok(!messages.some((m) => m.includes('the-actual-secret')));
  });

  it('accepts the example of the issue (YAML), with defaults', () => {
    const r = parseConfigText(`credentials:
  - name: contoso
    cloud: global
    tenantId: ${TENANT}
    clientId: ${CLIENT}
    clientSecret: env:CONTOSO_SECRET
senders:
  - address: noreply@contoso.com
    credential: contoso
  - address: support@contoso.com
    signInAs: noreply@contoso.com
    credential: contoso
    ratePerMinute: 30
`);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.equal(r.config.senders[1].signInAs, 'noreply@contoso.com');
    assert.equal(r.config.credentials[0].clientSecret, 'env:CONTOSO_SECRET');
  });

  it('the API form takes secret values only (a reference through the API could aim any env var or file at a host of its choosing)', () => {
    const r = parseSendersConfig({ credentials: [{ name: 'c', tenantId: TENANT, clientId: CLIENT, clientSecret: 'env:HOME' }], senders: [{ address: 'a@contoso.com', credential: 'c' }] }, 'value');
    assert.equal(r.ok, false);
    assert.match(JSON.stringify(!r.ok && r.problems), /references \(env:, file:\) are for the configuration file only/);
  });

  it('resolves references: env: must be set, file: must be a bounded regular file (config check names the path)', async () => {
    const t = tempDir();
    try {
      const path = join(t.dir, 'mailgate.yaml');
      writeFileSync(path, JSON.stringify({ credentials: [{ name: 'a', tenantId: TENANT, clientId: CLIENT, clientSecret: 'env:NOT_SET_ANYWHERE' }, { name: 'b', tenantId: TENANT, clientId: CLIENT, clientSecret: 'file:/dev/zero' }], senders: [{ address: 'x@contoso.com', credential: 'a' }] }));
      const r = await checkConfigFile(path, {});
      assert.equal(r.ok, false);
      const text = JSON.stringify(!r.ok && r.problems);
      assert.match(text, /credentials\[0\]\.clientSecret: the environment variable NOT_SET_ANYWHERE \(env:NOT_SET_ANYWHERE\) is not set/);
      assert.match(text, /credentials\[1\]\.clientSecret: .*regular file/);
    } finally {
      t.remove();
    }
  });

  it('MAILGATE_CONFIG with a single-sender variable is an error naming both', () => {
    const p = singleSenderEnvConflicts({ MAILGATE_CONFIG: '/etc/mailgate/mailgate.yaml', MAILGATE_CLIENT_ID: CLIENT, MAILGATE_SMTP_HOST: 'localhost' });
    assert.equal(p.length, 1);
    assert.match(p[0].message, /MAILGATE_CLIENT_ID is set together with MAILGATE_CONFIG/);
    assert.match(p[0].message, /\/etc\/mailgate\/mailgate\.yaml/);
  });
});

describe('sender model: choosing the sender', () => {
  const senders = [info('noreply@contoso.com', { isDefault: true }), info('billing@contoso.com'), info('support@contoso.com', { signInAs: 'noreply@contoso.com' })];
  it('without from: the default sender', () => {
    const c = chooseSender(undefined, senders);
    assert.ok(c.ok && c.sender.address === 'noreply@contoso.com');
  });
  it('from as an address or "Name <address>", any case', () => {
    const c = chooseSender('Billing Team <Billing@Contoso.com>', senders);
    assert.ok(c.ok && c.sender.address === 'billing@contoso.com');
    assert.equal(c.ok && c.from, 'Billing Team <Billing@Contoso.com>');
  });
  it('an unknown from: refused, naming the senders this key may use', () => {
    const c = chooseSender('ceo@contoso.com', senders, ['billing@contoso.com']);
    assert.equal(c.ok, false);
    assert.match(!c.ok ? c.message : '', /ceo@contoso\.com is not a sender this API key may use \(it may use: billing@contoso\.com\)/);
    assert.deepEqual(!c.ok && c.allowed, ['billing@contoso.com']);
  });
  it('a key limited to senders: another configured sender is refused; without from, its only sender', () => {
    assert.equal(chooseSender('noreply@contoso.com', senders, ['billing@contoso.com']).ok, false);
    const c = chooseSender(undefined, senders, ['billing@contoso.com']);
    assert.ok(c.ok && c.sender.address === 'billing@contoso.com');
    assert.equal(chooseSender(undefined, senders, ['billing@contoso.com', 'support@contoso.com']).ok, false);
  });
});

describe('senders through the API', () => {
  let svc: RunningService;
  let dir: { dir: string; remove(): void };
  let admin: string;
  let send: string;
  let billingOnly: string;
  const logs = new LineCapture();
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const r = await svc.app.request(path, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    return { status: r.status, text, json: text ? JSON.parse(text) : undefined };
  };
  before(async () => {
    dir = tempDir();
    const mailer = new FakeMailer();
    svc = await startService({
      env: { MAILGATE_DATA_DIR: dir.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_CLIENT_ID: CLIENT, MAILGATE_TENANT_ID: TENANT, MAILGATE_CLIENT_SECRET: 'default-secret-value-1', MAILGATE_AUTHORIZED_FROM: 'noreply@contoso.com' },
      listen: false,
      worker: false,
      logger: createLogger({ destination: logs, level: 'debug' }),
      createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
    });
    const now = { now: Date.now(), actor: 'test' };
    admin = (await createApiKey(svc.store, 'ops', 'admin', now)).key;
    send = (await createApiKey(svc.store, 'app', 'send', now)).key;
    billingOnly = (await createApiKey(svc.store, 'billing-app', 'send', { ...now, senders: ['Billing@contoso.com'] })).key;
  });
  after(async () => {
    await svc.stop();
    dir.remove();
  });

  it('lists the default sender made of the Email Settings, and its credential', async () => {
    const r = await call('GET', '/api/v1/senders', admin);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.items.map((s: { address: string; isDefault: boolean; credential: string }) => [s.address, s.isDefault, s.credential]), [['noreply@contoso.com', true, 'default']]);
    const c = await call('GET', '/api/v1/credentials', admin);
    assert.equal(c.json.items[0].name, 'default');
    assert.equal(c.json.items[0].clientSecretSet, true);
    assert.ok(!c.text.includes('default-secret-value-1'));
    assert.equal((await call('GET', '/api/v1/senders', send)).status, 403);
  });

  it('creates a credential (secret write-only, encrypted at rest) and senders on it', async () => {
    let r = await call('POST', '/api/v1/credentials', admin, { name: 'fabrikam', tenantId: TENANT, clientId: CLIENT, clientSecret: 'fabrikam-secret-value-42' });
    assert.equal(r.status, 201, r.text);
    assert.ok(!r.text.includes('fabrikam-secret-value-42'));
    r = await call('POST', '/api/v1/senders', admin, { address: 'billing@contoso.com', credential: 'fabrikam', ratePerMinute: 10 });
    assert.equal(r.status, 201, r.text);
    r = await call('POST', '/api/v1/senders', admin, { address: 'support@contoso.com', signInAs: 'noreply@contoso.com', credential: 'default' });
    assert.equal(r.status, 201, r.text);
    r = await call('POST', '/api/v1/senders', admin, { address: 'x@contoso.com', credential: 'nope' });
    assert.equal(r.status, 422);
    assert.match(r.text, /no credential named \\"nope\\"/);
    const list = await call('GET', '/api/v1/senders', admin);
    assert.deepEqual(list.json.items.map((s: { address: string }) => s.address), ['noreply@contoso.com', 'billing@contoso.com', 'support@contoso.com']);
    const support = list.json.items.find((s: { address: string }) => s.address === 'support@contoso.com');
    assert.equal(support.signInAs, 'noreply@contoso.com');
    // What the doctor checks per sender.
    assert.equal(svc.deps.senders!.effectiveRawFor('billing@contoso.com')?.clientSecret, 'fabrikam-secret-value-42');
    assert.equal(svc.deps.senders!.effectiveRawFor('billing@contoso.com')?.authorizedFrom, 'billing@contoso.com');
    assert.equal(svc.deps.senders!.effectiveRawFor('support@contoso.com')?.authorizedFrom, 'noreply@contoso.com');
    assert.equal(svc.deps.senders!.effectiveRawFor('noreply@contoso.com')?.clientSecret, 'default-secret-value-1');
    const db = readFileSync(join(dir.dir, 'mailgate.db'));
    assert.ok(!db.includes('fabrikam-secret-value-42'), 'the secret is encrypted at rest');
    const creds = await call('GET', '/api/v1/credentials', admin);
    assert.ok(!creds.text.includes('fabrikam-secret-value-42'));
    assert.deepEqual(creds.json.items.find((c: { name: string }) => c.name === 'fabrikam').senders, ['billing@contoso.com']);
  });

  it('moving a credential\'s endpoint needs its secret in the same request', async () => {
    let r = await call('PUT', '/api/v1/credentials/fabrikam', admin, { name: 'fabrikam', tenantId: TENANT, clientId: CLIENT, authorityHost: 'https://login.attacker.example' });
    assert.equal(r.status, 422);
    assert.match(r.text, /enter clientSecret again/);
    r = await call('PUT', '/api/v1/credentials/fabrikam', admin, { name: 'fabrikam', tenantId: TENANT, clientId: CLIENT, authorityHost: 'https://login.microsoftonline.us', clientSecret: 'fabrikam-secret-value-43' });
    assert.equal(r.status, 200, r.text);
  });

  it('a message records the sender chosen by from; an unknown from is a 422 naming the senders; the list filters by sender', async () => {
    let r = await call('POST', '/api/v1/messages', send, { from: 'Billing <billing@contoso.com>', to: 'a@example.com', subject: 's', text: 't' });
    assert.equal(r.status, 202, r.text);
    const billingId = r.json.id;
    assert.match(r.json.messageId, /@contoso\.com>$/);
    const stored = await svc.store.get(billingId);
    assert.equal(stored?.sender, 'billing@contoso.com');
    assert.equal(stored?.mailbox, 'billing@contoso.com');
    r = await call('POST', '/api/v1/messages', send, { from: 'support@contoso.com', to: 'a@example.com', subject: 's', text: 't' });
    assert.equal(r.status, 202);
    assert.equal((await svc.store.get(r.json.id))?.mailbox, 'noreply@contoso.com', 'Send As: the signed-in mailbox');
    r = await call('POST', '/api/v1/messages', send, { to: 'a@example.com', subject: 's', text: 't' });
    assert.equal((await svc.store.get(r.json.id))?.sender, 'noreply@contoso.com', 'without from: the default sender');
    r = await call('POST', '/api/v1/messages', send, { from: 'ceo@contoso.com', to: 'a@example.com', subject: 's', text: 't' });
    assert.equal(r.status, 422);
    assert.equal(r.json.type, 'urn:mailgate:problem:sender-not-allowed');
    assert.match(r.json.detail, /it may use: noreply@contoso\.com, billing@contoso\.com, support@contoso\.com/);
    const list = await call('GET', '/api/v1/messages?sender=billing@contoso.com', admin);
    assert.deepEqual(list.json.items.map((m: { id: string }) => m.id), [billingId]);
    assert.equal(list.json.items[0].sender, 'billing@contoso.com');
  });

  it('an API key limited to senders (mailgate apikey create --sender) may use only them', async () => {
    let r = await call('POST', '/api/v1/messages', billingOnly, { from: 'noreply@contoso.com', to: 'a@example.com', subject: 's', text: 't' });
    assert.equal(r.status, 422);
    assert.deepEqual(r.json.senders, ['billing@contoso.com']);
    r = await call('POST', '/api/v1/messages', billingOnly, { to: 'a@example.com', subject: 's', text: 't' });
    assert.equal(r.status, 202);
    assert.equal((await svc.store.get(r.json.id))?.sender, 'billing@contoso.com');
  });

  it('deleting a sender with queued messages is refused; a credential in use too', async () => {
    let r = await call('DELETE', '/api/v1/senders/billing@contoso.com', admin);
    assert.equal(r.status, 409);
    assert.match(r.text, /queued messages/);
    r = await call('DELETE', '/api/v1/credentials/fabrikam', admin);
    assert.equal(r.status, 409);
    assert.match(r.text, /used by billing@contoso\.com/);
    r = await call('POST', '/api/v1/senders', admin, { address: 'spare@contoso.com', credential: 'fabrikam' });
    assert.equal(r.status, 201);
    r = await call('DELETE', '/api/v1/senders/spare@contoso.com', admin);
    assert.equal(r.status, 204);
  });
});

describe('upgrade of a data dir made by the release before senders', () => {
  it('keeps the Email Settings as the default sender; queued messages belong to it', async () => {
    const t = tempDir();
    try {
      mkdirSync(t.dir, { recursive: true });
      copyFileSync(new URL('../../../test/fixtures/pre-senders/mailgate.db', import.meta.url), join(t.dir, 'mailgate.db'));
      const svc = await startService({ env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY }, listen: false, worker: false, logger: createLogger({ destination: new LineCapture() }) });
      try {
        const senders = svc.deps.senders!.list();
        assert.deepEqual(senders.map((s) => [s.address, s.signInAs, s.credential, s.isDefault, s.source]), [['noreply@contoso.com', 'noreply@contoso.com', 'default', true, 'settings']]);
        assert.equal(senders[0].settings?.clientSecret?.reveal(), 'fixture-secret-value-0005', 'the encrypted secret still decrypts');
        const m = await svc.store.get('9b2f3c1e-0000-4000-8000-000000000001');
        assert.equal(m?.status, 'queued');
        assert.equal(m?.sender, 'noreply@contoso.com');
        const keys = await svc.store.listApiKeys();
        assert.equal(keys[0].name, 'app');
        assert.equal(keys[0].senders, undefined, 'an existing key may use every sender');
        // The Email Settings view is unchanged (labels and values).
        assert.equal(svc.settings.view().values.authorizedFrom, 'Noreply@Contoso.com');
      } finally {
        await svc.stop();
      }
    } finally {
      t.remove();
    }
  });
});
