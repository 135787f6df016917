/**
 * One clock for every benchmark process.
 *
 * `process.hrtime` reads CLOCK_MONOTONIC, which is system-wide on Linux, so a time taken in a
 * driver process and a time taken in the sink process can be subtracted directly.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
