/**
 * The env-file format (src/cli/env-file.ts): what `mailgate emulator --env-file` writes and
 * `mailgate send/doctor --env-file` read. Strict: nothing a shell would evaluate is accepted,
 * problems name the line and key but never the value; written files are 0600.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvFileError, formatEnvFile, MAX_ENV_FILE_BYTES, parseEnvText, readEnvFile, writeEnvFile } from '../../src/cli/env-file.js';
import { cliEnvironment } from '../../src/cli/cli-env.js';

const problemsOf = (text: string): string[] => {
  try {
    parseEnvText(text);
  } catch (e) {
    if (e instanceof EnvFileError) return e.problems;
    throw e;
  }
  assert.fail('expected problems');
};

test('KEY=VALUE, export, quotes, comments and blank lines', () => {
  const vars = parseEnvText([
    '# a comment',
    '',
    'A=plain',
    'export B=with-export',
    "C='single $HOME `x` \\n kept literally'",
    'D="double \\"quoted\\" and \\\\ backslash"',
    'E=',
    'F=value # trailing comment',
    "  export   G='x' # comment",
    'H=https://127.0.0.1:8443/_emulator',
    'I=Abc8Q~x.y_z-0',
  ].join('\r\n'));
  assert.deepEqual(vars, {
    A: 'plain', B: 'with-export', C: 'single $HOME `x` \\n kept literally', D: 'double "quoted" and \\ backslash',
    E: '', F: 'value', G: 'x', H: 'https://127.0.0.1:8443/_emulator', I: 'Abc8Q~x.y_z-0',
  });
});

test('anything a shell would evaluate or split is refused, naming the line and key but not the value', () => {
  const cases: Array<[string, RegExp]> = [
    ['S=$(id)', /line 1: the value of S must be quoted/],
    ['S=`id`', /must be quoted/],
    ['S=a b', /must be quoted/],
    ['S=a;b', /must be quoted/],
    ['S="$HOME"', /contains \$ or a backtick/],
    ['S="a\\nb"', /backslash escape/],
    ["S='open", /no closing quote/],
    ["S='a'b", /text after the closing quote/],
    ['1S=x', /"1S" is not a variable name/],
    ['just words', /line 1: expected KEY=VALUE/],
    ['A=1\nA=2', /line 2: A is set twice/],
  ];
  for (const [text, want] of cases) {
    const problems = problemsOf(text);
    assert.match(problems.join('\n'), want, text);
    assert.ok(!problems.join('\n').includes('id)'), 'the value is not echoed');
  }
  assert.equal(problemsOf('A=$x\nB=ok\nC=`y`').length, 2, 'every problem is listed');
});

test('write then read round-trips; the file is 0600 even when it replaced a wider one; only regular files of bounded size are read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-envfile-unit-'));
  try {
    const file = join(dir, 'x.env');
    writeFileSync(file, 'old', { mode: 0o644 });
    chmodSync(file, 0o644);
    const vars = { MAILGATE_CA_FILE: '/tmp/with space/ca.pem', MAILGATE_CLIENT_SECRET: 'Abc8Q~x.y_z-0', EMPTY: '' };
    writeEnvFile(file, formatEnvFile(vars, ['header']));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(readFileSync(file, 'utf8'), /^# header\nexport MAILGATE_CA_FILE='\/tmp\/with space\/ca\.pem'\n/);
    assert.deepEqual(readEnvFile(file), vars);
    assert.throws(() => formatEnvFile({ A: "it's" }), /cannot be written/);

    const sub = join(dir, 'sub');
    mkdirSync(sub);
    assert.throws(() => readEnvFile(sub), /is not a regular file/);
    assert.throws(() => writeEnvFile(sub, 'A=1\n'), /exists and is not a regular file/);
    const big = join(dir, 'big.env');
    writeFileSync(big, `A=${'x'.repeat(MAX_ENV_FILE_BYTES)}\n`);
    assert.throws(() => readEnvFile(big), /larger than 64 KiB/);
    assert.throws(() => readEnvFile(join(dir, 'missing.env')), /cannot be read \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cliEnvironment: the file wins over the environment (with a warning naming the variable only), a bad CA file is a problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-cli-env-'));
  try {
    const file = join(dir, 'x.env');
    writeFileSync(file, `MAILGATE_SMTP_PORT=2587\nMAILGATE_CA_FILE=${join(dir, 'nope.pem')}\n`);
    const r = cliEnvironment(file, { MAILGATE_SMTP_PORT: '587', MAILGATE_TENANT_ID: 'kept' });
    assert.equal(r.env.MAILGATE_SMTP_PORT, '2587');
    assert.equal(r.env.MAILGATE_TENANT_ID, 'kept');
    assert.deepEqual(r.warnings, [`MAILGATE_SMTP_PORT from ${file} replaces the value in the environment`]);
    assert.match(r.problems.map((p) => p.message).join('\n'), /MAILGATE_CA_FILE: .*nope\.pem cannot be read \(ENOENT\)/);
    const pem = join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    writeFileSync(file, `NODE_EXTRA_CA_CERTS=${pem}\n`);
    const withCa = cliEnvironment(file, {});
    assert.deepEqual(withCa.problems, []);
    assert.ok(withCa.ca?.includes('BEGIN CERTIFICATE'), 'NODE_EXTRA_CA_CERTS from a file is honoured (Node reads it only at start)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
