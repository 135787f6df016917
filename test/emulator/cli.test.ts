// `mailgate emulator` as a process: one JSON ready line on stdout within 2 s, a working token
// endpoint behind it, ca.pem in --data-dir, a clean exit on SIGTERM/SIGINT, and a readable
// error for a bad --state file.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildTenantState } from '../../src/emulator/index.js';
import { postTokenForm } from '../helpers/emulator-client.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');

interface Started {
  child: ChildProcess;
  ready: any;
  elapsedMs: number;
  stderr: () => string;
}

function startCli(args: string[]): Promise<Started> {
  const started = Date.now();
  const child = spawn(process.execPath, [MAIN, 'emulator', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const newline = stdout.indexOf('\n');
      if (newline !== -1) resolve({ child, ready: JSON.parse(stdout.slice(0, newline)), elapsedMs: Date.now() - started, stderr: () => stderr });
    });
    child.on('exit', (code) => reject(new Error(`emulator exited with ${code} before the ready line: ${stderr}`)));
  });
}

const exitOf = (child: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
  if (child.exitCode !== null) return resolve({ code: child.exitCode, signal: null });
  child.once('exit', (code, signal) => resolve({ code, signal }));
});

describe('mailgate emulator (CLI)', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mailgate-emulator-cli-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  test('warns on stderr when it listens beyond loopback (its admin API serves secrets), and not on loopback', async () => {
    const open = await startCli(['--host', '0.0.0.0', '--smtp-port', '0', '--https-port', '0']);
    try {
      assert.match(open.stderr(), /warning: listening on 0\.0\.0\.0, not loopback: anyone who can reach it can read the tenant's secrets/);
    } finally {
      open.child.kill('SIGTERM');
      await exitOf(open.child);
    }
    const local = await startCli(['--smtp-port', '0', '--https-port', '0']);
    try {
      assert.doesNotMatch(local.stderr(), /warning/);
    } finally {
      local.child.kill('SIGTERM');
      await exitOf(local.child);
    }
  });

  test('prints one ready line, serves tokens, writes ca.pem, exits 0 on SIGTERM', async () => {
    const { child, ready } = await startCli(['--smtp-port', '0', '--https-port', '0', '--data-dir', dataDir]);
    try {
      assert.deepEqual(Object.keys(ready), ['smtp', 'authorityHost', 'graph', 'caFile', 'admin', 'demo']);
      assert.equal(ready.smtp.host, '127.0.0.1');
      assert.ok(ready.smtp.port > 0);
      assert.equal(ready.caFile, join(dataDir, 'ca.pem'));
      const caPem = await readFile(ready.caFile, 'utf8');
      const res = await postTokenForm({ authorityHost: ready.authorityHost, caPem }, ready.demo.tenantId, {
        grant_type: 'client_credentials', client_id: ready.demo.clientId, client_secret: ready.demo.clientSecret, scope: 'https://outlook.office365.com/.default',
      });
      assert.equal(res.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    const exit = await exitOf(child);
    assert.equal(exit.code, 0);
  });

  test('--state FILE serves that tenant (no demo block) and stops on SIGINT', async () => {
    const tenant = buildTenantState({ domain: 'fabrikam.onmicrosoft.com' });
    const file = join(dataDir, 'state.json');
    await writeFile(file, JSON.stringify(tenant.state));
    const { child, ready } = await startCli(['--state', file, '--smtp-port', '0', '--https-port', '0', '--token-lifetime', '600', '--no-limits']);
    try {
      assert.equal('demo' in ready, false);
      const caPem = await readFile(ready.caFile, 'utf8');
      const res = await postTokenForm({ authorityHost: ready.authorityHost, caPem }, 'fabrikam.onmicrosoft.com', {
        grant_type: 'client_credentials', client_id: tenant.clientId, client_secret: tenant.clientSecret!, scope: 'https://outlook.office365.com/.default',
      });
      assert.equal(res.json().expires_in, 600);
    } finally {
      child.kill('SIGINT');
    }
    assert.equal((await exitOf(child)).code, 0);
  });

  test('a bad state file: exit 1, the problems on stderr, nothing on stdout', async () => {
    const file = join(dataDir, 'bad.json');
    await writeFile(file, JSON.stringify({ tenants: [{ id: 'nope', domains: ['x.com'] }] }));
    const child = spawn(process.execPath, [MAIN, 'emulator', '--state', file, '--smtp-port', '0', '--https-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exit = await exitOf(child);
    assert.equal(exit.code, 1);
    assert.equal(stdout, '');
    assert.match(stderr, /tenants\.0\.id: must be a GUID/);
  });
});
