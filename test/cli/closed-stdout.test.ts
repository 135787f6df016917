/**
 * A command whose stdout nobody reads any more: `mailgate emulator | head -1` (head exits after
 * the ready line), a closed terminal. Node reports the failed write (EPIPE) as an 'error' event
 * on process.stdout and nobody listened, so the emulator ended with exit 1 right after printing,
 * taking the tenant a test or `mailgate dev` was using with it. src/cli/main.ts holds the error
 * for stdout and stderr: the output is lost, the command goes on. Asserted with a real process
 * whose stdout pipe is closed before it writes: it keeps running and its SMTP port answers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { describe, it } from 'node:test';

const MAIN = 'dist/src/cli/main.js';

describe('a command whose stdout reader went away', () => {
  it('mailgate emulator keeps running (EPIPE on its ready line is not fatal)', async () => {
    const proc = spawn(process.execPath, [MAIN, 'emulator', '--smtp-port', '0', '--https-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.destroy();
    let err = '';
    proc.stderr.on('data', (d) => (err += String(d)));
    try {
      const smtpPort = await new Promise<number>((resolve, reject) => {
        proc.stderr.on('data', () => {
          const m = /listening: smtp [\d.]+:(\d+)/.exec(err);
          if (m) resolve(Number(m[1]));
        });
        proc.once('exit', (code) => reject(new Error(`the emulator exited with ${code} before listening: ${err}`)));
      });
      // The ready line went to the closed pipe by now; give the EPIPE time to surface.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const greeting = await new Promise<string>((resolve, reject) => {
        const c = connect(smtpPort, '127.0.0.1');
        c.once('data', (d) => {
          resolve(String(d));
          c.destroy();
        });
        c.once('error', reject);
      });
      assert.match(greeting, /^220 /, 'the emulator still answers SMTP');
      assert.equal(proc.exitCode, null, `still running (stderr: ${err.slice(-300)})`);
    } finally {
      if (proc.exitCode === null) {
        const gone = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill('SIGTERM');
        await gone;
      }
    }
  });
});
