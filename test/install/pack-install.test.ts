/**
 * The production install path (issue 13, item 19): `npm pack`, then `npm install -g` of the
 * tarball into a clean prefix, gives a working `mailgate` command: the bin is linked and runs,
 * the SQL migrations are shipped (a store opens), the tests are not shipped.
 *
 * The tarball carries npm-shrinkwrap.json (the lockfile, copied by the `prepack` script), so a
 * global install gets exactly the dependency versions this checkout tests, never a newer one
 * whose `engines` leave out Node 20; the test checks commander's version in the install.
 *
 * One test, and the slowest of the suite. To keep it to seconds:
 * - the tarball is packed with --ignore-scripts from a staging copy of the package's files (the
 *   dist/ that `npm test` just built; `prepare` would recompile dist/ under the tests running
 *   next to this one), with the `prepack` step done here: the lockfile as npm-shrinkwrap.json;
 * - dependencies come from the npm cache first (--prefer-offline; `npm ci` filled it), the
 *   registry only for what is missing; when the registry cannot be reached the test is skipped,
 *   saying so on stderr (CI reaches it);
 * - install scripts are skipped and better-sqlite3's native addon is copied from this checkout
 *   when the installed better-sqlite3 is the same version (compiling it takes minutes); otherwise
 *   `npm rebuild better-sqlite3` builds it for real.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { VERSION } from '../../src/version.js';

const NETWORK = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|ENOTCACHED|network/i;

function npm(args: string[], cwd: string, timeout = 300_000) {
  return spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
}

describe('npm pack, then npm install -g of the tarball', () => {
  it('gives a working mailgate command in a clean prefix', { timeout: 600_000 }, (t) => {
    const repo = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), 'mailgate-pack-'));
    try {
      const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { files: string[]; scripts: Record<string, string> };
      assert.match(pkg.scripts.prepack, /cp package-lock.json npm-shrinkwrap.json/, 'the published package carries the lockfile');
      const stage = join(dir, 'stage');
      for (const f of [...pkg.files.filter((x) => x !== 'npm-shrinkwrap.json'), 'package.json', 'README.md']) cpSync(join(repo, f), join(stage, f), { recursive: true });
      cpSync(join(repo, 'package-lock.json'), join(stage, 'npm-shrinkwrap.json'));
      const pack = npm(['pack', '--ignore-scripts', '--pack-destination', dir], stage);
      assert.equal(pack.status, 0, pack.stderr);
      const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'));
      assert.equal(tgz, `mailgate-${VERSION}.tgz`);

      const prefix = join(dir, 'prefix');
      const install = npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--ignore-scripts', join(dir, tgz!)], dir);
      if (install.status !== 0 && NETWORK.test(install.stderr)) {
        process.stderr.write(`SKIP npm install -g of the tarball: the npm registry cannot be reached and the cache lacks packages:\n${install.stderr}\n`);
        t.skip('npm registry unreachable');
        return;
      }
      assert.equal(install.status, 0, install.stderr);

      const pkgDir = join(prefix, 'lib', 'node_modules', 'mailgate');
      const sqliteDir = join(pkgDir, 'node_modules', 'better-sqlite3');
      const version = (d: string) => (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { version: string }).version;
      const built = join(repo, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
      if (existsSync(built) && version(sqliteDir) === version(join(repo, 'node_modules', 'better-sqlite3'))) {
        mkdirSync(join(sqliteDir, 'build', 'Release'), { recursive: true });
        cpSync(built, join(sqliteDir, 'build', 'Release', 'better_sqlite3.node'));
      } else {
        process.stderr.write(`pack-install: better-sqlite3 ${version(sqliteDir)} differs from this checkout's; building it (slow)\n`);
        const rebuild = npm(['rebuild', 'better-sqlite3'], pkgDir, 540_000);
        assert.equal(rebuild.status, 0, rebuild.stderr);
      }

      assert.equal(existsSync(join(pkgDir, 'dist', 'test')), false, 'the tests are not shipped');
      assert.equal(existsSync(join(pkgDir, 'node_modules', 'typescript')), false, 'no devDependencies');
      assert.equal(version(join(pkgDir, 'node_modules', 'commander')), version(join(repo, 'node_modules', 'commander')), 'the shrinkwrap pins the tested versions');
      assert.ok(existsSync(join(pkgDir, 'deploy', 'mailgate.service')), 'the systemd unit is shipped');
      const bin = join(prefix, 'bin', 'mailgate');
      const run = (args: string[]) => spawnSync(bin, args, { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, MAILGATE_LOG_LEVEL: 'warn' } });

      const v = run(['--version']);
      assert.equal(v.status, 0, v.stderr);
      assert.equal(v.stdout.trim(), VERSION);

      const data = join(dir, 'data');
      const key = run(['apikey', 'create', 'probe', '--data-dir', data, '--json']);
      assert.equal(key.status, 0, `the installed command opens a store (SQLite, migrations): ${key.stderr}`);
      assert.match((JSON.parse(key.stdout) as { key: string }).key, /^mg_/);
      const backup = run(['backup', join(dir, 'backup.db'), '--data-dir', data]);
      assert.equal(backup.status, 0, backup.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
