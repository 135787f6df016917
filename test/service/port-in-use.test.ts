/**
 * A newcomer whose port 8025 is taken (another Mailgate, another tool): `mailgate dev` (and so
 * `npm run dev`) stops with a message that says how to pick another port, with the option the
 * command has (`--port`, through npm: `npm run dev -- --port N`) and the variable.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { test } from 'node:test';

const MAIN = resolve('dist/src/cli/main.js');

test('mailgate dev on a port in use exits 1 naming --port and MAILGATE_HTTP_PORT', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
  const port = (taken.address() as { port: number }).port;
  try {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MAILGATE_')) env[k] = v;
    const p = spawn(process.execPath, [MAIN, 'dev', '--temp', '--port', String(port)], { env: { ...env, MAILGATE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += String(d)));
    const code = await new Promise<number | null>((r) => p.once('close', (c) => r(c)));
    assert.equal(code, 1, err);
    assert.match(err, new RegExp(`mailgate dev: Cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
    assert.match(err, /--port N or MAILGATE_HTTP_PORT=N \(npm run dev -- --port N; 0 picks a free one\)/);
  } finally {
    await new Promise((r) => taken.close(r));
  }
});
