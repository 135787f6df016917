/**
 * Standalone check of the service's memory with a large queue, without the whole benchmark:
 * `node dist/bench/capacity-1m.js [--queued 1000000] [--fill 50000]`.
 *
 * Two fresh `mailgate serve` processes with the worker off (MAILGATE_WORKER=off), each then fed
 * `--fill` messages (~11 KB, the benchmark's) through the API, 16 at a time, as the capacity
 * scenario does:
 * - one on an empty store;
 * - one on a store that already holds `--queued` minus `--fill` queued messages, written straight
 *   into SQLite before it starts (small rows: what is measured is what the service keeps per
 *   queued message in its own memory, and filling a million 11 KB messages through the API takes
 *   minutes and ~11 GB; the full benchmark does that).
 * Prints peak RSS (VmHWM), anonymous and file-backed parts, for both: the same figure means
 * nothing in the process grows with the queue.
 */
import { join } from 'node:path';
import { ensureCertificate } from './lib/certs.js';
import { cleanupAll, RpcChild } from './lib/children.js';
import { nowMs, sleep } from './lib/clock.js';
import { distModule, SCRATCH } from './lib/paths.js';
import { prefillQueued } from './lib/prefill.js';
import { rssMb } from './lib/procfs.js';
import { createLauncher } from './mailgate/service.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const QUEUED = arg('--queued', 1_000_000);
const FILL = arg('--fill', 50_000);

async function measure(label: string, prefilled: number): Promise<void> {
  const cert = ensureCertificate(join(SCRATCH, 'certs'));
  // The worker is off: no SMTP or token traffic; the ports only have to be valid settings.
  const launcher = createLauncher({ smtpPort: 2525, tokenPort: 4443, graphPort: 4444, caPath: cert.certPath, ratePerMinute: 1_000_000, name: 'capacity-1m' });
  const t0 = nowMs();
  const svc = await launcher.start({ paused: true, prepare: prefilled ? (dir) => prefillQueued(dir, prefilled) : undefined });
  const startedIn = (nowMs() - t0) / 1000;
  const atStart = rssMb(svc.pid);
  const d = new RpcChild(distModule('drivers/http-driver.js'));
  let anon = 0;
  const sampler = setInterval(() => (anon = Math.max(anon, rssMb(svc.pid)?.anon ?? 0)), 200);
  try {
    await d.call('init', { baseUrl: svc.baseUrl, apiKey: svc.apiKey, concurrency: 16 });
    const curve: string[] = [];
    const chunk = 10_000;
    const f0 = nowMs();
    for (let done = 0; done < FILL; done += chunk) {
      const r = await d.call<{ errors: number; firstError?: string }>('burst', { run: `${label}-fill`, count: Math.min(chunk, FILL - done), startSeq: done }, 600_000);
      if (r.errors) process.stdout.write(`  ${r.errors} errors: ${r.firstError}\n`);
      curve.push(`${prefilled + done + Math.min(chunk, FILL - done)}→${rssMb(svc.pid)?.rss.toFixed(0)}`);
    }
    const perS = (FILL / (nowMs() - f0)) * 1000;
    await sleep(1000);
    const m = rssMb(svc.pid)!;
    process.stdout.write(
      `${label}: ${prefilled + FILL} queued (${prefilled} prefilled, ready in ${startedIn.toFixed(1)} s at RSS ${atStart?.rss.toFixed(0)} MB; ${FILL} through the API at ${perS.toFixed(0)}/s): ` +
        `peak RSS ${m.peak.toFixed(1)} MB, now ${m.rss.toFixed(1)} MB, largest anonymous ${Math.max(anon, m.anon).toFixed(1)} MB, file-backed ${m.file.toFixed(1)} MB; curve (queued→MB) ${curve.join(', ')}\n`,
    );
  } finally {
    clearInterval(sampler);
    await d.close();
    await svc.stop();
  }
}

try {
  if (!process.argv.includes('--skip-empty')) await measure('empty store', 0);
  await measure('large queue', Math.max(0, QUEUED - FILL));
} finally {
  await cleanupAll();
}
process.exit(0);
