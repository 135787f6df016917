/**
 * Counters the emulator keeps for tests and the benchmark (`stats()`, `GET {admin}/stats`):
 * token requests (in total and per app), SMTP connections, authentication outcomes, the peak
 * number of concurrent authenticated connections per mailbox, and messages accepted/refused.
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
}

export function emptyStats(): EmulatorStats {
  return {
    tokenRequests: 0, tokenRequestsByApp: {}, tokensIssued: 0, smtpConnections: 0,
    authSuccesses: 0, authFailures: 0, peakAuthenticatedConnections: {}, messagesAccepted: 0, messagesRejected: 0,
  };
}
