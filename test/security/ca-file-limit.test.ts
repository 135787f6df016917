/**
 * One limit for MAILGATE_CA_FILE (config/bounded-file.ts CA_BUNDLE_FILE_LIMIT, 1 MiB) in `serve`
 * and in the CLI: a real CA bundle (~200 KB) works in both (`serve` once refused anything over
 * 64 KB), and a 2 MiB file is refused by both, naming the variable.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';
import { runCli } from '../helpers/cli.js';
import { ServiceStartError, startService } from '../../src/app/service.js';
import { CA_BUNDLE_FILE_LIMIT } from '../../src/config/bounded-file.js';

const fixture = useEmulatedTenants();
const dir = mkdtempSync(join(tmpdir(), 'mailgate-ca-limit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const MASTER_KEY = Buffer.alloc(32, 5).toString('base64');

/** A ~200 KB PEM bundle holding the emulator's CA (repeated, as a bundle holds many CAs). */
function bundle200k(): string {
  const pem = readFileSync(fixture.emu.caFile, 'utf8').trim();
  const copies = Math.ceil((200 * 1024) / pem.length);
  const file = join(dir, 'bundle-200k.pem');
  writeFileSync(file, `${Array.from({ length: copies }, () => pem).join('\n')}\n`);
  assert.ok(readFileSync(file).length > 200 * 1024 && readFileSync(file).length < CA_BUNDLE_FILE_LIMIT);
  return file;
}

function bundle2m(): string {
  const file = join(dir, 'bundle-2m.pem');
  writeFileSync(file, Buffer.alloc(2 * 1024 * 1024, 'x'));
  return file;
}

test('serve: a 200 KB CA bundle starts the service; a 2 MiB file stops the start naming MAILGATE_CA_FILE', async () => {
  const data = mkdtempSync(join(dir, 'data-'));
  const svc = await startService({ env: { MAILGATE_DATA_DIR: data, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_CA_FILE: bundle200k() }, listen: false, worker: false });
  await svc.stop();
  await assert.rejects(
    startService({ env: { MAILGATE_DATA_DIR: data, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_CA_FILE: bundle2m() }, listen: false, worker: false }),
    (e: unknown) => e instanceof ServiceStartError && /^MAILGATE_CA_FILE cannot be used: .*too large \(\d+ bytes; at most 1 MiB\)/.test(e.message),
  );
});

test('send: a 200 KB CA bundle is trusted (the message arrives); a 2 MiB file is exit 2 naming MAILGATE_CA_FILE', async () => {
  const t = fixture.tenant();
  // Only the bundle may make the emulator trusted: no NODE_EXTRA_CA_CERTS.
  const env = { ...fixture.envFor(t), NODE_EXTRA_CA_CERTS: undefined };
  const args = ['send', '--to', 'a@example.com', '--subject', 'CA bundle', '--text', 'x'];
  const ok = await runCli(args, { ...env, MAILGATE_CA_FILE: bundle200k() });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const big = await runCli(args, { ...env, MAILGATE_CA_FILE: bundle2m() });
  assert.equal(big.code, 2, big.stdout + big.stderr);
  assert.match(big.stderr, /MAILGATE_CA_FILE: .*bundle-2m\.pem is larger than 1 MiB/);
});
