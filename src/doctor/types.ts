/**
 * The doctor's report: the JSON shape that `mailgate doctor --json`, the HTTP API and the admin
 * page all show, and the options of `runDoctor`.
 *
 * Why it exists: the report is a public contract (issue 4: `{"ok":false,"checks":[{"id",
 * "status","summary","fix","commands","details"}]}`); keeping it in one dependency-free file lets
 * every consumer import the type without the checks and their network code.
 *
 * Imports: types only (./exchange-facts).
 */

/** The checks, in the order they run. Stable ids: never rename one. */
export const CHECK_IDS = ['settings', 'dns', 'tcp', 'starttls', 'token', 'token-claims', 'smtp-auth', 'send'] as const;
/**
 * Checks that run only when their feature is on, after the others: `graph-reach` (a TCP
 * connection to the Graph endpoint), `graph-token`, `graph-send` (Transport graph or auto;
 * graph-send only with a recipient), `send-as` (a Send As sender: the From differs from the
 * signed-in mailbox; may that mailbox send as it), `auto-route` (Transport auto: which transport
 * Automatic would use and why), `relay` (the SMTP relay).
 */
export const OPTIONAL_CHECK_IDS = ['graph-reach', 'graph-token', 'graph-send', 'send-as', 'auto-route', 'relay'] as const;
export type CheckId = (typeof CHECK_IDS)[number] | (typeof OPTIONAL_CHECK_IDS)[number];

/**
 * - `pass`: the step is set up right.
 * - `fail`: the step is broken; `fix` (and usually `commands`) say how to repair it.
 * - `warn`: works, or cannot be decided, but deserves attention (an expiring secret, Basic auth).
 * - `skip`: not run, because an earlier check failed or the step does not apply.
 */
export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  /** One sentence: what was found. */
  summary: string;
  /** What to do, in plain words (several steps are separated by line breaks). Only for fail and warn. */
  fix?: string;
  /** Ready-to-run commands with the administrator's own values filled in. */
  commands?: string[];
  /** Facts found on the way (hosts, TLS version, token claims such as oid); never a secret or token. */
  details?: Record<string, unknown>;
}

export interface DoctorReport {
  /** True when no check failed (warnings allowed). */
  ok: boolean;
  /** The sender checked (From and signed-in mailbox), when the caller named one (runSenderDoctor, `--from`). */
  sender?: { from: string; signInAs: string };
  checks: CheckResult[];
}

export interface DoctorOptions {
  /** Send a test message to this address (enables the `send` check). */
  to?: string;
  /**
   * The sender's From address (default: the Authorized from Address, which is the signed-in
   * mailbox). A different From makes it a Send As sender: the test message is sent with this
   * From and the `send-as` check runs (`mailgate doctor --from`, runSenderDoctor).
   */
  from?: string;
  /** An extra trusted CA (PEM) for the token endpoint and the SMTP server, e.g. the emulator's. */
  ca?: string | Buffer;
  /**
   * Time limit of each network step (DNS lookup, TCP connect, SMTP greeting, TLS handshake,
   * token request), in ms. Default: the matching setting, capped at 5 000 ms.
   */
  timeoutMs?: number;
  /** Client name sent with EHLO (default: nodemailer's, the machine's host name). */
  clientName?: string;
  /** SMTP pipelining for the test message, as the service sends (`MAILGATE_SMTP_PIPELINING`; default on). */
  pipelining?: boolean;
  /**
   * Where to read Exchange Online's configuration (service principals, mailbox permissions)
   * when the sign-in fails with `535 5.7.3` although the token is right. Only the emulator
   * offers one (`emulatorExchangeFacts`); without it the doctor lists the Exchange-side steps
   * in the order to check them, as it must against a real tenant.
   */
  exchangeFacts?: import('./exchange-facts.js').ExchangeFactsSource;
  /**
   * The SMTP relay's listener when it is on (MAILGATE_RELAY_PORT): adds the `relay` check
   * (listening, STARTTLS, certificate valid and not expiring within 30 days, at least one client).
   */
  relay?: import('./checks/relay-check.js').RelayDoctorInput;
  /**
   * The name of the credential checked (MAILGATE_CONFIG's or the stored one's; default
   * `default`, the Email Settings'): its expiry texts and the rotation commands of the secondary
   * credential's fixes (`mailgate credentials promote NAME`) name it.
   */
  credential?: string;
  /** Replaces the DNS lookup (tests). Resolves to the addresses of a host name. */
  lookup?: (host: string) => Promise<string[]>;
}
