/**
 * `--settings-file FILE` (send, doctor): the name Node 20 does not intercept. `--env-file FILE`
 * is its alias; Node 20 itself stops on `--env-file` with a missing FILE (exit 9,
 * `node: FILE: not found`, nodejs/node#54232), so a missing file must be reported by us under
 * the new name: exit 2, naming the flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, singleJson } from '../helpers/cli.js';
import { cliEnvironmentFor } from '../../src/cli/cli-env.js';

test('send/doctor --settings-file with a missing file: exit 2, our message names --settings-file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-settings-file-'));
  try {
    const missing = join(dir, 'missing.env');
    const send = await runCli(['send', '--settings-file', missing, '--to', 'a@example.com', '--subject', 's', '--text', 'x'], {});
    assert.equal(send.code, 2, send.stdout + send.stderr);
    assert.match(send.stderr, new RegExp(`--settings-file ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot be read \\(ENOENT\\)`));
    assert.doesNotMatch(send.stderr, /^node: /m);
    const doctor = await runCli(['doctor', '--settings-file', missing, '--json'], {});
    assert.equal(doctor.code, 2, doctor.stdout + doctor.stderr);
    assert.match(JSON.stringify(singleJson(doctor.stdout).error.problems), /--settings-file .*missing\.env: cannot be read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--settings-file and its alias --env-file read the same file; two different files are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-settings-file-'));
  try {
    const a = join(dir, 'a.env');
    writeFileSync(a, 'MAILGATE_TENANT_ID=11111111-2222-3333-4444-555555555555\n');
    assert.equal(cliEnvironmentFor({ settingsFile: a }, {}).env.MAILGATE_TENANT_ID, '11111111-2222-3333-4444-555555555555');
    assert.equal(cliEnvironmentFor({ envFile: a }, {}).env.MAILGATE_TENANT_ID, '11111111-2222-3333-4444-555555555555');
    assert.match(cliEnvironmentFor({ envFile: join(dir, 'nope') }, {}).problems[0].message, /^--env-file .*nope: cannot be read/);
    assert.match(cliEnvironmentFor({ settingsFile: a, envFile: join(dir, 'b.env') }, {}).problems[0].message, /name different files/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
