/**
 * Security replay for `--env-file` (issue 13 item 5): the file is untrusted input. A value a shell
 * would evaluate is refused, never run; no value (they are secrets) appears in any problem; the
 * emulator's env file holds a client secret and is written owner-only, also over an existing
 * world-readable file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { formatEnvFile, writeEnvFile } from '../../src/cli/env-file.js';

test('an env file value with a command substitution is refused and never executed; its value is not echoed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-sec-envfile-'));
  try {
    const marker = join(dir, 'pwned');
    const file = join(dir, 'evil.env');
    writeFileSync(file, [
      `MAILGATE_CLIENT_SECRET=$(touch ${marker})`,
      `MAILGATE_CLIENT_ID="\`touch ${marker}\`"`,
      'MAILGATE_TENANT_ID=S3cretLooking;rm',
    ].join('\n'));
    for (const cmd of [['doctor', '--env-file', file], ['send', '--env-file', file, '--to', 'a@example.com', '--subject', 's', '--text', 't']]) {
      const r = await runCli(cmd, {});
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /line 1: the value of MAILGATE_CLIENT_SECRET must be quoted/);
      assert.match(r.stderr, /line 2: the value of MAILGATE_CLIENT_ID contains \$ or a backtick/);
      assert.match(r.stderr, /line 3: the value of MAILGATE_TENANT_ID must be quoted/);
      assert.ok(!r.stderr.includes('touch') && !r.stderr.includes('S3cretLooking'), r.stderr);
    }
    assert.ok(!existsSync(marker), 'nothing in the file was executed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the env file is written 0600 even over an existing 0644 file (the secret never sits in a readable file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-sec-envfile-'));
  try {
    const file = join(dir, 'emulator.env');
    writeFileSync(file, 'OLD=1\n');
    chmodSync(file, 0o644);
    writeEnvFile(file, formatEnvFile({ MAILGATE_CLIENT_SECRET: 'Abc8Q~secret' }));
    assert.equal(statSync(file).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
