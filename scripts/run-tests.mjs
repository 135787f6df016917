// Runs the compiled test files with Node's built-in test runner.
// Usage: node scripts/run-tests.mjs [substring filters...]
// Test files are dist/test/**/*.test.js; a filter keeps only paths containing it.
//
// PostgreSQL (issue 18): when a selected file has `postgres` in its path, the run needs a
// database. MAILGATE_TEST_DATABASE_URL is used when set; otherwise ONE throwaway cluster is
// started for the whole run (dist/test/helpers/pg-cluster.js: initdb in a temp dir, unix socket
// there, as the `postgres` user when we are root) and removed at the end. Without PostgreSQL
// those tests skip, loudly. The summary ends with how many PostgreSQL tests ran.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
let files = walk('dist/test').sort();
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (!files.length) {
  console.error('no test files matched');
  process.exit(1);
}

const env = { ...process.env };
let cluster;
const needsPg = files.some((f) => f.includes('postgres'));
if (needsPg && !env.MAILGATE_TEST_DATABASE_URL) {
  const { clusterUnavailableReason, startCluster } = await import(pathToFileURL(resolve('dist/test/helpers/pg-cluster.js')).href);
  const why = clusterUnavailableReason();
  if (why) {
    console.error(`\n*** WARNING: the PostgreSQL tests will SKIP: ${why}.\n*** To run them: install PostgreSQL (bash scripts/install-system-deps.sh) or set MAILGATE_TEST_DATABASE_URL=postgres://... to an empty database.\n`);
  } else {
    try {
      cluster = startCluster();
      env.MAILGATE_TEST_DATABASE_URL = cluster.url;
      console.error(`PostgreSQL: throwaway cluster in ${cluster.dir} for this run`);
    } catch (error) {
      console.error(`\n*** WARNING: the PostgreSQL tests will SKIP: the throwaway cluster did not start: ${error.message}\n`);
    }
  }
}
const cleanup = () => {
  if (cluster) {
    cluster.destroy();
    cluster = undefined;
  }
};
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });

// Each PostgreSQL test file appends how many of its tests ran on PostgreSQL to a file here
// (test/helpers/postgres.ts: countPostgresTests), summed after the run.
const countDir = needsPg ? mkdtempSync(join(tmpdir(), 'mailgate-pg-count-')) : undefined;
if (countDir) env.MAILGATE_TEST_PG_COUNT_FILE = join(countDir, 'count');
let status;
try {
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
  status = r.status ?? 1;
} finally {
  cleanup();
}
if (countDir) {
  let ran = 0;
  try {
    ran = readFileSync(join(countDir, 'count'), 'utf8').split('\n').filter(Boolean).reduce((a, n) => a + Number(n), 0);
  } catch {
    /* no PostgreSQL test ran */
  }
  rmSync(countDir, { recursive: true, force: true });
  console.log(ran > 0 ? `# PostgreSQL tests: ${ran} ran on a real PostgreSQL` : '# PostgreSQL tests: NONE ran (PostgreSQL was not available; see the warning above)');
}
process.exit(status);
