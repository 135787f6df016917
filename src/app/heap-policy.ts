/**
 * How far V8 lets the service's old generation grow past its live size before a full
 * collection (issue 19: memory with 100,000 and 1,000,000 queued).
 *
 * Why: V8 picks the old generation's next limit as the live size times a factor between 1.1
 * and 4, the higher the faster the program allocates (it assumes a short, throughput-bound
 * program). The HTTP intake allocates ~11 KB of short-lived garbage per message, and some of it
 * survives two scavenges while its request waits for the group commit's fsync, so it is
 * promoted. Under a sustained burst the factor went to its maximum: the old space grew from
 * 23 MB live to 86 MB before the first full collection (RSS 197–206 MB with 100,000 queued,
 * measured with `node dist/bench/capacity-1m.js`), although nothing was retained (a heap
 * snapshot at that point held 23 MB). A fixed growth of 30 % keeps the old space within
 * ~7 MB of the live heap; a full collection of a ~25 MB heap is mostly concurrent and costs
 * a few ms every few thousand messages.
 *
 * `--heap-growing-percent` cannot be put in NODE_OPTIONS, but V8 reads it each time it
 * recomputes the limit, so setting it at start-up takes effect at the next collection (and
 * for the delivery thread's isolate too: flags are per process). A `node
 * --heap-growing-percent=N` on the command line is left as given.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 30;

/** Apply the service's heap growth policy to this process (idempotent). */
export function applyHeapPolicy(percent = HEAP_GROWING_PERCENT, execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((a) => a.startsWith('--heap-growing-percent') || a.startsWith('--heap_growing_percent'))) return false;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return true;
}
