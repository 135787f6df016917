/** Where things are: the repository, bench/, its git-ignored scratch folder and the results. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** This file is dist/bench/lib/paths.js once compiled. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BENCH_SRC = join(REPO_ROOT, 'bench');
export const SCRATCH = join(BENCH_SRC, 'scratch');
export const RESULTS = join(BENCH_SRC, 'results');
export const DIST_BENCH = join(REPO_ROOT, 'dist', 'bench');
export const MAILGATE_CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export function distModule(relative: string): string {
  return join(DIST_BENCH, relative);
}
