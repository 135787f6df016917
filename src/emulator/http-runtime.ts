/**
 * What the emulator's HTTPS endpoints (Entra token endpoint and metadata, Graph, admin API) share:
 * the live tenant state, the signing key, the token lifetime, faults, log, stats, messages,
 * and the public URLs (known only once the listener has its port).
 *
 * Why it exists: token-endpoint.ts and admin-api.ts are built from it without knowing about
 * each other or about the SMTP side.
 *
 * Imports: types only.
 */
import type { SigningKey } from './access-token.js';
import type { ActivityLog } from './activity-log.js';
import type { FaultController } from './faults.js';
import type { DraftStore } from './graph-drafts.js';
import type { ConnectionCounter, Limits } from './limits.js';
import type { MessageStore } from './message-store.js';
import type { AppliedScenario } from './scenarios.js';
import type { EmulatorState } from './state.js';
import type { EmulatorStats } from './stats.js';

export interface HttpRuntime {
  /** e.g. `https://127.0.0.1:8443` (set once the HTTPS listener is bound). */
  authorityHost: string;
  getState(): EmulatorState;
  /** Replaces the state (already validated); it becomes the baseline scenarios apply to. */
  replaceState(state: EmulatorState): void;
  /** Applies a named scenario to the baseline (throws ScenarioError). */
  applyScenario(name: string): AppliedScenario;
  /** The scenario in force (`healthy` when none). */
  currentScenario(): AppliedScenario;
  signingKey: SigningKey;
  tokenLifetimeSeconds: number;
  /** Observer of every issued access token (tests). */
  onTokenIssued?: (accessToken: string) => void;
  faults: FaultController;
  log: ActivityLog;
  /** The live counters (mutated by the endpoints). */
  stats: EmulatorStats;
  /** A copy of the counters with the per-mailbox connection peaks filled in. */
  snapshotStats(): EmulatorStats;
  resetStats(): void;
  store: MessageStore;
  /** Exchange's limits (Graph: concurrent requests per app and mailbox, request size; MaxSendSize). */
  limits: Limits;
  /** Graph requests in flight per `<appId> <mailbox>` (and their peaks). */
  graphConcurrency: ConnectionCounter;
  /** Graph drafts and upload sessions. */
  drafts: DraftStore;
  /** The host in Message-IDs Exchange assigns (the mailbox server's name). */
  messageIdHost: string;
  /** One-line activity report for a human (the CLI's stderr); never given secrets. */
  say(line: string): void;
}
