/**
 * End-to-end, as a new user follows the README: `mailgate emulator --scenario NAME
 * --write-env-file FILE` in one process, `mailgate doctor --env-file FILE` and `mailgate send
 * --env-file FILE` in others (no exported variables, no NODE_EXTRA_CA_CERTS: the file's
 * MAILGATE_CA_FILE is enough), breaking and repairing the tenant through the admin API.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLI, runCli, singleJson } from '../helpers/cli.js';
import { httpsRequest } from '../helpers/emulator-client.js';
import { parseEnvText } from '../../src/cli/env-file.js';
import { listScenarios } from '../../src/emulator/index.js';

interface Started {
  child: ChildProcess;
  ready: any;
  stderr: () => string;
}

function startEmulatorCli(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [CLI, 'emulator', '--smtp-port', '0', '--https-port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const newline = stdout.indexOf('\n');
      if (newline !== -1) resolve({ child, ready: JSON.parse(stdout.slice(0, newline)), stderr: () => stderr });
    });
    child.on('exit', (code) => reject(new Error(`emulator exited with ${code} before the ready line: ${stderr}`)));
  });
}

describe('mailgate emulator → env file → mailgate doctor / send', () => {
  let dir: string;
  let emu: Started;
  let envFile: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailgate-envfile-'));
    envFile = join(dir, 'emulator.env');
    emu = await startEmulatorCli(['--scenario', 'no-service-principal', '--write-env-file', envFile, '--data-dir', join(dir, 'emu')]);
  });
  after(async () => {
    if (emu?.child.exitCode === null) {
      emu.child.kill('SIGTERM');
      await new Promise((r) => emu.child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const admin = (path: string, method = 'GET') => httpsRequest(`${emu.ready.admin}${path}`, { method, ca: readFileSync(emu.ready.caFile, 'utf8') });

  test('the env file is 0600, parses strictly, and matches the export lines on stderr', () => {
    assert.equal(statSync(envFile).mode & 0o777, 0o600);
    const vars = parseEnvText(readFileSync(envFile, 'utf8'));
    assert.deepEqual(Object.keys(vars).sort(), ['MAILGATE_AUTHORITY_HOST', 'MAILGATE_AUTHORIZED_FROM', 'MAILGATE_CA_FILE', 'MAILGATE_CLIENT_ID', 'MAILGATE_CLIENT_SECRET', 'MAILGATE_EMULATOR_ADMIN', 'MAILGATE_GRAPH_ENDPOINT', 'MAILGATE_SMTP_HOST', 'MAILGATE_SMTP_PORT', 'MAILGATE_TENANT_ID']);
    assert.equal(vars.MAILGATE_SMTP_PORT, String(emu.ready.smtp.port));
    assert.equal(vars.MAILGATE_GRAPH_ENDPOINT, emu.ready.graph);
    assert.equal(vars.MAILGATE_AUTHORITY_HOST, emu.ready.authorityHost);
    assert.equal(vars.MAILGATE_CA_FILE, emu.ready.caFile);
    assert.equal(vars.MAILGATE_EMULATOR_ADMIN, emu.ready.admin);
    assert.equal(vars.MAILGATE_CLIENT_SECRET, emu.ready.demo.clientSecret);
    for (const [k, v] of Object.entries(vars)) assert.ok(emu.stderr().includes(`export ${k}=${v}`), `export line for ${k}`);
    assert.match(emu.stderr(), /# Scenario no-service-principal/);
  });

  test('doctor --env-file names the missing step (the emulator\'s Exchange view); after PUT scenario/healthy/ it passes', async () => {
    const broken = await runCli(['doctor', '--env-file', envFile, '--json'], {});
    assert.equal(broken.code, 1, broken.stderr);
    const auth = singleJson(broken.stdout).checks.find((c: { id: string }) => c.id === 'smtp-auth');
    assert.equal(auth.details.exchangeSide, 'no-service-principal');
    const text = await runCli(['doctor', '--env-file', envFile], {});
    assert.match(text.stdout, /Likely causes:\n {4}- Exchange Online has no service principal for app/);
    assert.ok(!text.stdout.includes(emu.ready.demo.clientSecret) && !text.stderr.includes(emu.ready.demo.clientSecret));

    assert.equal((await admin('/scenario/healthy/', 'PUT')).status, 200);
    const fixed = await runCli(['doctor', '--env-file', envFile, '--json'], {});
    assert.equal(fixed.code, 0, fixed.stdout);
  });

  test('send --env-file with --cc, --bcc, --reply-to, --html-file, --text-file and --attach: delivered as asked', async () => {
    await admin('/scenario/healthy', 'PUT');
    const html = join(dir, 'body.html');
    const text = join(dir, 'body.txt');
    const pdf = join(dir, 'report.pdf');
    writeFileSync(html, '<p>Hello <b>there</b></p>');
    writeFileSync(text, 'Hello there');
    writeFileSync(pdf, Buffer.from('%PDF-1.4 fake'));
    const r = await runCli(['send', '--env-file', envFile, '--to', 'a@example.com', '--cc', 'b@example.com', '--bcc', 'c@example.com',
      '--reply-to', 'help@example.com', '--subject', 'Files', '--html-file', html, '--text-file', text, '--attach', pdf, '--attach', text, '--json'], {});
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = singleJson(r.stdout);
    const list = (await admin('/messages')).json() as Array<{ id: string; messageId: string; to: string[] }>;
    const stored = list.find((m) => m.messageId === out.messageId)!;
    assert.deepEqual([...stored.to].sort(), ['a@example.com', 'b@example.com', 'c@example.com']);
    const raw = (await admin(`/messages/${stored.id}/raw`)).body;
    assert.match(raw, /^Cc: b@example\.com/m);
    assert.doesNotMatch(raw, /^Bcc:/m);
    assert.match(raw, /^Reply-To: help@example\.com/m);
    assert.match(raw, /Content-Type: application\/pdf; name=report\.pdf/);
    assert.match(raw, /Content-Type: text\/html/);
    assert.match(raw, /filename=body\.txt/);
  });

  test('MAILGATE_TRANSPORT=graph send --env-file: delivered through the emulator\'s Microsoft Graph', async () => {
    await admin('/scenario/healthy', 'PUT');
    const r = await runCli(['send', '--env-file', envFile, '--to', 'graph@example.com', '--subject', 'Via Graph', '--text', 'Hello', '--json'], { MAILGATE_TRANSPORT: 'graph' });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = singleJson(r.stdout);
    const list = (await admin('/messages')).json() as Array<{ messageId: string; to: string[]; transport: string }>;
    const stored = list.find((m) => m.messageId === out.messageId);
    assert.ok(stored, JSON.stringify(out));
    assert.equal(stored.transport, 'graph');
    assert.deepEqual(stored.to, ['graph@example.com']);
  });

  test('send: argument problems and settings problems in one listing (exit 2), files bounded and regular', async () => {
    const bad = join(dir, 'bad.env');
    writeFileSync(bad, `${readFileSync(envFile, 'utf8')}export MAILGATE_CLIENT_ID=not-a-guid\n`.replace(/^export MAILGATE_CLIENT_ID=.*\n/m, ''));
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    const r = await runCli(['send', '--env-file', bad, '--to', 'a@example.com', '--cc', 'bad', '--text', 'x', '--attach', sub, '--attach', join(dir, 'missing.pdf')], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Invalid arguments and settings/);
    assert.match(r.stderr, /--subject: a subject line is required \(it may be empty: --subject ""\)/);
    assert.match(r.stderr, /--attach .*a-directory: not a regular file/);
    assert.match(r.stderr, /--attach .*missing\.pdf: cannot be read \(ENOENT\)/);
    assert.match(r.stderr, /Application \(client\) ID|clientId|MAILGATE_CLIENT_ID/);
    assert.match(r.stderr, /--cc: "bad" is not a valid email address/);
    assert.doesNotMatch(r.stderr, /text is required/);
    const json = await runCli(['send', '--env-file', bad, '--to', 'nope', '--subject', 's', '--text', 'x', '--json'], {});
    assert.equal(json.code, 2);
    const keys = singleJson(json.stdout).error.problems.map((p: { key: string }) => p.key);
    assert.ok(keys.includes('to') && keys.includes('clientId'), keys.join(','));
  });

  test('a bad env file is reported by line and key, never with its value', async () => {
    const bad = join(dir, 'evil.env');
    writeFileSync(bad, 'MAILGATE_CLIENT_SECRET=$(touch /tmp/pwned)secretvalue\nnot a line\n');
    chmodSync(bad, 0o600);
    const r = await runCli(['doctor', '--env-file', bad], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /line 1: the value of MAILGATE_CLIENT_SECRET must be quoted/);
    assert.match(r.stderr, /line 2: expected KEY=VALUE/);
    assert.ok(!r.stderr.includes('secretvalue'));
  });

  test('--list-scenarios lists every scenario with the check it fails; an unknown --scenario exits 2', async () => {
    const r = await runCli(['emulator', '--list-scenarios'], {});
    assert.equal(r.code, 0);
    for (const s of listScenarios()) assert.match(r.stdout, new RegExp(`^${s.name} +\\[${s.check ? `fails: ${s.check}` : 'no failure'}`, 'm'));
    const bad = await runCli(['emulator', '--scenario', 'nope'], {});
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown scenario "nope"; known: healthy, /);
  });
});
