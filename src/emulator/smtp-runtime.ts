/**
 * What the emulated SMTP front end shares across connections: the tenant state (read live, so
 * `setState()` applies to the next command), the token signing key, limits and their counters,
 * faults, the admin log, stats and the message store.
 *
 * Why it exists: smtp-connection.ts and smtp-server.ts both need this bundle; defining it on
 * its own avoids an import cycle between them.
 *
 * Imports: types only.
 */
import type { SigningKey } from './access-token.js';
import type { ActivityLog } from './activity-log.js';
import type { FaultController } from './faults.js';
import type { ConnectionCounter, Limits, MessageRateWindow } from './limits.js';
import type { MessageStore } from './message-store.js';
import type { ExchangeIdentity } from './smtp-replies.js';
import type { EmulatorState } from './state.js';
import type { EmulatorStats } from './stats.js';

export interface SmtpRuntime {
  identity: ExchangeIdentity;
  getState(): EmulatorState;
  signingKey: SigningKey;
  limits: Limits;
  connections: ConnectionCounter;
  rate: MessageRateWindow;
  faults: FaultController;
  log: ActivityLog;
  stats: EmulatorStats;
  store: MessageStore;
  /** Milliseconds before the greeting (smtp-server's early-talker window); 0 = greet at once. */
  greetingDelayMs: number;
  /** One-line activity report for a human (the CLI's stderr); never given secrets. */
  say(line: string): void;
}

/** `session.user` once AUTH succeeded. */
export interface AuthenticatedUser {
  /** The mailbox address as it appears in the state. */
  mailbox: string;
  tenantId: string;
  /** The token's `oid` (service principal object id); empty for password auth. */
  oid: string;
  appid: string;
  method: string;
}
