/**
 * compose-message.ts warms nodemailer's quoted-printable encoder before the first real body
 * (issue 19, CPU per message). Without that, the first long body made V8 compile the encoder's
 * loop on the stack (OSR) before the code after the loop had ever run; the compiled loop then
 * bailed out at the end of every later body: one deoptimization per message for the life of
 * the delivery thread (1,192 for 3,500 messages in the benchmark's burst). With concurrent OSR
 * that depends on timing; `--no-concurrent-osr` makes it happen on every run, so the test can
 * count: 300 bailouts for 300 bodies before the fix, none after.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

const COMPOSE = new URL('../../src/transport/compose-message.js', import.meta.url).href;

const SCRIPT = `
await import(${JSON.stringify(COMPOSE)});
const { encode } = await import('nodemailer/lib/qp');
const line = 'Mailgate benchmark body line: the quick brown fox jumps over the lazy dog 0123456789.';
const body = Buffer.from(Array.from({ length: 130 }, (_, i) => i + ' ' + line).join('\\r\\n'));
let out = 0;
for (let i = 0; i < 300; i++) out += encode(body).length;
process.stderr.write('encoded ' + out + '\\n');
`;

describe('quoted-printable encoder warm-up', () => {
  it('no deoptimization loop of encodeBytes over 300 bodies of 11 KB', () => {
    const r = spawnSync(process.execPath, ['--trace-deopt', '--no-concurrent-osr', '--input-type=module', '-e', SCRIPT], {
      encoding: 'utf8',
      timeout: 60_000,
      cwd: new URL('../../../', import.meta.url),
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /encoded \d+/);
    const deopts = r.stdout.split('\n').filter((l) => l.includes('bailout') && l.includes('encodeBytes')).length;
    assert.ok(deopts < 5, `encodeBytes was deoptimized ${deopts} times`);
  });
});
