/**
 * Issue 12 item 2: a file named by a setting is read only when it is a regular file of at most
 * 64 KB, without waiting on a FIFO or reading a device, asynchronously and synchronously; and
 * the client certificate loaders report the reason under the setting's key.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadClientCertificate, readClientCertificate } from '../../src/auth/client-certificate.js';
import { BoundedFileError, readBoundedFile, readBoundedFileSync, SETTINGS_FILE_LIMIT } from '../../src/config/bounded-file.js';
import { MailgateError } from '../../src/core/errors.js';
import { tempDir } from '../service/helpers.js';

function mkfifo(path: string): boolean {
  try {
    execFileSync('mkfifo', [path]);
    return true;
  } catch {
    return false;
  }
}

const readers = {
  async: (p: string, limit?: number) => readBoundedFile(p, limit),
  sync: async (p: string, limit?: number) => readBoundedFileSync(p, limit),
};

describe('readBoundedFile / readBoundedFileSync', () => {
  for (const [name, read] of Object.entries(readers)) {
    it(`${name}: reads a regular file up to the limit, refuses one byte more`, async () => {
      const t = tempDir();
      try {
        const ok = join(t.dir, 'ok.pem');
        writeFileSync(ok, Buffer.alloc(SETTINGS_FILE_LIMIT, 'a'));
        assert.equal((await read(ok)).length, SETTINGS_FILE_LIMIT);
        const big = join(t.dir, 'big.pem');
        writeFileSync(big, Buffer.alloc(SETTINGS_FILE_LIMIT + 1, 'a'));
        await assert.rejects(read(big), (e: BoundedFileError) => e.reason === 'too-large' && /too large \(65537 bytes; at most 64 KB\)/.test(e.message));
        const empty = join(t.dir, 'empty');
        writeFileSync(empty, '');
        assert.equal((await read(empty)).length, 0);
      } finally {
        t.remove();
      }
    });

    it(`${name}: refuses a directory, a character device, a FIFO (without waiting for a writer), and names a missing file`, { timeout: 30_000 }, async () => {
      const t = tempDir();
      try {
        await assert.rejects(read(t.dir), (e: BoundedFileError) => e.reason === 'not-a-regular-file' && /is not a regular file \(it is a directory\)/.test(e.message));
        await assert.rejects(read('/dev/urandom'), (e: BoundedFileError) => e.reason === 'not-a-regular-file' && /character device/.test(e.message));
        await assert.rejects(read('/dev/zero'), (e: BoundedFileError) => e.reason === 'not-a-regular-file');
        const fifo = join(t.dir, 'fifo');
        if (mkfifo(fifo)) await assert.rejects(read(fifo), (e: BoundedFileError) => e.reason === 'not-a-regular-file' && /FIFO/.test(e.message));
        else console.warn('mkfifo is not available: the FIFO case is not tested here');
        await assert.rejects(read(join(t.dir, 'missing.pem')), (e: BoundedFileError) => e.reason === 'unreadable' && /cannot read .*missing\.pem \(ENOENT\)/.test(e.message));
      } finally {
        t.remove();
      }
    });
  }
});

describe('client certificate files', () => {
  it('both loaders refuse a device as the certificate path, under clientCertificatePath', { timeout: 30_000 }, async () => {
    const check = (e: unknown) =>
      e instanceof MailgateError && e.code === 'SETTINGS_INVALID' && e.problems?.[0]?.key === 'clientCertificatePath' && /Client certificate: \/dev\/urandom is not a regular file/.test(e.message);
    assert.throws(() => loadClientCertificate({ path: '/dev/urandom' }), check);
    await assert.rejects(readClientCertificate({ path: '/dev/urandom' }), check);
  });
});
