/**
 * Configuration as code (issue 16): `mailgate config check|import|export` as a user runs them,
 * and MAILGATE_CONFIG at service start (the file's senders in effect and read-only; the
 * single-sender variables refused next to it, naming both).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/log/logger.js';
import { startService, ServiceStartError } from '../../src/app/service.js';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { runCli } from '../helpers/cli.js';
import { LineCapture, tempDir } from './helpers.js';

const MASTER_KEY = Buffer.alloc(32, 9).toString('base64');
const CLIENT = '3cc0b6a1-1111-4222-8333-444455556666';
const TENANT = '6a1f0000-1111-4222-8333-444455556666';

const YAML = `credentials:
  - name: contoso
    tenantId: ${TENANT}
    clientId: ${CLIENT}
    clientSecret: env:CONTOSO_SECRET
  - name: fabrikam
    tenantId: fabrikam.onmicrosoft.com
    clientId: ${CLIENT}
    clientSecret: env:FABRIKAM_SECRET
    smtpHost: smtp.fabrikam.example
senders:
  - address: noreply@contoso.com
    credential: contoso
  - address: support@contoso.com
    signInAs: noreply@contoso.com
    credential: contoso
    ratePerMinute: 30
  - address: billing@fabrikam.com
    credential: fabrikam
    maxConnections: 2
`;

describe('mailgate config check / import / export', () => {
  it('check names every problem with its path and exits 1; a good file passes', async () => {
    const t = tempDir();
    try {
      const bad = join(t.dir, 'bad.yaml');
      writeFileSync(bad, YAML.replace('credential: fabrikam', 'credential: x').replace('env:CONTOSO_SECRET', 'hunter2-inline-secret').replace('maxConnections: 2', 'maxConnections: 2\n    colour: red'));
      const r = await runCli(['config', 'check', bad], { CONTOSO_SECRET: 's1', FABRIKAM_SECRET: 's2' });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /credentials\[0\]\.clientSecret: must be a reference/);
      assert.match(r.stderr, /senders\[2\]\.credential: no credential named "x"/);
      assert.match(r.stderr, /senders\[2\]: unknown key "colour"/);
      assert.ok(!r.stderr.includes('hunter2-inline-secret'));
      const good = join(t.dir, 'good.yaml');
      writeFileSync(good, YAML);
      const ok = await runCli(['config', 'check', good], { CONTOSO_SECRET: 's1', FABRIKAM_SECRET: 's2' });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /2 credential\(s\), 3 sender\(s\); the default sender is noreply@contoso\.com/);
      const unset = await runCli(['config', 'check', good], { CONTOSO_SECRET: 's1' });
      assert.equal(unset.code, 1);
      assert.match(unset.stderr, /credentials\[1\]\.clientSecret: the environment variable FABRIKAM_SECRET/);
    } finally {
      t.remove();
    }
  });

  it('import stores it (the first sender becomes the Email Settings), export prints it back without a secret value', async () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'mailgate.yaml');
      writeFileSync(file, YAML);
      const env = { MAILGATE_DATA_DIR: join(t.dir, 'data'), MAILGATE_MASTER_KEY: MASTER_KEY, CONTOSO_SECRET: 'contoso-secret-value-1', FABRIKAM_SECRET: 'fabrikam-secret-value-2' };
      const imp = await runCli(['config', 'import', file], env);
      assert.equal(imp.code, 0, imp.stderr);
      assert.match(imp.stdout, /3 sender\(s\)/);
      assert.match(imp.stdout, /the default sender is noreply@contoso\.com/);
      const exp = await runCli(['config', 'export', '--json'], env);
      assert.equal(exp.code, 0, exp.stderr);
      const doc = JSON.parse(exp.stdout);
      assert.deepEqual(doc.senders.map((s: { address: string }) => s.address), ['noreply@contoso.com', 'support@contoso.com', 'billing@fabrikam.com']);
      assert.equal(doc.credentials.find((c: { name: string }) => c.name === 'fabrikam').clientSecret, 'env:FABRIKAM_SECRET', 'a reference stays a reference');
      assert.ok(!exp.stdout.includes('contoso-secret-value-1') && !exp.stdout.includes('fabrikam-secret-value-2'));
      assert.match(exp.stderr, /client secret is stored encrypted and is not exported/);
    } finally {
      t.remove();
    }
  });
});

describe('MAILGATE_CONFIG', () => {
  it('the file\'s senders are in effect and read-only through the API', async () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'mailgate.yaml');
      writeFileSync(file, YAML);
      const svc = await startService({
        env: { MAILGATE_DATA_DIR: join(t.dir, 'data'), MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_CONFIG: file, CONTOSO_SECRET: 'contoso-secret-value-1', FABRIKAM_SECRET: 'fabrikam-secret-value-2', MAILGATE_SMTP_HOST: 'smtp.override.example' },
        listen: false,
        worker: false,
        logger: createLogger({ destination: new LineCapture() }),
      });
      try {
        const senders = svc.deps.senders!;
        assert.ok(senders.fromFile);
        assert.deepEqual(senders.list().map((s) => [s.address, s.signInAs, s.credential, s.source, s.isDefault]), [
          ['noreply@contoso.com', 'noreply@contoso.com', 'contoso', 'file', true],
          ['support@contoso.com', 'noreply@contoso.com', 'contoso', 'file', false],
          ['billing@fabrikam.com', 'billing@fabrikam.com', 'fabrikam', 'file', false],
        ]);
        // The environment's endpoint override applies where a credential sets none; a credential's own wins.
        assert.equal(senders.get('noreply@contoso.com')!.settings!.smtpHost, 'smtp.override.example');
        assert.equal(senders.get('billing@fabrikam.com')!.settings!.smtpHost, 'smtp.fabrikam.example');
        assert.equal(senders.get('support@contoso.com')!.ratePerMinute, 30);
        assert.equal(senders.get('billing@fabrikam.com')!.settings!.clientSecret!.reveal(), 'fabrikam-secret-value-2');
        const admin = (await createApiKey(svc.store, 'ops', 'admin', { now: Date.now(), actor: 'test' })).key;
        const r = await svc.app.request('/api/v1/senders', { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ address: 'new@contoso.com', credential: 'contoso' }) });
        assert.equal(r.status, 409);
        assert.match(await r.text(), /configured by MAILGATE_CONFIG/);
        const creds = await (await svc.app.request('/api/v1/credentials', { headers: { authorization: `Bearer ${admin}` } })).text();
        assert.ok(!creds.includes('fabrikam-secret-value-2') && !creds.includes('contoso-secret-value-1'));
      } finally {
        await svc.stop();
      }
    } finally {
      t.remove();
    }
  });

  it('together with a single-sender variable it is an error naming both; a bad file stops the start naming the path', async () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'mailgate.yaml');
      writeFileSync(file, YAML);
      const base = { MAILGATE_DATA_DIR: join(t.dir, 'data'), MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_CONFIG: file, CONTOSO_SECRET: 'a', FABRIKAM_SECRET: 'b' };
      await assert.rejects(startService({ env: { ...base, MAILGATE_AUTHORIZED_FROM: 'x@contoso.com' }, listen: false, worker: false, logger: createLogger({ destination: new LineCapture() }) }),
        (e: Error) => e instanceof ServiceStartError && /MAILGATE_AUTHORIZED_FROM is set together with MAILGATE_CONFIG/.test(e.message));
      writeFileSync(file, YAML.replace('credential: fabrikam', 'credential: nope'));
      await assert.rejects(startService({ env: base, listen: false, worker: false, logger: createLogger({ destination: new LineCapture() }) }),
        (e: Error) => e instanceof ServiceStartError && /senders\[2\]\.credential: no credential named "nope"/.test(e.message));
    } finally {
      t.remove();
    }
  });
});
