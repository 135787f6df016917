/**
 * Recognising a full disk, and proving that space came back.
 *
 * Why: a full data disk must be reported as what it is (503 `storage-full` to clients, a
 * start-up message saying "full", /readyz not ready), not as an internal error or a permission
 * problem. SQLite reports it as SQLITE_FULL (any extended code starting so); the file system as
 * ENOSPC (also EDQUOT: a quota is the same situation to an operator).
 *
 * `probeFreeSpace` writes (and syncs) a file of a given size in the data dir and removes it,
 * whatever happens: a real write is the only check that also sees quotas and reserved blocks.
 *
 * Imports: node:fs, node:crypto.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const FULL_ERRNO = new Set(['ENOSPC', 'EDQUOT']);

/** Whether an error (SQLite or file system) means "no space left". */
export function isStorageFull(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('SQLITE_FULL') || FULL_ERRNO.has(code))) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /database or disk is full|no space left on device/i.test(message)) return true;
  }
  return false;
}

/** Write `bytes` (synced) to a probe file in `dir` and remove it; throws what the write threw. */
export function probeFreeSpace(dir: string, bytes: number): void {
  const file = join(dir, `.space-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'wx', 0o600);
    const chunk = Buffer.alloc(Math.min(bytes, 64 * 1024));
    for (let written = 0; written < bytes; ) written += writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
    fsyncSync(fd);
  } finally {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      /* never created */
    }
  }
}
