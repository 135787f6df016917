/**
 * Summarise a V8 .cpuprofile (node --cpu-prof): self time by component (package, Node
 * internals, Mailgate module, GC) and the hottest functions, as shares of the busy time.
 * Used for the "measured cause" of a missed throughput or CPU target.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  components: { name: string; ms: number; pct: number }[];
  functions: { name: string; ms: number; pct: number }[];
}

function component(url: string, fn: string): string {
  if (!url) {
    if (fn === '(garbage collector)') return 'V8 garbage collector';
    if (fn === '(program)') return 'V8/native (program)';
    if (fn === '(idle)') return '(idle)';
    return `native: ${fn || '(anonymous)'}`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm: ${nm[1]}`;
  const internal = /^node:internal\/(?:deps\/)?([^/]+(?:\/[^/.]+)?)/.exec(url);
  if (internal) return `node: ${internal[1]}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5)}`;
  const own = /dist\/src\/(.+?)\.js/.exec(url);
  if (own) return `mailgate: src/${own[1]}.ts`;
  return url;
}

export function summariseProfile(file: string, top = 12): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000));
  const comp = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const c = component(n.callFrame.url, n.callFrame.functionName);
    if (c === '(idle)') continue;
    busy += ms;
    comp.set(c, (comp.get(c) ?? 0) + ms);
    const where = n.callFrame.url ? `${component(n.callFrame.url, '').replace(/^(npm|node|mailgate): /, '')}:${n.callFrame.lineNumber + 1}` : '';
    const name = `${n.callFrame.functionName || '(anonymous)'}${where ? ` (${where})` : ''}`;
    fns.set(name, (fns.get(name) ?? 0) + ms);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({ name, ms: Math.round(ms), pct: Math.round((ms / busy) * 1000) / 10 }));
  return { file, busyMs: Math.round(busy), components: rank(comp), functions: rank(fns) };
}

/** Summaries of every profile in `dir` (one per profiled service process). */
export function summariseProfiles(dir: string): ProfileSummary[] {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  } catch {
    return [];
  }
  return files.map((f) => summariseProfile(join(dir, f)));
}

/** Components merged over several profiles, as shares of the total busy time. */
export function mergeComponents(summaries: ProfileSummary[], top = 12): { name: string; pct: number }[] {
  const total = summaries.reduce((a, s) => a + s.busyMs, 0);
  const m = new Map<string, number>();
  for (const s of summaries) for (const c of s.components) m.set(c.name, (m.get(c.name) ?? 0) + c.ms);
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, ms]) => ({ name, pct: Math.round((ms / total) * 1000) / 10 }));
}
