/**
 * The gate in front of Microsoft Graph for one app and mailbox: at most 4 requests in flight,
 * and nobody sends while Graph's last Retry-After runs.
 *
 * Why: Graph allows 4 concurrent requests per app ID and mailbox (docs/m365.md §5.2) and answers
 * a fifth with 429 MailboxConcurrency; after a 429 (or 503/504) with Retry-After, requests sent
 * before that time count against the limit and prolong it. One gate per (client id, mailbox)
 * in the process (a registry, so mailers rebuilt after a settings change share it).
 *
 * A request that would have to wait for Retry-After longer than `maxWaitMs` is not held: the
 * caller fails it as transient (nothing sent) with the remaining seconds, and the worker
 * schedules it then.
 *
 * Imports: nothing outside this folder.
 */

export const GRAPH_MAX_CONCURRENT = 4;

export class GraphGate {
  readonly max: number;
  #active = 0;
  #peak = 0;
  #waiting: (() => void)[] = [];
  #blockedUntil = 0;

  constructor(max = GRAPH_MAX_CONCURRENT) {
    this.max = Math.max(1, Math.min(max, GRAPH_MAX_CONCURRENT));
  }

  /** The most requests that were ever in flight at once. */
  get peak(): number {
    return this.#peak;
  }

  get active(): number {
    return this.#active;
  }

  /** When Graph's Retry-After ends (epoch ms; 0 when not blocked). */
  get blockedUntil(): number {
    return this.#blockedUntil;
  }

  /** Graph asked to wait this long (Retry-After); later callers wait too. */
  block(untilMs: number): void {
    this.#blockedUntil = Math.max(this.#blockedUntil, untilMs);
  }

  /** Wait for a slot; returns the release function (call it exactly once). */
  async acquire(): Promise<() => void> {
    if (this.#active >= this.max) await new Promise<void>((r) => this.#waiting.push(r));
    else this.#active++;
    this.#peak = Math.max(this.#peak, this.#active);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter (the count stays), or is freed.
      if (next) next();
      else this.#active--;
    };
  }
}

const gates = new Map<string, GraphGate>();

/** The process-wide gate of one app and mailbox. */
export function graphGateFor(clientId: string, mailbox: string): GraphGate {
  const key = `${clientId.toLowerCase()}|${mailbox.toLowerCase()}`;
  let gate = gates.get(key);
  if (!gate) {
    gate = new GraphGate();
    gates.set(key, gate);
  }
  return gate;
}
