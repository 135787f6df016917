/**
 * The delivery pause: what the worker does after a failure that says the configuration is
 * wrong, not the message.
 *
 * Why: when Entra or Exchange refuses the configuration itself (a refused secret, `535 5.7.3`,
 * no STARTTLS, a restricted sender), every queued message would fail the same way, and each try
 * costs token requests and refused logins that Entra and Exchange count against the app
 * (AADSTS50196 loop detection, continuous-error throttling, docs/m365.md §10). So the failing message
 * fails as usual and the rest of the queue waits, untouched, until the Email Settings change, an
 * administrator retries, or the pause ends — then one message probes. Pauses double from 1 to
 * 15 minutes; one incident (several messages in flight failing together) is one pause.
 *
 * Pure state and decisions; the worker owns the timer and the logging.
 */

import { CONFIGURATION_REFUSALS, type ErrorCode } from '../../core/errors.js';

/**
 * Permanent replies about the sending mailbox or tenant rather than the message (docs/m365.md §4):
 * restricted sender (5.1.8), tenant over threshold / IP not accepted / unregistered domains
 * (5.7.705, 5.7.708, 5.7.750), continuous-error throttling (5.2.251–5.2.255), Basic auth retired
 * (5.7.30), sending mailbox full (5.2.2). (554 5.2.252 SendAsDenied concerns one From address,
 * not the mailbox, and is not here.)
 */
export const MAILBOX_WIDE_REPLIES: ReadonlySet<string> = new Set(['550 5.1.8', '550 5.7.705', '550 5.7.708', '550 5.7.750', '550 5.2.251', '550 5.2.252', '550 5.2.253', '550 5.2.254', '550 5.2.255', '550 5.7.30', '554 5.2.2']);

export const PAUSE_MIN_MS = 60_000;
export const PAUSE_MAX_MS = 15 * 60_000;

/** Whether a permanent failure (`code`, and the server's `NNN E.E.E` when there was a reply) pauses delivery. */
export function pausesDelivery(code: string, reply: string | undefined): boolean {
  // TOKEN_UNAVAILABLE fails permanently only when the retry table found the token endpoint's
  // certificate untrusted: the set-up (TLS inspection, authority host), not the message.
  return CONFIGURATION_REFUSALS.has(code as ErrorCode) || code === 'TOKEN_UNAVAILABLE' || (code === 'SMTP_REJECTED' && reply !== undefined && MAILBOX_WIDE_REPLIES.has(reply));
}

export interface PauseInfo {
  code: string;
  summary?: string;
  until: number;
}

export class DeliveryPause {
  #state?: PauseInfo & { settings: unknown; lengthMs: number };

  get info(): PauseInfo | undefined {
    const s = this.#state;
    return s ? { code: s.code, summary: s.summary, until: s.until } : undefined;
  }

  /** Start (or, after a failed probe, double) the pause for these settings; returns its length, or undefined when one is already running. */
  start(code: string, summary: string | undefined, settings: unknown, now: number): number | undefined {
    const same = this.#state !== undefined && this.#state.settings === settings;
    if (same && now < this.#state!.until) return undefined;
    const lengthMs = same ? Math.min(this.#state!.lengthMs * 2, PAUSE_MAX_MS) : PAUSE_MIN_MS;
    this.#state = { code, summary, until: now + lengthMs, settings, lengthMs };
    return lengthMs;
  }

  /** End the pause; returns the code it was for, or undefined when there was none. */
  end(): string | undefined {
    const code = this.#state?.code;
    this.#state = undefined;
    return code;
  }

  /** Whether the pause was started for other settings than these (they changed since). */
  isFor(settings: unknown): boolean {
    return this.#state !== undefined && this.#state.settings === settings;
  }

  /**
   * Whether sending must wait now: during the pause, and after it while the probe is still out
   * (`inFlight` > 0).
   */
  holds(now: number, inFlight: number): boolean {
    return this.#state !== undefined && (now < this.#state.until || inFlight > 0);
  }
}
