/**
 * Security replay, issue 12 item 2: special files as the client certificate path, end to end
 * against the real service and the emulator. `/dev/urandom`, `/dev/zero`, a FIFO with no
 * writer, a directory and a file over 64 KB are each refused at once with 422 naming the
 * reason, and the service stays responsive and keeps delivering. The same files named by
 * MAILGATE_CLIENT_CERTIFICATE_PATH or MAILGATE_CA_FILE stop `mailgate serve` at start with a
 * message naming the variable (instead of hanging or eating memory).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator/index.js';
import { ServiceStartError, startService } from '../../src/app/service.js';
import { AdminClient } from '../admin/helpers.js';
import { runCli } from '../helpers/cli.js';
import { MASTER_KEY, startPair, type Pair } from '../service/e2e-helpers.js';
import { tempDir } from '../service/helpers.js';

const files = tempDir('mailgate-special-');
const ADMIN_PASSWORD = 'special-files-admin-password-0123';
const FIFO = join(files.dir, 'fifo.pem');
const BIG = join(files.dir, 'big.pem');
let fifoMade = false;

before(() => {
  try {
    execFileSync('mkfifo', [FIFO]);
    fifoMade = true;
  } catch {
    console.warn('SKIPPED: mkfifo is not available, the FIFO cases are not replayed');
  }
  // Over both limits: 64 KB for a certificate file, 1 MiB for MAILGATE_CA_FILE (a CA bundle).
  writeFileSync(BIG, `-----BEGIN CERTIFICATE-----\n${'A'.repeat(1100 * 1024)}\n-----END CERTIFICATE-----\n`);
});
after(() => files.remove());

/** [path, the reason the answer must give]. */
function specialFiles(): [string, RegExp][] {
  const out: [string, RegExp][] = [
    ['/dev/urandom', /\/dev\/urandom is not a regular file \(it is a character device\)/],
    ['/dev/zero', /\/dev\/zero is not a regular file \(it is a character device\)/],
    [files.dir, /is not a regular file \(it is a directory\)/],
    [BIG, /big\.pem is too large \(\d+ bytes; at most (64 KB|1 MiB)\)/],
  ];
  if (fifoMade) out.push([FIFO, /fifo\.pem is not a regular file \(it is a FIFO \(named pipe\)\)/]);
  return out;
}

describe('security: special files as the certificate path (issue 12 item 2)', () => {
  let p: Pair;
  before(async () => {
    // The emulator's endpoints pinned in the environment: a certificate file may be set over
    // the API next to them (core/credential-destinations.ts), so the only refusal is the file's.
    const env = (e: Emulator) => ({ MAILGATE_SMTP_HOST: e.smtp.host, MAILGATE_SMTP_PORT: String(e.smtp.port), MAILGATE_AUTHORITY_HOST: e.authorityHost, MAILGATE_ADMIN_PASSWORD: ADMIN_PASSWORD });
    p = await startPair({ env });
  });
  after(() => p.stop());

  it('PUT clientCertificatePath = a device, a FIFO, a directory, a big file → 422 with the reason; the service stays responsive', { timeout: 60_000 }, async () => {
    for (const [path, reason] of specialFiles()) {
      const pending = p.api('PUT', '/api/v1/settings/email', { clientCertificatePath: path });
      // While the request runs, the event loop answers others.
      assert.equal((await p.api('GET', '/healthz')).status, 200, `${path}: healthz`);
      const r = await pending;
      assert.equal(r.status, 422, `${path}: ${r.text}`);
      const errors: { key: string; message: string }[] = r.json.errors;
      assert.deepEqual(errors.map((e) => e.key), ['clientCertificatePath'], r.text);
      assert.match(errors[0]!.message, reason);
      assert.equal(p.svc.settings.settings()?.clientCertificatePath, undefined, 'not saved');
    }
    // Still delivering with the stored secret.
    const [m] = await p.submit(1);
    await p.waitForStatus([m!.id], 'sent');
  });

  it('the admin form refuses them the same way', { timeout: 60_000 }, async () => {
    const admin = new AdminClient((path, init) => fetch(`${p.svc.url}${path}`, { ...init, redirect: 'manual' }));
    assert.equal((await admin.login(ADMIN_PASSWORD)).status, 303);
    await admin.get('/admin/settings');
    const r = await admin.post('/admin/settings', { clientCertificatePath: '/dev/urandom' });
    assert.equal(r.status, 422);
    assert.match(r.text, /\/dev\/urandom is not a regular file \(it is a character device\)/);
  });
});

describe('security: special files named by environment variables stop the start', () => {
  it('startService: MAILGATE_CLIENT_CERTIFICATE_PATH and MAILGATE_CA_FILE', { timeout: 60_000 }, async () => {
    for (const [path, reason] of specialFiles()) {
      for (const variable of ['MAILGATE_CLIENT_CERTIFICATE_PATH', 'MAILGATE_CA_FILE']) {
        const t = tempDir('mailgate-special-start-');
        try {
          await assert.rejects(
            startService({ env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, [variable]: path }, listen: false, worker: false }),
            (e: unknown) => e instanceof ServiceStartError && e.message.startsWith(`${variable} cannot be used: `) && reason.test(e.message),
            `${variable}=${path}`,
          );
        } finally {
          t.remove();
        }
      }
    }
  });

  it('`mailgate serve` exits with the variable named (a FIFO or /dev/urandom never hangs it)', { timeout: 120_000 }, async () => {
    const path = fifoMade ? FIFO : '/dev/urandom';
    const t = tempDir('mailgate-special-cli-');
    try {
      const r = await runCli(['serve'], { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_HTTP_PORT: '0', MAILGATE_CLIENT_CERTIFICATE_PATH: path }, 60_000);
      assert.notEqual(r.code, 0, 'exits with an error');
      assert.notEqual(r.code, null, 'exits by itself (not killed after the timeout)');
      assert.match(r.stderr, /MAILGATE_CLIENT_CERTIFICATE_PATH cannot be used: .* is not a regular file/);
    } finally {
      t.remove();
    }
  });

  it('a missing file from the environment does not stop the start (it may be provisioned later; delivery waits)', { timeout: 30_000 }, async () => {
    const t = tempDir('mailgate-special-missing-');
    try {
      const svc = await startService({ env: { MAILGATE_DATA_DIR: t.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_CLIENT_CERTIFICATE_PATH: join(t.dir, 'later.pem') }, listen: false, worker: false });
      assert.equal(svc.settings.view().sources.clientCertificatePath, 'env');
      await svc.stop();
    } finally {
      t.remove();
    }
  });
});
