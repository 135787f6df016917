/**
 * ARCHITECTURE.md's import rules, executed: the repository passes scripts/check-imports.mjs, and
 * the checker itself catches each kind of import (static, type-only, multi-line, re-export,
 * dynamic) and names the offending file, line and rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';

const check = (root?: string) =>
  spawnSync(process.execPath, ['scripts/check-imports.mjs', ...(root ? [root] : [])], { encoding: 'utf8' });

test('the repository keeps its import rules', () => {
  const r = check();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /import rules: ok/);
});

test('the checker names every kind of forbidden import with its file, line and rule', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mailgate-imports-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  mkdirSync(join(root, 'scripts'));
  copyFileSync('scripts/import-rules.mjs', join(root, 'scripts/import-rules.mjs'));
  write('src/admin/index.ts', 'export const admin = 1;\n');
  write('src/service/store.ts', 'export type Store = {};\n');
  write('src/emulator/index.ts', 'export const emulator = 1;\n');
  write('src/core/pure.ts', [
    '/** A comment that says: import { x } from \'../service/store.js\' is not an import. */',
    'import type {',
    '  Store,',
    '} from \'../service/store.js\';',
    'export type S = Store;',
    '',
  ].join('\n'));
  write('src/service/wires.ts', [
    'import { readFileSync } from \'node:fs\';',
    'export { admin } from \'../admin/index.js\';',
    'export async function later() { return import(\'../emulator/index.js\'); }',
    '',
  ].join('\n'));
  write('src/transport/smtp.ts', 'import nodemailer from \'nodemailer/lib/smtp-connection\';\nimport { token } from \'../auth/token.js\';\n');
  write('src/auth/token.ts', 'export const token = 1;\n');
  write('src/cli/commands/emulator.ts', 'import { emulator } from \'../../emulator/index.js\';\n');

  const r = check(root);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.ok(lines.some((l) => l.startsWith('src/core/pure.ts:4 imports \'../service/store.js\'') && l.includes('core-is-pure')), r.stderr);
  assert.ok(lines.some((l) => l.startsWith('src/service/wires.ts:2 ') && l.includes('service-below-admin-cli-emulator')), r.stderr);
  assert.ok(lines.some((l) => l.startsWith('src/service/wires.ts:3 ') && l.includes('emulator-only-for-dev-and-tests')), r.stderr);
  assert.ok(lines.some((l) => l.startsWith('src/transport/smtp.ts:2 ') && l.includes('transport-not-auth')), r.stderr);
  // Allowed: Node built-ins, nodemailer inside transport/, the emulator command's own import.
  assert.ok(!r.stderr.includes('node:fs'), r.stderr);
  assert.ok(!lines.some((l) => l.startsWith('src/transport/smtp.ts:1 ')), r.stderr);
  assert.ok(!r.stderr.includes('src/cli/commands/emulator.ts'), r.stderr);
  assert.ok(!lines.some((l) => l.startsWith('src/core/pure.ts:1 ')), 'a comment is not an import');
});
