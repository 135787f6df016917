/**
 * Security replay: files named on the command line (`--env-file`, MAILGATE_CA_FILE, `--attach`,
 * `--text-file`, the emulator's `--state`) follow the same rule as files named by settings
 * (issue 12 item 2): a FIFO or a device is refused at once with the reason, never read. The CLI
 * had readers of its own that opened the path without O_NONBLOCK, so a FIFO hung the command
 * forever; each case runs the real CLI with a timeout, so a hang fails instead of stalling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';

const SETTINGS = {
  MAILGATE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
  MAILGATE_TENANT_ID: '66666666-7777-8888-9999-000000000000',
  MAILGATE_CLIENT_SECRET: 'not-used-here-0123456789',
  MAILGATE_AUTHORIZED_FROM: 'app@example.com',
};
const SEND = ['send', '--to', 'a@example.com', '--subject', 's'];

test('a FIFO named by --env-file, MAILGATE_CA_FILE, --attach, --text-file or --state is refused at once (the command never hangs)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-sec-clifiles-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'pipe');
  if (spawnSync('mkfifo', [fifo]).status !== 0) {
    t.skip('SKIPPED: mkfifo is not available here, so a FIFO cannot be named');
    return;
  }
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['MAILGATE_CA_FILE', [...SEND, '--text', 'x'], { ...SETTINGS, MAILGATE_CA_FILE: fifo }, /MAILGATE_CA_FILE: .*pipe is not a regular file \(it is a FIFO/],
    ['--attach', [...SEND, '--text', 'x', '--attach', fifo], SETTINGS, /--attach .*pipe: not a regular file \(it is a FIFO/],
    ['--text-file', [...SEND, '--text-file', fifo], SETTINGS, /--text-file .*pipe: not a regular file \(it is a FIFO/],
    ['/dev/zero as --attach', [...SEND, '--text', 'x', '--attach', '/dev/zero'], SETTINGS, /--attach \/dev\/zero: not a regular file \(it is a character device\)/],
    ['emulator --state', ['emulator', '--state', fifo], {}, /pipe is not a regular file \(it is a FIFO/],
  ];
  for (const [name, args, env, expected] of cases) {
    const r = await runCli(args, env, 15_000);
    assert.notEqual(r.code, null, `${name}: the command hung on the FIFO (killed after 15 s)`);
    assert.notEqual(r.code, 0, `${name}: ${r.stdout}`);
    assert.match(r.stderr, expected, `${name}: ${r.stderr}`);
  }
  // --env-file in-process: Node 20 itself opens a script argument named --env-file before any
  // of our code runs (nodejs/node#54232), so through the CLI a FIFO hangs in Node, not in us.
  const cliEnv = new URL('../../src/cli/cli-env.js', import.meta.url).href;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(cliEnv)}); console.log(JSON.stringify(m.cliEnvironment(${JSON.stringify(fifo)}, {}).problems));`], { encoding: 'utf8', timeout: 15_000 });
  assert.equal(r.status, 0, `--env-file: the read hung on the FIFO (killed after 15 s) ${r.stderr}`);
  assert.match(r.stdout, /--env-file .*pipe: is not a regular file \(it is a FIFO/);
});
