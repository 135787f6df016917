/**
 * CPU and memory accounting from /proc (Linux only).
 *
 * CPU of a process tree = Σ over the live processes of the tree of utime + stime + cutime +
 * cstime. A child that exits and is reaped moves its time into its parent's cutime/cstime, so
 * the difference of two snapshots counts short-lived children (Postfix's smtp, cleanup, …) too.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { nowMs, sleep } from './clock.js';

let tickMs = 10;
try {
  tickMs = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || '100');
} catch {
  /* keep the Linux default of 100 ticks per second */
}

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  cpuMs: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  // f[0] is field 3 (state); utime is field 14 → f[11]
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return { pid, ppid: Number(f[1]), comm, cpuMs: ticks * tickMs };
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** CPU milliseconds used so far by the trees rooted at `roots` (live processes, children included). */
export function treeCpuMs(roots: readonly number[]): number {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) {
    const list = children.get(s.ppid) ?? [];
    list.push(s);
    children.set(s.ppid, list);
  }
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  let total = 0;
  const seen = new Set<number>();
  const stack = roots.filter((p) => byPid.has(p));
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += byPid.get(pid)!.cpuMs;
    for (const c of children.get(pid) ?? []) stack.push(c.pid);
  }
  return total;
}

/** Resident memory of one process in MB: current, peak (VmHWM), and the current anonymous / file-backed parts. */
export function rssMb(pid: number): { rss: number; peak: number; anon: number; file: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 'NaN');
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024, anon: kb('RssAnon') / 1024, file: (kb('RssFile') + kb('RssShmem')) / 1024 };
  } catch {
    return undefined;
  }
}

/** Busy CPU time of the whole machine so far (all cores, ms), excluding idle and iowait. */
export function machineBusyMs(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = v[3] + (v[4] ?? 0);
  return (total - idle) * tickMs;
}

/**
 * Wait (at most `maxMs`) until the machine has been quieter than `cores` for `windowMs`.
 * Returns the background load measured in the last window, in cores.
 */
export async function waitForQuiet(maxMs: number, cores = 0.15, windowMs = 1000): Promise<{ quiet: boolean; load: number }> {
  const deadline = nowMs() + maxMs;
  let load = 0;
  for (let i = 0; i < 1000; i++) {
    const b0 = machineBusyMs();
    const t0 = nowMs();
    await sleep(windowMs);
    load = (machineBusyMs() - b0) / (nowMs() - t0);
    if (load < cores) return { quiet: true, load };
    if (nowMs() > deadline) break;
  }
  return { quiet: false, load };
}

/** Tracks machine busy time and accounted process trees over one measured run. */
export class CpuMeter {
  readonly #roots: Record<string, number[]>;
  #t0 = 0;
  #busy0 = 0;
  #cpu0: Record<string, number> = {};

  constructor(roots: Record<string, number[]>) {
    this.#roots = roots;
  }

  start(): void {
    this.#t0 = nowMs();
    this.#busy0 = machineBusyMs();
    for (const [k, pids] of Object.entries(this.#roots)) this.#cpu0[k] = treeCpuMs(pids);
  }

  /** CPU ms per accounted group, the machine's busy cores and the unaccounted (background) cores. */
  stop(): { elapsedMs: number; cpuMs: Record<string, number>; machineCores: number; backgroundCores: number } {
    const elapsedMs = nowMs() - this.#t0;
    const busy = machineBusyMs() - this.#busy0;
    const cpuMs: Record<string, number> = {};
    let accounted = 0;
    for (const [k, pids] of Object.entries(this.#roots)) {
      cpuMs[k] = treeCpuMs(pids) - this.#cpu0[k];
      accounted += cpuMs[k];
    }
    return { elapsedMs, cpuMs, machineCores: busy / elapsedMs, backgroundCores: Math.max(0, busy - accounted) / elapsedMs };
  }
}

/** Bytes a process caused to be written to storage, and its write-type syscalls, so far. */
export function ioCounters(pid: number): { writeBytes: number; syscw: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const v = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 'NaN');
    return { writeBytes: v('write_bytes'), syscw: v('syscw') };
  } catch {
    return undefined;
  }
}

/**
 * Scheduler statistics of a process's main thread (for Node: the event loop), in ms: time on a
 * CPU and time runnable but waiting for one (starved by other work on the machine).
 */
export function mainThreadSched(pid: number): { runMs: number; waitMs: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { runMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return undefined;
  }
}

/** Scheduler statistics of every thread of a process, by thread id (name from `comm`). */
export function threadScheds(pid: number): Map<number, { name: string; runMs: number; waitMs: number }> {
  const out = new Map<number, { name: string; runMs: number; waitMs: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      const name = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      out.set(Number(t), { name, runMs: run / 1e6, waitMs: wait / 1e6 });
    } catch {
      // the thread ended
    }
  }
  return out;
}

/**
 * The busiest thread other than the main one between two snapshots (for Mailgate: the delivery
 * thread), as shares of the elapsed time.
 */
export function busiestOtherThread(pid: number, a: ReturnType<typeof threadScheds>, b: ReturnType<typeof threadScheds>, elapsedMs: number): { name: string; running: number; waitingForCpu: number; restRunning: number } | undefined {
  let best: { name: string; running: number; waitingForCpu: number } | undefined;
  let total = 0;
  for (const [tid, end] of b) {
    if (tid === pid) continue;
    const start = a.get(tid) ?? { runMs: 0, waitMs: 0 };
    const running = (end.runMs - start.runMs) / elapsedMs;
    total += running;
    if (!best || running > best.running) best = { name: end.name, running, waitingForCpu: (end.waitMs - start.waitMs) / elapsedMs };
  }
  return best && { ...best, restRunning: total - best.running };
}
