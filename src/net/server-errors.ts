/**
 * Errors a listening server reports after it started: reported, never fatal.
 *
 * Why: Node emits 'error' on a net/http/tls server when accepting a connection fails (EMFILE or
 * ENFILE once libuv's reserve descriptor is used up, ENOBUFS, ENOMEM), and an 'error' nobody
 * listens to ends the process. The listen() helpers held a `once('error')` for the start only,
 * so a second accept error (the first one after an EMFILE burst went to the spent listen
 * handler) ended the service or the relay: a flood of connections could stop the delivery of
 * everything already queued. The server keeps listening after such an error (libuv retries the
 * accept on the next readable event), so the right answer is to say it and go on.
 *
 * Reports are limited to one per `everyMs` (10 s), each carrying the count of those left out
 * since the previous one, so a storm of accept errors is a few log lines, not a disk filled with
 * them (the count of a storm's last window arrives with the next error, if any).
 *
 * Imports: node built-ins only.
 */
import type { EventEmitter } from 'node:events';

export interface AcceptErrorReport {
  error: NodeJS.ErrnoException;
  /** Errors since the last report that were not reported on their own. */
  suppressed: number;
}

/**
 * Until `server` listens its errors go to `refuse` (the start fails: EADDRINUSE); call the
 * returned function once it listens, and from then on they go to `report` (holdServerErrors).
 */
export function refuseUntilListening(server: EventEmitter, refuse: (error: NodeJS.ErrnoException) => void, report: (r: AcceptErrorReport) => void): () => void {
  server.once('error', refuse);
  return () => {
    server.off('error', refuse);
    holdServerErrors(server, report);
  };
}

/** Keep `server` alive through its errors after listening; `report` hears at most one per `everyMs`. */
export function holdServerErrors(server: EventEmitter, report: (r: AcceptErrorReport) => void, everyMs = 10_000, now: () => number = Date.now): void {
  let last = -Infinity;
  let suppressed = 0;
  server.on('error', (error: NodeJS.ErrnoException) => {
    const t = now();
    if (t - last < everyMs) {
      suppressed++;
      return;
    }
    last = t;
    const r = { error, suppressed };
    suppressed = 0;
    try {
      report(r);
    } catch {
      /* a failing report must not turn the error fatal after all */
    }
  });
}
