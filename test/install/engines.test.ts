/**
 * Every installed dependency supports the Node.js we run on (issue 13, item 2): commander 15
 * needs Node 22.12 and made every `npm ci` on Node 20 warn EBADENGINE while the README and
 * `engines` say Node 20. This walks node_modules (nested and scoped packages included) and the
 * lockfile (what `npm ci` installs on a clean clone) and checks each `engines.node` range against
 * the running Node with semver, the library npm's own engine check uses (a devDependency for
 * this reason). `.ci/run` also fails when `npm ci` prints EBADENGINE.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string, options?: { includePrerelease?: boolean }): boolean;
  minVersion(range: string): { version: string } | null;
};

/** As npm-install-checks does: prereleases of Node count. */
const supports = (range: string) => semver.satisfies(process.version, range, { includePrerelease: true });

function packageDirs(modules: string): string[] {
  if (!existsSync(modules)) return [];
  const out: string[] = [];
  for (const name of readdirSync(modules)) {
    if (name.startsWith('.')) continue;
    const dir = join(modules, name);
    if (name.startsWith('@')) {
      for (const sub of readdirSync(dir)) out.push(join(dir, sub), ...packageDirs(join(dir, sub, 'node_modules')));
    } else {
      out.push(dir, ...packageDirs(join(dir, 'node_modules')));
    }
  }
  return out;
}

describe('dependency engines', () => {
  it(`every installed package supports Node ${process.version}`, () => {
    const dirs = packageDirs('node_modules').filter((d) => existsSync(join(d, 'package.json')));
    assert.ok(dirs.length > 20, 'node_modules looks empty');
    const bad: string[] = [];
    for (const dir of dirs) {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string; engines?: { node?: string } };
      const range = pkg.engines?.node;
      if (range && !supports(range)) bad.push(`${pkg.name}@${pkg.version} requires node ${range} (${dir})`);
    }
    assert.deepEqual(bad, []);
  });

  it('every package in package-lock.json supports the running Node and the oldest Node our engines field admits', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };
    const oldest = semver.minVersion(pkg.engines.node)!.version;
    assert.ok(semver.satisfies(oldest, '20.x'), `package.json engines.node (${pkg.engines.node}) must start at Node 20, as the README says`);
    const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean; os?: string[] }> };
    const bad: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (range && !supports(range)) bad.push(`${path || '(root)'}@${entry.version} requires node ${range}`);
      if (range && !semver.satisfies(oldest, range, { includePrerelease: true })) bad.push(`${path || '(root)'}@${entry.version} requires node ${range}, above our engines (${pkg.engines.node})`);
    }
    assert.deepEqual(bad, []);
  });

  it('the check would catch commander 15 (the range that broke Node 20)', () => {
    assert.equal(semver.satisfies('20.19.0', '>=22.12.0', { includePrerelease: true }), false);
  });
});
