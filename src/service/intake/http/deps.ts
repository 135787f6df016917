/**
 * What the HTTP app depends on: everything is passed in, nothing is imported as a singleton,
 * so `createApp(deps)` is tested in-process with `app.request()` and the admin page (mounted
 * under /admin) gets the same dependencies: the store, the settings service, the outbox, a
 * send-test function and the doctor.
 *
 * Imports: types only.
 */
import type { CredentialExpiryStatus } from '../../../core/credential-expiry.js';
import type { Diagnosis } from '../../../core/diagnosis/types.js';
import type { Logger } from '../../../log/logger.js';
import type { AdminPassword } from '../../access/admin-password.js';
import type { ServiceMetrics } from '../../metrics.js';
import type { Outbox } from '../../outbox/outbox.js';
import type { SettingsService } from '../../settings/settings-store.js';
import type { SendersService } from '../../settings/senders-service.js';
import type { CredentialRotation } from '../../settings/credential-rotation-service.js';
import type { Store } from '../../outbox/store.js';
import type { WorkerActivity } from '../../delivery/worker.js';

/** The outcome of "Send test email". */
export type SendTestResult =
  /** `id`: the test's entry in the delivery log (when it was recorded). */
  | { ok: true; response: string; messageId: string; id?: string }
  | { ok: false; id?: string; error: { code: string; phase: string; message: string; reply?: string; diagnosis?: Diagnosis; problems?: { key: string; message: string }[] } };

/** Runs the doctor; resolves to the same JSON as `mailgate doctor --json`. */
/** `sender`: run it as that sender (its effective settings, Send As checked), else the default sender. */
export type RunDiagnostics = (input: { to?: string; sender?: string }) => Promise<unknown>;

export interface AppDeps {
  store: Store;
  settings: SettingsService;
  /** The senders and credentials (issue 16); absent in tests that predate them (one sender). */
  senders?: SendersService;
  outbox: Outbox;
  metrics: ServiceMetrics;
  /** Token requests made by the service's mailers so far. */
  tokenRequests: () => number;
  /** Transport auto: the route of the sender (current transport, reason, moves), when known. */
  transportRoute?: () => { transport: string; reason: string; since: number; switches: Record<string, number> } | undefined;
  /** Store commit counters for /metrics (the SQLite store's group commit). */
  storeCommits?: () => { durable: number; bookkeeping: number };
  /** Send a test message now through a fresh mailer built from the current settings. */
  /** `sender`: as that sender (its settings and From); else the default sender. */
  sendTest: (to: string, sender?: string) => Promise<SendTestResult>;
  /** The doctor; when absent, POST /api/v1/diagnostics answers 501. */
  runDiagnostics?: RunDiagnostics;
  /** For the admin page's login. */
  adminPassword?: AdminPassword;
  worker?: { activity(): WorkerActivity; resume?(): void };
  /** Why valid settings still cannot send (e.g. an unreadable certificate file), if so. */
  deliveryProblem?: () => string | undefined;
  /** Why the delivery thread cannot work (it keeps ending), if so. */
  deliveryThreadProblem?: () => string | undefined;
  now: () => number;
  logger: Logger;
  /** Largest accepted request body (bytes). */
  maxBodyBytes: number;
  /** The data dir (absolute) named in 401 answers; set only when the API listens on loopback. */
  dataDir?: string;
  /** The admin page's sign-in limits and proxy trust (MAILGATE_TRUST_PROXY, MAILGATE_LOGIN_*). */
  adminLogin?: { trustProxy: number; maxFailures: number; windowMs: number; globalFailuresPerMinute: number };
  /** When set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken?: string;
  /** Every credential's expiry status, most urgent first (issue 17): banner, /readyz, metric. */
  credentialExpiry?: () => CredentialExpiryStatus[];
  /** Credential rotation (issue 17 item 3): two live credentials, add → test → promote → remove. */
  credentialRotation?: CredentialRotation;
  /** Failovers to a secondary credential so far, per credential name (the metric). */
  credentialFailovers?: () => Record<string, number>;
}
