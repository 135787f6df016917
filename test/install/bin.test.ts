/**
 * The `mailgate` command after a build (issue 13, item 1): `npm run build` recreates dist/
 * without execute bits, which made `npx mailgate` fail with "Permission denied". The bin is now
 * the committed launcher bin/mailgate.js (mode 100755 in git). `npm test` builds before running
 * this file, so `npx mailgate --version` here runs after a fresh build, as a user would.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { VERSION } from '../../src/version.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string; bin: Record<string, string>; scripts: Record<string, string> };

describe('the mailgate bin', () => {
  it('is the committed launcher, executable on disk and in git', () => {
    assert.deepEqual(pkg.bin, { mailgate: 'bin/mailgate.js' });
    assert.ok((statSync('bin/mailgate.js').mode & 0o111) !== 0, 'bin/mailgate.js has no execute bit');
    const git = spawnSync('git', ['ls-files', '--stage', 'bin/mailgate.js'], { encoding: 'utf8' });
    if (git.status === 0 && git.stdout) assert.match(git.stdout, /^100755 /, 'bin/mailgate.js must be committed with mode 100755');
    else process.stderr.write('bin.test: not a git checkout; the git mode of bin/mailgate.js is not checked\n');
    assert.equal(VERSION, pkg.version, 'src/version.ts and package.json disagree');
  });

  it('npx mailgate --version works after npm run build', () => {
    // The build leaves dist/src/cli/main.js without an execute bit; the launcher must not care.
    const r = spawnSync('npx', ['--no-install', 'mailgate', '--version'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), VERSION);
  });

  it('the launcher says how to build when dist/ is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailgate-bin-'));
    try {
      mkdirSync(join(dir, 'bin'));
      copyFileSync('bin/mailgate.js', join(dir, 'bin', 'mailgate.js'));
      const r = spawnSync(process.execPath, [join(dir, 'bin', 'mailgate.js'), '--version'], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /compiled CLI is missing .*build it with: npm run build/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
