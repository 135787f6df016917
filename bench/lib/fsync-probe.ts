/**
 * How much a durable commit costs on this disk right now: 8 KB written + fdatasync, repeated,
 * both overwriting in place and appending (a growing file, as SQLite's WAL grows between
 * checkpoints and as Postfix writes new queue files: ext4 must then commit metadata too).
 * Reported with every run because it moves Mailgate's and Postfix's figures, and because other
 * workloads on the machine change it.
 */
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { nowMs } from './clock.js';
import { percentile, round } from './stats.js';

export interface FsyncProbe {
  overwriteP50Ms: number | null;
  overwriteP99Ms: number | null;
  appendP50Ms: number | null;
  appendP99Ms: number | null;
}

function probe(path: string, count: number, append: boolean): number[] {
  const fd = openSync(path, 'w');
  const buf = Buffer.alloc(8192, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t = nowMs();
      writeSync(fd, buf, 0, buf.length, append ? i * 8192 : (i % 16) * 8192);
      fdatasyncSync(fd);
      times.push(nowMs() - t);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return times;
}

export function fsyncProbe(dir: string, count = 200): FsyncProbe {
  const path = join(dir, `fsync-probe-${process.pid}`);
  const over = probe(path, count, false);
  const app = probe(path, count, true);
  return {
    overwriteP50Ms: round(percentile(over, 50), 3),
    overwriteP99Ms: round(percentile(over, 99), 3),
    appendP50Ms: round(percentile(app, 50), 3),
    appendP99Ms: round(percentile(app, 99), 3),
  };
}
