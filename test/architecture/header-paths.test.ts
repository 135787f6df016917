/**
 * Every module's header names what it imports ("Imports: ./store, ../outbox/payload, ...").
 * After the structure move (issue 20) many still named the old places; a reader following them
 * found nothing. Each relative path in an "Imports:" header must name a file or folder that exists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const walk = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });

/** The relative paths an "Imports:" header names that do not exist, as `file: path`. */
function staleHeaderPaths(root: string): string[] {
  const out: string[] = [];
  for (const file of walk(join(root, 'src'))) {
    const header = /^ \* Imports:([\s\S]*?)(?:\n \*\/|\n \*\n)/m.exec(readFileSync(file, 'utf8'));
    if (!header) continue;
    for (const [, rel] of header[1]!.matchAll(/(?<![\w/])(\.\.?\/[\w./-]*\w)/g)) {
      const base = resolve(dirname(file), rel!).replace(/\.js$/, '');
      if (![base, `${base}.ts`].some((p) => existsSync(p))) out.push(`${file.slice(root.length + 1)}: ${rel}`);
    }
  }
  return out;
}

test('every relative path in a module header\'s "Imports:" line exists', () => {
  assert.deepEqual(staleHeaderPaths(process.cwd()), []);
});
