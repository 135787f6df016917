/** Command-line options and the message counts of a full and a --quick run. */

export interface Counts {
  burstMessages: number;
  burstReps: number;
  burstWarmup: number;
  latencyPerCompetitor: number;
  latencyBlocks: number;
  latencyIntervalMs: number;
  latencyWarmup: number;
  ceilingMessages: number;
  ceilingReps: number;
  ceilingProcesses: number;
  ceilingConnectionsPerProcess: number;
  coldReps: number;
  coldConcurrent: number;
  /** Token endpoint latency during the cold-concurrent case (Entra answers in ~100 ms). */
  coldConcurrentTokenDelayMs: number;
  enqueueMessages: number;
  enqueueConcurrency: number;
  enqueueReps: number;
  rssQueued: number;
  /** Fill the queue a second time with the service's heap capped, to separate retained memory from V8 heap growth. */
  rssHeapCapMb: number | null;
  rateLimitPerMin: number;
  rateWindowS: number;
  httpConcurrency: number;
  quietMaxMs: number;
  /** SMTP relay: messages per intake run and per end-to-end run, repetitions, warm-up. */
  relayMessages: number;
  relayE2eMessages: number;
  relayReps: number;
  relayWarmup: number;
  /** Graph scenario: messages per run and repetitions (each rep: one SMTP run, one Graph run). */
  graphMessages: number;
  graphReps: number;
  /** WAN scenario: round trip of the emulated path, single messages per competitor and their spacing, burst size. */
  wanRttMs: number;
  wanLatencyMessages: number;
  wanLatencyIntervalMs: number;
  wanWarmup: number;
  wanBurstMessages: number;
  /** Senders scenario (issue 16): senders, credentials, messages queued at once, and the factor applied to 30/min. */
  sendersCount: number;
  sendersCredentials: number;
  sendersMessages: number;
  sendersRateFactor: number;
  /** PostgreSQL scenario (issue 18): burst messages per run, enqueue messages (worker off), lease seconds for failover. */
  pgMessages: number;
  pgEnqueueMessages: number;
  pgLeaseSeconds: number;
  /** Full run only: also fill the queue to this many messages for the memory figure (null: skip). */
  rssQueuedLarge: number | null;
}

export const FULL: Counts = {
  burstMessages: 5000,
  burstReps: 5,
  burstWarmup: 200,
  latencyPerCompetitor: 500,
  latencyBlocks: 5,
  latencyIntervalMs: 100,
  latencyWarmup: 20,
  ceilingMessages: 20_000,
  ceilingReps: 3,
  ceilingProcesses: 2,
  ceilingConnectionsPerProcess: 8,
  coldReps: 3,
  coldConcurrent: 50,
  coldConcurrentTokenDelayMs: 100,
  enqueueMessages: 20_000,
  enqueueConcurrency: 16,
  enqueueReps: 3,
  rssQueued: 100_000,
  rssHeapCapMb: 64,
  rateLimitPerMin: 600,
  rateWindowS: 60,
  httpConcurrency: 16,
  quietMaxMs: 10_000,
  relayMessages: 5000,
  relayE2eMessages: 5000,
  relayReps: 3,
  relayWarmup: 200,
  graphMessages: 2000,
  graphReps: 3,
  wanRttMs: 40,
  wanLatencyMessages: 100,
  wanLatencyIntervalMs: 300,
  wanWarmup: 12,
  wanBurstMessages: 1000,
  sendersCount: 100,
  sendersCredentials: 2,
  sendersMessages: 3000,
  sendersRateFactor: 100,
  pgMessages: 3000,
  pgEnqueueMessages: 10_000,
  pgLeaseSeconds: 5,
  rssQueuedLarge: 1_000_000,
};

export const QUICK: Counts = {
  burstMessages: 1500,
  burstReps: 2,
  burstWarmup: 100,
  latencyPerCompetitor: 60,
  latencyBlocks: 2,
  latencyIntervalMs: 100,
  latencyWarmup: 5,
  ceilingMessages: 3000,
  ceilingReps: 1,
  ceilingProcesses: 2,
  ceilingConnectionsPerProcess: 8,
  coldReps: 2,
  coldConcurrent: 50,
  coldConcurrentTokenDelayMs: 100,
  enqueueMessages: 5000,
  enqueueConcurrency: 16,
  enqueueReps: 1,
  rssQueued: 10_000,
  rssHeapCapMb: null,
  rateLimitPerMin: 600,
  rateWindowS: 15,
  httpConcurrency: 16,
  quietMaxMs: 1000,
  relayMessages: 1500,
  relayE2eMessages: 1000,
  relayReps: 1,
  relayWarmup: 50,
  graphMessages: 600,
  graphReps: 1,
  wanRttMs: 40,
  wanLatencyMessages: 20,
  wanLatencyIntervalMs: 300,
  wanWarmup: 6,
  wanBurstMessages: 150,
  sendersCount: 20,
  sendersCredentials: 2,
  sendersMessages: 600,
  sendersRateFactor: 100,
  pgMessages: 800,
  pgEnqueueMessages: 3000,
  pgLeaseSeconds: 5,
  rssQueuedLarge: null,
};

export interface Options {
  quick: boolean;
  counts: Counts;
  /** Run on plain loopback even where a namespace could be made. */
  noNetns: boolean;
  /** Competitors to run (default all). */
  only?: Set<string>;
  /** Scenarios to run (default all). */
  scenarios?: Set<string>;
  /** Run one extra, uncounted Mailgate burst under node --cpu-prof and summarise it (default on). */
  cpuProf: boolean;
  /** Write results to this base name instead of bench/results/latest. */
  out?: string;
}

export const SCENARIOS = ['ceiling', 'burst', 'latency', 'cold', 'tokens', 'capacity', 'rate', 'relay', 'graph', 'wan', 'senders', 'postgres'] as const;

export function parseOptions(argv: string[]): Options {
  const o: Options = { quick: false, counts: FULL, noNetns: false, cpuProf: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--no-netns') o.noNetns = true;
    else if (a === '--cpu-prof') o.cpuProf = true;
    else if (a === '--no-cpu-prof') o.cpuProf = false;
    else if (a === '--only') o.only = new Set(value().split(','));
    else if (a === '--scenarios') o.scenarios = new Set(value().split(','));
    else if (a === '--out') o.out = value();
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  o.counts = o.quick ? QUICK : FULL;
  for (const s of o.scenarios ?? []) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (one of ${SCENARIOS.join(', ')})`);
  return o;
}

export const USAGE = `Usage: npm run bench [-- options]
  --quick                 smaller counts, under 3 minutes on 2 cores (the counts used are reported)
  --only raw,postfix,postfix_default,mailgate   run only these competitors
  --scenarios ${SCENARIOS.join(',')}   run only these scenarios
  --no-netns              run on plain loopback (Postfix figures are then marked as stalled)
  --no-cpu-prof           skip the extra, uncounted Mailgate burst (and relay intake) under node --cpu-prof (on by default)
  --out NAME              write bench/results/NAME.json and NAME.md instead of latest.* (a NAME with a / is a path)
`;
