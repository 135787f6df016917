#!/usr/bin/env node
// The `mailgate` command's launcher (package.json "bin"). Committed with its execute bit so
// `npx mailgate` keeps working after `npm run build` recreates dist/ (tsc writes files without
// one). It only loads the compiled CLI, and says how to build it when it is missing.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(`mailgate: the compiled CLI is missing (${fileURLToPath(main)}); build it with: npm run build\n`);
  process.exit(1);
}
await import(main.href);
