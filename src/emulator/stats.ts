/**
 * Counters the emulator keeps for tests and the benchmark (`stats()`, `GET {admin}/stats`):
 * token requests (in total and per app), SMTP connections, authentication outcomes, the peak
 * number of concurrent authenticated connections per mailbox, messages accepted/refused, the SMTP
 * round trips per message (smtp-chunking.ts defines them), and
 * Graph requests with their peak concurrency per app and mailbox.
 *
 * Why it exists: tests assert behaviour such as "one token request for many messages" or "never
 * more than 3 connections per mailbox" without parsing the log.
 *
 * Imports: nothing.
 */

export interface EmulatorStats {
  tokenRequests: number;
  /** Token requests per client id as sent (including failed ones). */
  tokenRequestsByApp: Record<string, number>;
  tokensIssued: number;
  smtpConnections: number;
  authSuccesses: number;
  authFailures: number;
  /** Highest number of concurrent authenticated connections seen per mailbox (lower-case address). */
  peakAuthenticatedConnections: Record<string, number>;
  messagesAccepted: number;
  messagesRejected: number;
  /**
   * SMTP messages whose content was complete (end of DATA, or BDAT LAST), accepted or refused
   * at that point: the messages `smtpRoundTrips` counts the round trips of.
   */
  smtpTransactions: number;
  /**
   * The round trips of those messages, summed: from the client flight carrying MAIL FROM to
   * the one completing the content, both included (defined in smtp-chunking.ts). Per message:
   * `smtpRoundTrips / smtpTransactions`; `smtpRoundTripsLast` is the last message's.
   */
  smtpRoundTrips: number;
  smtpRoundTripsLast: number;
  /** Requests to the emulated Graph (`/v1.0/...` and upload URLs). */
  graphRequests: number;
  /** Messages Graph accepted (`sendMail` or a sent draft); also counted in `messagesAccepted`. */
  graphMessagesAccepted: number;
  /** Graph requests answered with an error (4xx/5xx, faults included). */
  graphRequestsFailed: number;
  /** Highest number of concurrent Graph requests seen per app and mailbox (`<appId> <mailbox>`). */
  peakGraphConcurrentRequests: Record<string, number>;
}

export function emptyStats(): EmulatorStats {
  return {
    tokenRequests: 0, tokenRequestsByApp: {}, tokensIssued: 0, smtpConnections: 0,
    authSuccesses: 0, authFailures: 0, peakAuthenticatedConnections: {}, messagesAccepted: 0, messagesRejected: 0,
    smtpTransactions: 0, smtpRoundTrips: 0, smtpRoundTripsLast: 0,
    graphRequests: 0, graphMessagesAccepted: 0, graphRequestsFailed: 0, peakGraphConcurrentRequests: {},
  };
}
