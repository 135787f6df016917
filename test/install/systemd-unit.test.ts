/**
 * deploy/mailgate.service (issue 13, item 19): the hardening a production unit needs is there,
 * every variable it and the example environment file set is one Mailgate reads, and
 * `systemd-analyze verify` accepts it without a warning (skipped, saying so, where systemd is
 * not installed). verify needs ExecStart to exist, so it checks a copy whose ExecStart runs this
 * checkout's bin/mailgate.js.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { SETTINGS_FIELDS } from '../../src/core/settings.js';
import { SERVICE_VARS } from '../../src/service/config.js';

const UNIT = readFileSync('deploy/mailgate.service', 'utf8');

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

describe('deploy/mailgate.service', () => {
  it('runs as a dedicated user, sandboxed, with a state directory, an environment file and a restart policy', () => {
    const d = directives(UNIT);
    const one = (k: string) => d.get(k)?.at(-1);
    assert.equal(one('User'), 'mailgate');
    assert.equal(one('StateDirectory'), 'mailgate');
    assert.equal(one('StateDirectoryMode'), '0700');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('PrivateTmp'), 'yes');
    assert.equal(one('ProtectHome'), 'yes');
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('EnvironmentFile'), '/etc/mailgate/mailgate.env');
    assert.equal(one('KillSignal'), 'SIGTERM');
    assert.match(one('ExecStart') ?? '', /\/mailgate serve$/);
    assert.ok(d.get('Environment')?.includes('MAILGATE_DATA_DIR=/var/lib/mailgate'), 'the data dir is the state directory');
    assert.equal(d.has('MemoryDenyWriteExecute'), false, 'V8 needs writable executable memory');
  });

  it('sets only variables Mailgate reads (the unit and the example environment file)', () => {
    const known = new Set([...SERVICE_VARS.map((v) => v.env), ...SETTINGS_FIELDS.map((f) => f.env), 'MAILGATE_MASTER_KEY', 'MAILGATE_ADMIN_PASSWORD', 'MAILGATE_LOG_LEVEL', 'MAILGATE_LOG_FORMAT', 'NODE_ENV']);
    const env = readFileSync('deploy/mailgate.env.example', 'utf8');
    const names = [
      ...(directives(UNIT).get('Environment') ?? []).map((e) => e.split('=')[0]),
      ...env.split('\n').map((l) => /^#?([A-Z][A-Z0-9_]+)=/.exec(l)?.[1]).filter((n): n is string => !!n),
    ];
    assert.ok(names.length >= 8);
    // The documented set-up is loopback behind a reverse proxy: the login limiter must see the
    // forwarded client, or one wrong-password burst locks every administrator out (issue 12 item 8).
    assert.match(env, /^MAILGATE_TRUST_PROXY=on$/m);
    assert.match(readFileSync('deploy/README.md', 'utf8'), /MAILGATE_TRUST_PROXY=on/);
    assert.deepEqual(names.filter((n) => !known.has(n)), []);
  });

  it('passes systemd-analyze verify without warnings', (t) => {
    const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      process.stderr.write('SKIP systemd-analyze verify: systemd-analyze is not installed here (CI on Debian has it)\n');
      t.skip('systemd-analyze is not installed');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'mailgate-unit-'));
    try {
      const unit = join(dir, 'mailgate.service');
      writeFileSync(unit, UNIT.replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${resolve('bin/mailgate.js')} serve`));
      const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 60_000 });
      // verify prints problems (unknown keys, bad values) on stderr and may still exit 0.
      const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('mailgate.service'));
      assert.deepEqual(problems, []);
      assert.equal(r.status, 0, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
