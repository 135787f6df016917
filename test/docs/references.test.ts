/**
 * Every document a comment, script or README points to is in this repository (issue 13,
 * item 21): sources used to cite `shared/reference/*.md`, which only the authors had. They now
 * cite `docs/<name>.md §N`; this test resolves each such path (and its first section number)
 * in src/, scripts/, test/, bench/, deploy/, .ci/, README.md and ARCHITECTURE.md, and the
 * relative links of the Markdown files.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';

const ROOTS = ['src', 'scripts', 'test', 'bench', 'deploy', '.ci', 'README.md', 'ARCHITECTURE.md'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'scratch', 'fixtures']);

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => (SKIP_DIRS.has(name) ? [] : files(join(path, name))));
}

const sources = ROOTS.flatMap(files).filter((f) => /\.(ts|mjs|js|sh|md|cf|conf|ext|service|env)$|\/run$/.test(f));
const SELF = 'test/docs/references.test.ts';

/**
 * Whether `doc` has section `id`: a heading `## 4.`, `### 8.2 ...`, `### 4a. ...`, or for
 * `§10.3` (item 3 of the numbered list of section 10, as docs/m365.md §10 is written) a
 * heading `## 10.` whose section holds a list item `3.`.
 */
function hasSection(doc: string, id: string): boolean {
  const lines = readFileSync(doc, 'utf8').split('\n');
  const heading = (x: string) => lines.findIndex((l) => new RegExp(`^#+ ${x.replace('.', '\\.')}[. ]`).test(l));
  if (heading(id) >= 0) return true;
  const [top, item] = id.split('.');
  const start = heading(top);
  if (item === undefined || start < 0) return false;
  const end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l));
  return lines.slice(start, end < 0 ? undefined : end).some((l) => l.startsWith(`${item}. `));
}

describe('references to documents', () => {
  it('finds the files to scan', () => {
    assert.ok(sources.length > 100, `only ${sources.length} files scanned`);
  });

  it('no source cites a document outside the repository', () => {
    const bad: string[] = [];
    for (const file of sources.filter((f) => f !== SELF)) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (line.includes('shared/reference')) bad.push(`${file}:${i + 1}: ${line.trim()}`);
        // A bare reference-note name (m365.md §4) leaves the reader guessing where it is.
        if (/(?<![\w/.-])(m365|dependencies|perf-calibration|peers|anchors)\.md/.test(line)) bad.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(bad, []);
  });

  it('every docs/... path exists, and every cited § is a heading of that document', () => {
    const bad: string[] = [];
    let seen = 0;
    for (const file of sources) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        for (const m of line.matchAll(/(?<![\w/.-])docs\/[\w./-]*[\w]/g)) {
          seen++;
          const path = m[0];
          if (!existsSync(path)) {
            bad.push(`${file}:${i + 1}: ${path} does not exist`);
            continue;
          }
          const section = /^\s+§(\d+[a-z]?(?:\.\d+)?)/.exec(line.slice(m.index! + path.length));
          if (section && !hasSection(path, section[1])) {
            bad.push(`${file}:${i + 1}: ${path} has no section §${section[1]}`);
          }
        }
      });
    }
    assert.ok(seen > 40, `only ${seen} docs/ references found: is the pattern still right?`);
    assert.deepEqual(bad, []);
  });

  it('relative links in the Markdown files resolve', () => {
    const bad: string[] = [];
    for (const file of [...sources.filter((f) => f.endsWith('.md')), ...files('docs').filter((f) => f.endsWith('.md'))]) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
        if (!existsSync(normalize(join(dirname(file), target)))) bad.push(`${file}: link to ${target} does not resolve`);
      }
    }
    assert.deepEqual(bad, []);
  });
});
