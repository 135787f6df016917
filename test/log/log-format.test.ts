/**
 * MAILGATE_LOG_FORMAT (issue 13, item 20): `serve` keeps pino JSON by default, `pretty` gives
 * short readable lines (still redacted), an unknown value stops start-up naming the variable,
 * and `mailgate dev` prints readable lines by default (JSON on request).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger, logFormat } from '../../src/log/logger.js';
import { prettyLine } from '../../src/log/pretty.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlMzY1LmNvbSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU';

describe('log format', () => {
  it('json is the default: one JSON object per line', () => {
    const saved = process.env.MAILGATE_LOG_FORMAT;
    delete process.env.MAILGATE_LOG_FORMAT;
    try {
      const { lines, stream } = capture();
      createLogger({ destination: stream }).info({ messageId: 'm1' }, 'message sent');
      const entry = JSON.parse(lines[0]) as { msg: string; messageId: string; level: number };
      assert.deepEqual([entry.msg, entry.messageId, entry.level], ['message sent', 'm1', 30]);
    } finally {
      if (saved !== undefined) process.env.MAILGATE_LOG_FORMAT = saved;
    }
  });

  it('pretty (from MAILGATE_LOG_FORMAT) prints one short line, redacted like the JSON', () => {
    const saved = process.env.MAILGATE_LOG_FORMAT;
    process.env.MAILGATE_LOG_FORMAT = 'pretty';
    try {
      const { lines, stream } = capture();
      const log = createLogger({ destination: stream });
      log.warn({ messageId: 'm1', attempt: 2, reply: '421 4.3.2 try later' }, 'delivery deferred');
      log.error({ clientSecret: 'Sx8Q~plain-secret-value-1234567890', err: Object.assign(new TypeError(`token ${JWT} refused`), { code: 'AUTH_FAILED' }) }, `failed with ${JWT}`);
      assert.equal(lines.length, 2);
      assert.match(lines[0], /^\d\d:\d\d:\d\d\.\d{3} WARN  delivery deferred messageId=m1 attempt=2 reply="421 4\.3\.2 try later"\n$/);
      assert.match(lines[1], /^\d\d:\d\d:\d\d\.\d{3} ERROR failed with .* clientSecret=\[redacted\] err="TypeError: token .* refused \(code AUTH_FAILED\)"\n(    at .*\n)+$/);
      assert.ok(!lines.join('').includes(JWT), 'the token leaked');
      assert.ok(!lines.join('').includes('plain-secret-value'), 'the secret leaked');
      assert.ok(!lines.join('').includes('"level"'));
    } finally {
      if (saved === undefined) delete process.env.MAILGATE_LOG_FORMAT;
      else process.env.MAILGATE_LOG_FORMAT = saved;
    }
  });

  it('pretty keeps an error\'s stack frames and its cause (scrubbed), and no entry can forge another line', () => {
    const { lines, stream } = capture();
    const log = createLogger({ destination: stream, format: 'pretty' });
    function failingStep(): never {
      throw new Error(`outer with ${JWT}`, { cause: new RangeError(`inner with ${JWT}`) });
    }
    try {
      failingStep();
    } catch (err) {
      log.error({ err }, 'unhandled error in HTTP request\n00:00:00.000 INFO  forged entry');
    }
    const out = lines.join('');
    assert.match(out, /^\d\d:\d\d:\d\d\.\d{3} ERROR unhandled error in HTTP request\\n00:00:00\.000 INFO  forged entry err="Error: outer with \[redacted\]"\n/);
    assert.match(out, /\n    at failingStep \(.*log-format\.test\.js:\d+:\d+\)\n/, out);
    assert.match(out, /\n    caused by: RangeError: inner with \[redacted\]\n    at /, out);
    assert.ok(!out.includes(JWT), 'the token leaked');
    assert.equal(out.split('\n').filter((l) => /^\d\d:/.test(l)).length, 1, out);
  });

  it('an unknown format is refused, naming the variable; serve exits 1 before starting', () => {
    assert.throws(() => logFormat('xml'), /MAILGATE_LOG_FORMAT must be json or pretty \(was "xml"\)/);
    assert.equal(logFormat(undefined, 'pretty'), 'pretty');
    assert.equal(logFormat('json', 'pretty'), 'json');
    const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'serve'], { env: { ...process.env, MAILGATE_LOG_FORMAT: 'xml', MAILGATE_DATA_DIR: '/nonexistent/never-created' }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /MAILGATE_LOG_FORMAT must be json or pretty/);
  });

  it('a line that is not JSON passes through', () => {
    assert.equal(prettyLine('plain text'), 'plain text\n');
  });
});

describe('mailgate dev logs', () => {
  async function devStderr(env: Record<string, string>): Promise<string> {
    const p = spawn(process.execPath, ['dist/src/cli/main.js', 'dev', '--temp', '--port', '0'], { env: { ...process.env, MAILGATE_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += String(d)));
    p.stderr!.on('data', (d) => (err += String(d)));
    const exited = new Promise((r) => p.once('exit', r));
    try {
      const end = Date.now() + 30_000;
      while (!out.includes('Press Ctrl-C') && p.exitCode === null && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.ok(out.includes('Press Ctrl-C'), `dev did not start: ${err}`);
    } finally {
      p.kill('SIGINT');
      await exited;
    }
    return err;
  }

  it('are short readable lines by default, JSON with MAILGATE_LOG_FORMAT=json', async () => {
    const pretty = await devStderr({ MAILGATE_LOG_FORMAT: '' });
    assert.match(pretty, /^\d\d:\d\d:\d\d\.\d{3} INFO  Email Settings changed version=\d+ valid=true$/m);
    assert.ok(!/^\{/m.test(pretty), pretty);
    const json = await devStderr({ MAILGATE_LOG_FORMAT: 'json' });
    assert.match(json, /^\{"level":30,.*"msg":"Email Settings changed"\}$/m);
  });
});
