/** Small statistics helpers: percentiles, medians and the spread shown in the reports. */

export function percentile(values: readonly number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank: the smallest value with at least p% of the values at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function median(values: readonly (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export interface Spread {
  median: number | null;
  min: number | null;
  max: number | null;
  runs: number[];
}

export function spread(values: readonly (number | null)[]): Spread {
  const runs = values.filter((x): x is number => x !== null && Number.isFinite(x));
  return {
    median: median(runs),
    min: runs.length ? Math.min(...runs) : null,
    max: runs.length ? Math.max(...runs) : null,
    runs,
  };
}

export function round(v: number | null | undefined, digits = 1): number | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** "783 (732–940)" */
export function fmtSpread(s: Spread | undefined, digits = 0): string {
  if (!s || s.median === null) return '–';
  const f = (v: number | null) => (v === null ? '–' : v.toFixed(digits));
  return s.runs.length > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}
