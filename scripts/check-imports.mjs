// Enforces ARCHITECTURE.md's import rules (scripts/import-rules.mjs) over the source tree, so a
// layering break fails `npm test` naming the offending import instead of drifting silently.
// Usage: node scripts/check-imports.mjs [repository root]   (exit 1 and one line per violation)
//
// Why a small script and not dependency-cruiser: our compiler is TypeScript 7 (native), which
// has no JavaScript API for tools to parse .ts with, and type-only imports (erased from the
// compiled JS) must count too. Import statements in this codebase are plain ES syntax at the
// start of a line, so a line-anchored scan of the sources finds every one; the test pins the
// scanner with a fixture tree (static, type-only, multi-line, re-export and dynamic imports).
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname, relative, resolve, sep } from 'node:path';
import { builtinModules } from 'node:module';
import { pathToFileURL } from 'node:url';

const SCANNED = ['src', 'test', 'scripts', 'bench'];
const EXTENSIONS = ['.ts', '.mts', '.mjs', '.js'];

function walk(dir) {
  const out = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (EXTENSIONS.some((e) => name.endsWith(e)) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const STATIC = /^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"\n]+)['"]/gm;
const BARE = /^[ \t]*import\s*['"]([^'"\n]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g;

/** Every module specifier a source file names, with its line number. */
export function specifiersOf(text) {
  const found = [];
  for (const re of [STATIC, BARE, DYNAMIC]) {
    re.lastIndex = 0;
    let m;
    while ((m = re.exec(text))) {
      const at = m.index + m[0].lastIndexOf(m[1]);
      found.push({ specifier: m[1], line: text.slice(0, at).split('\n').length });
    }
  }
  return found;
}

const builtins = new Set(builtinModules);

/** What a specifier names: a repository path (`src/x.ts`), `pkg:NAME`, or null for Node built-ins. */
function target(root, file, specifier) {
  if (specifier.startsWith('node:') || builtins.has(specifier.split('/')[0])) return null;
  if (specifier.startsWith('.')) {
    const abs = resolve(dirname(file), specifier);
    const candidates = [abs, abs.replace(/\.js$/, '.ts'), abs.replace(/\.mjs$/, '.mts'), abs + '.ts', join(abs, 'index.ts')];
    const hit = candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? abs;
    return relative(root, hit).split(sep).join('/');
  }
  const parts = specifier.split('/');
  return 'pkg:' + (specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
}

const matches = (path, prefix) => path === prefix || path.startsWith(prefix);

export async function checkImports(root) {
  const { rules, exceptions } = await import(pathToFileURL(join(root, 'scripts', 'import-rules.mjs')).href);
  const violations = [];
  for (const dir of SCANNED) {
    for (const file of walk(join(root, dir))) {
      const from = relative(root, file).split(sep).join('/');
      for (const { specifier, line } of specifiersOf(readFileSync(file, 'utf8'))) {
        const to = target(root, file, specifier);
        if (to === null) continue;
        for (const rule of rules) {
          if (!rule.from.some((p) => matches(from, p))) continue;
          const forbidden = rule.forbid.some((p) => matches(to, p)) ||
            (rule.allowOnly !== undefined && !rule.allowOnly.some((p) => matches(to, p)));
          if (!forbidden) continue;
          const excused = exceptions.some((e) => e.rule === rule.name && matches(from, e.from) && matches(to, e.to));
          if (!excused) violations.push({ from, line, specifier, to, rule: rule.name, why: rule.why });
        }
      }
    }
  }
  return violations;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = resolve(process.argv[2] ?? '.');
  const violations = await checkImports(root);
  for (const v of violations) {
    console.error(`${v.from}:${v.line} imports '${v.specifier}' (${v.to}): breaks ${v.rule}. ${v.why}`);
  }
  if (violations.length) {
    console.error(`${violations.length} import rule violation(s); the rules and their exceptions are in scripts/import-rules.mjs`);
    process.exit(1);
  }
  console.log('import rules: ok');
}
