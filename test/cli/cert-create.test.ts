/**
 * `mailgate cert create` end to end (issue 17): the files (modes, never overwritten), the SHA-1
 * thumbprint as Entra shows it and the exact upload commands; then the new certificate uploaded
 * to the emulator's app, and `mailgate doctor` with it: Entra issues a token (the certificate is
 * accepted), the settings check reports the thumbprint and expiry, and warns at 30 days with the
 * renewal commands.
 */
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli, singleJson } from '../helpers/cli.js';
import { tempDir } from '../service/helpers.js';

const fixture = useEmulatedTenants();

test('cert create, upload, doctor: Entra accepts the new certificate; thumbprint, expiry and the 30-day warning', async () => {
  const t0 = fixture.tenant();
  const d = tempDir('mailgate-cert-');
  try {
    const out = join(d.dir, 'cert');
    const r = await runCli(['cert', 'create', '--days', '30', '--out', out, '--client-id', t0.clientId], {});
    assert.equal(r.code, 0, r.stderr);
    const certPem = readFileSync(join(out, 'cert.pem'), 'utf8');
    const x509 = new X509Certificate(certPem);
    const sha1 = x509.fingerprint.replace(/:/g, '');
    assert.match(sha1, /^[0-9A-F]{40}$/);
    assert.match(r.stdout, new RegExp(`^Thumbprint \\(SHA-1, as Entra shows it\\): ${sha1}$`, 'm'));
    assert.ok(r.stdout.includes(`az ad app credential reset --id ${t0.clientId} --cert @${join(out, 'cert.pem')} --append`), r.stdout);
    assert.match(r.stdout, /App registrations → \(the app [0-9a-f-]{36}\) → Certificates & secrets → Certificates → Upload certificate/);
    // The rotation way for a credential that works now: added as the secondary, tested, promoted.
    assert.ok(r.stdout.includes(`mailgate credentials add default --certificate ${join(out, 'client.pem')}`), r.stdout);
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(statSync(join(out, 'key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(out, 'client.pem')).mode & 0o777, 0o600);
    const client = readFileSync(join(out, 'client.pem'), 'utf8');
    assert.ok(client.includes(certPem.trim()) && x509.checkPrivateKey(createPrivateKey(readFileSync(join(out, 'key.pem')))));
    assert.ok(!r.stdout.includes('PRIVATE KEY'), 'the key is never printed');

    const again = await runCli(['cert', 'create', '--out', out], {});
    assert.equal(again.code, 2, 'an existing key is never overwritten');
    assert.match(again.stderr, /already exists/);
    assert.equal(readFileSync(join(out, 'cert.pem'), 'utf8'), certPem);
    assert.equal((await runCli(['cert', 'create', '--days', '0', '--out', join(d.dir, 'x')], {})).code, 2);

    // Upload cert.pem to the app (what `az ad app credential reset --cert` does), no secret.
    const t = fixture.tenant({ clientSecret: null, certificates: [{ certPem, thumbprintSha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(), expires: new Date(x509.validTo).toISOString() }] });
    const doc = await runCli(['doctor', '--json'], fixture.envFor(t, { MAILGATE_CLIENT_CERTIFICATE_PATH: join(out, 'client.pem') }));
    const report = singleJson(doc.stdout);
    const byId = (id: string) => report.checks.find((c: { id: string }) => c.id === id);
    assert.equal(byId('token').status, 'pass', JSON.stringify(byId('token')));
    assert.equal(byId('token').details.credential, 'certificate');
    const settings = byId('settings');
    assert.equal(settings.status, 'warn');
    assert.equal(settings.details.certificateThumbprint, sha1);
    assert.equal(settings.details.certificateNotAfter, new Date(x509.validTo).toISOString());
    assert.match(settings.fix, new RegExp(`The client certificate ${sha1} of app ${t.clientId} expires in 29 days \\(`));
    assert.match(settings.fix, /mailgate cert create --days 365/);
    assert.ok(settings.commands.includes(`az ad app credential reset --id ${t.clientId} --cert @cert.pem --append`));
  } finally {
    d.remove();
  }
});

test('doctor asks for "Client Secret expires" when it is missing, and warns with the renewal commands at 7 days', async () => {
  const t = fixture.tenant();
  const plain = singleJson((await runCli(['doctor', '--json'], fixture.envFor(t))).stdout);
  const s1 = plain.checks.find((c: { id: string }) => c.id === 'settings');
  assert.equal(s1.status, 'pass');
  assert.match(s1.details.credentialExpiry, /enter "Client Secret expires" \(MAILGATE_CLIENT_SECRET_EXPIRES\)/);
  // In the summary too, which the text report shows without --verbose.
  assert.match(s1.summary, /^Settings are valid \(.*\)\. The client secret of app .* has no known expiry: enter "Client Secret expires"/);
  const text = await runCli(['doctor'], fixture.envFor(t));
  assert.match(text.stdout, /settings .*has no known expiry: enter "Client Secret expires" \(MAILGATE_CLIENT_SECRET_EXPIRES\)/);
  const soon = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);
  const warned = singleJson((await runCli(['doctor', '--json'], fixture.envFor(t, { MAILGATE_CLIENT_SECRET_EXPIRES: soon }))).stdout);
  const s2 = warned.checks.find((c: { id: string }) => c.id === 'settings');
  assert.equal(s2.status, 'warn');
  assert.match(s2.fix, new RegExp(`The client secret of app ${t.clientId} expires in [45] days \\(${soon} 00:00 UTC\\)\\. Renew it this week\\.`));
  assert.ok(s2.commands.some((c: string) => c.startsWith(`az ad app credential reset --id ${t.clientId} --append`)));
  assert.ok(s2.commands.some((c: string) => c.includes('Add-MgApplicationPassword')));
});
