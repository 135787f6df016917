/**
 * relay-tls.ts: the generated certificate is made once and reused (same fingerprint across
 * starts; key file 0600), given PEM files are used and reloaded when they change (a broken
 * replacement keeps the previous certificate), and a half-given or mismatched pair is refused
 * with the file named.
 */
import assert from 'node:assert/strict';
import { copyFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ensureGeneratedCertificate, loadRelayTls, RelayTlsError } from '../../src/service/intake/relay/relay-tls.js';
import { tempDir } from '../service/helpers.js';

describe('relay TLS certificate', () => {
  it('generates once into the data dir and reuses it', async () => {
    const t = tempDir('mailgate-relay-tls-');
    try {
      const a = await loadRelayTls({ dataDir: t.dir });
      assert.equal(a.generated, true);
      assert.equal(a.info().source, 'generated');
      assert.match(a.info().fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      assert.ok(a.info().expiresAt > Date.now() + 365 * 86_400_000);
      assert.equal(statSync(join(t.dir, 'relay-tls', 'key.pem')).mode & 0o777, 0o600);
      const b = await loadRelayTls({ dataDir: t.dir });
      assert.equal(b.generated, false);
      assert.equal(b.info().fingerprint256, a.info().fingerprint256);
    } finally {
      t.remove();
    }
  });

  it('uses given files, reloads them when they change, keeps the old one when the new one is broken', async () => {
    const t = tempDir('mailgate-relay-tls-files-');
    try {
      const one = await ensureGeneratedCertificate(join(t.dir, 'one'));
      const two = await ensureGeneratedCertificate(join(t.dir, 'two'));
      const cert = join(t.dir, 'cert.pem');
      const key = join(t.dir, 'key.pem');
      copyFileSync(one.certFile, cert);
      copyFileSync(one.keyFile, key);
      const errors: Error[] = [];
      const tls = await loadRelayTls({ dataDir: t.dir, certFile: cert, keyFile: key, reloadCheckMs: 0, onReloadError: (e) => errors.push(e) });
      const first = tls.info().fingerprint256;
      assert.equal(tls.info().source, 'files');
      copyFileSync(two.certFile, cert);
      copyFileSync(two.keyFile, key);
      tls.context();
      const second = tls.info().fingerprint256;
      assert.notEqual(second, first, 'reloaded');
      writeFileSync(cert, 'not a certificate');
      tls.context();
      assert.equal(tls.info().fingerprint256, second, 'a broken replacement keeps the previous certificate');
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /cert\.pem/);

      copyFileSync(one.certFile, cert);
      await assert.rejects(loadRelayTls({ dataDir: t.dir, certFile: cert, keyFile: two.keyFile }), (e: Error) => e instanceof RelayTlsError && /cannot be used together/.test(e.message));
      await assert.rejects(loadRelayTls({ dataDir: t.dir, certFile: cert }), (e: Error) => e instanceof RelayTlsError && /go together/.test(e.message));
      await assert.rejects(loadRelayTls({ dataDir: t.dir, certFile: '/dev/zero', keyFile: key }), (e: Error) => e instanceof RelayTlsError && /\/dev\/zero/.test(e.message));
    } finally {
      t.remove();
    }
  });
});
