/**
 * HTTP load driver (a forked process) for Mailgate's API: `POST /api/v1/messages` with a
 * keep-alive agent and a fixed number of concurrent requests, timing each request's submit and
 * its 202 (durably stored) on the shared monotonic clock.
 */
import http from 'node:http';
import { serveRpc } from '../lib/children.js';
import { nowMs, sleep } from '../lib/clock.js';
import { BODY_TEXT, RECIPIENT, subjectFor } from '../lib/message.js';

interface InitArgs {
  baseUrl: string;
  apiKey: string;
  concurrency: number;
  path?: string;
}

let cfg: InitArgs | undefined;
let agent: http.Agent | undefined;

/** The senders scenario: message `seq` is sent as froms[seq % froms.length] (the API's `from`). */
let froms: string[] | undefined;

function payload(run: string, seq: number): string {
  const from = froms?.length ? { from: froms[seq % froms.length] } : {};
  return JSON.stringify({ ...from, to: [RECIPIENT], subject: subjectFor(run, seq), text: BODY_TEXT });
}

function post(body: string): Promise<{ status: number; text: string }> {
  const url = new URL(cfg!.path ?? '/api/v1/messages', cfg!.baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${cfg!.apiKey}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Outcome {
  errors: number;
  firstError?: string;
}

async function submit(run: string, seq: number, out: Outcome): Promise<number | null> {
  try {
    const r = await post(payload(run, seq));
    if (r.status !== 202 && r.status !== 201 && r.status !== 200) {
      out.errors++;
      out.firstError ??= `HTTP ${r.status}: ${r.text.slice(0, 300)}`;
      return null;
    }
    return nowMs();
  } catch (e) {
    out.errors++;
    out.firstError ??= (e as Error).message;
    return null;
  }
}

serveRpc({
  init(args: InitArgs) {
    cfg = args;
    agent = new http.Agent({ keepAlive: true, maxSockets: args.concurrency });
    return {};
  },
  /** `count` POSTs, `concurrency` at a time. Reports the start, each accept time and the last 202. */
  async burst(args: { run: string; count: number; startSeq?: number; concurrency?: number; acceptTimes?: boolean; froms?: string[] }) {
    froms = args.froms;
    const start = nowMs();
    const out: Outcome = { errors: 0 };
    const accepts = new Float64Array(args.count);
    const submits = new Float64Array(args.count);
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= args.count) return;
        submits[i] = nowMs();
        accepts[i] = (await submit(args.run, (args.startSeq ?? 0) + i, out)) ?? NaN;
      }
    };
    await Promise.all(Array.from({ length: args.concurrency ?? cfg!.concurrency }, worker));
    const lat = [...accepts].map((a, i) => a - submits[i]).filter(Number.isFinite);
    return { start, end: nowMs(), errors: out.errors, firstError: out.firstError, acceptLatencies: args.acceptTimes ? lat : undefined };
  },
  /** One POST every `intervalMs`; reports the submit and 202 time of each. */
  async paced(args: { run: string; count: number; intervalMs: number }) {
    const submits: number[] = [];
    const accepts: number[] = [];
    const out: Outcome = { errors: 0 };
    const pending: Promise<void>[] = [];
    const t0 = nowMs();
    for (let i = 0; i < args.count; i++) {
      const wait = t0 + i * args.intervalMs - nowMs();
      if (wait > 0) await sleep(wait);
      submits[i] = nowMs();
      pending.push(submit(args.run, i, out).then((t) => void (accepts[i] = t ?? NaN)));
    }
    await Promise.all(pending);
    return { submits, callbacks: accepts, errors: out.errors, firstError: out.firstError };
  },
  close() {
    agent?.destroy();
    return {};
  },
});
