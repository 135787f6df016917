/**
 * `mailgate dev` keeps its API key and admin password in `<data dir>/dev-credentials.json`. The
 * file is written through a temp file created exclusively (`wx`) and renamed into place, so a
 * symlink planted at the temp name or at the final name is never followed: its target stays
 * untouched and the credentials land in a regular file of mode 0600.
 */
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { devCredentials, DEV_CREDENTIALS_FILE } from '../../src/app/dev-credentials.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { tempDir } from '../service/helpers.js';

async function withDataDir(fn: (dir: string, run: () => ReturnType<typeof devCredentials>) => Promise<void>): Promise<void> {
  const t = tempDir();
  const store = openSqliteStore(t.dir);
  try {
    await fn(t.dir, () => devCredentials(store, { dataDir: t.dir, persist: true, now: Date.now() }));
  } finally {
    await store.close();
    t.remove();
  }
}

function checkWritten(dir: string, apiKey: string): void {
  const file = join(dir, DEV_CREDENTIALS_FILE);
  const st = lstatSync(file);
  assert.ok(st.isFile(), 'a regular file, not a symlink');
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { apiKey: string }).apiKey, apiKey);
}

describe('dev-credentials.json is never written through a symlink', () => {
  it('a symlink at the temp name: its target stays untouched', async () => {
    await withDataDir(async (dir, run) => {
      const target = join(dir, 'victim.txt');
      writeFileSync(target, 'untouched\n');
      symlinkSync(target, join(dir, `${DEV_CREDENTIALS_FILE}.${process.pid}.tmp`));
      const creds = await run();
      assert.equal(readFileSync(target, 'utf8'), 'untouched\n');
      checkWritten(dir, creds.apiKey);
    });
  });

  it('a symlink at the final name: its target stays untouched and is replaced by the file', async () => {
    await withDataDir(async (dir, run) => {
      const target = join(dir, 'victim.txt');
      writeFileSync(target, 'untouched\n');
      symlinkSync(target, join(dir, DEV_CREDENTIALS_FILE));
      const creds = await run();
      assert.equal(readFileSync(target, 'utf8'), 'untouched\n');
      checkWritten(dir, creds.apiKey);
    });
  });
});
