/**
 * A small tmpfs for disk-full tests: mount one (we run as root in CI and in the dev container),
 * fill it to the last byte, free it again. When mounting is not permitted the caller skips
 * loudly with the reason (`skipReason`), never silently passes.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Fill the file system to the last byte (a filler file); returns its size. */
  fill(): number;
  /** Remove the filler. */
  free(): void;
  unmount(): void;
}

export function mountTmpfs(sizeBytes: number): Tmpfs | { skipReason: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mailgate-tmpfs-'));
  if (process.getuid?.() !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skipReason: 'SKIPPED (disk-full test): mounting a tmpfs needs root, and this test does not run as root' };
  }
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skipReason: `SKIPPED (disk-full test): mount -t tmpfs is not permitted here: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}` };
  }
  const filler = join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      let total = 0;
      try {
        for (const size of [1 << 20, 64 << 10, 4096, 512, 1]) {
          const chunk = Buffer.alloc(size, 0x61);
          for (;;) {
            try {
              total += writeSync(fd, chunk);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return total;
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Skip a test loudly: the reason goes to the test report and to stderr. */
export function skipLoudly(t: { skip(message?: string): void }, reason: string): void {
  process.stderr.write(`\n*** ${reason} ***\n`);
  t.skip(reason);
}
