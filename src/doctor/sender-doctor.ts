/**
 * The doctor per sender (issue 16, item 5): one report for one sender — its From address, the
 * mailbox it signs in as, its credential (app registration) and its transport — and one report
 * per sender for a list of them (the exit code is the worst).
 *
 * Why it exists: a sender is a complete set of Email Settings seen from another angle (the
 * credential gives cloud, tenant, client ID, secret or certificate and endpoints; the signed-in
 * mailbox is the Authorized from Address; the From may differ, which makes it a Send As sender).
 * `senderSettings` maps a sender onto those settings so every existing check runs unchanged, and
 * `runDoctor` adds the `send-as` check when From and signed-in mailbox differ: both sides of Send
 * As are then checked (the signed-in mailbox's FullAccess or RBAC scope by `smtp-auth` /
 * `graph-token`, the From's Send As by `send-as`). The sender model (issue 16, items 1-3) calls
 * `runSendersDoctor` with its resolved senders; until it exists the CLI builds one sender from the
 * environment's settings and `--from` / `--sign-in-as`.
 *
 * Secrets arrive resolved (the model resolves `env:` / `file:` references); they only flow into
 * the settings and are scrubbed from every report by runDoctor.
 *
 * Imports: src/core (settings, clouds, secret), ./run-doctor, ./types.
 */
import type { CloudId } from '../core/clouds.js';
import type { Secret } from '../core/secret.js';
import type { RawSettings, TransportId } from '../core/settings.js';
import { runDoctor } from './run-doctor.js';
import type { DoctorOptions, DoctorReport } from './types.js';

/** An app registration as a sender uses it; several senders may share one. */
export interface SenderCredential {
  cloud?: CloudId;
  /** Directory (tenant) ID: a GUID or a verified domain. */
  tenantId: string;
  /** Application (client) ID. */
  clientId: string;
  /** The secret's value, resolved from its reference. One of secret or certificate. */
  clientSecret?: string | Secret;
  /** A certificate credential: the PEM file (certificate + private key) ... */
  clientCertificatePath?: string;
  /** ... or its PEM text. */
  clientCertificatePem?: string | Secret;
  /** When the client secret expires (YYYY-MM-DD or ISO date-time), when known. */
  clientSecretExpires?: string;
  /** The secondary credential (rotation, issue 17): the doctor tests it too (a token with it alone). */
  secondary?: { clientSecret?: string | Secret; clientCertificatePath?: string; clientCertificatePem?: string | Secret; clientSecretExpires?: string };
  /** Endpoint overrides (default: the cloud's; the environment's MAILGATE_* overrides are the caller's to apply). */
  authorityHost?: string;
  smtpHost?: string;
  smtpPort?: number;
  graphEndpoint?: string;
}

export interface SenderDescription {
  /** The From address messages carry. */
  from: string;
  /** The mailbox it signs in as (XOAUTH2 user=, Graph's /users/{id}); default: `from`. A different one means Send As. */
  signInAs?: string;
  credential: SenderCredential;
  /** smtp (default), graph or auto. */
  transport?: TransportId;
}

/**
 * The Email Settings of one sender: the credential's values and the signed-in mailbox as the
 * Authorized from Address, on top of `base` (timeouts and other settings the sender does not set).
 */
export function senderSettings(sender: SenderDescription, base: RawSettings = {}): RawSettings {
  const c = sender.credential;
  const raw: RawSettings = {
    ...base,
    useModernAuth: true,
    tenantId: c.tenantId,
    clientId: c.clientId,
    authorizedFrom: sender.signInAs ?? sender.from,
  };
  // A credential has one kind of secret: the base's other kind must not leak into this sender.
  for (const key of ['clientSecret', 'clientSecretExpires', 'clientCertificatePath', 'clientCertificatePem', 'smtpUsername', 'smtpPassword',
    'clientSecretSecondary', 'clientSecretExpiresSecondary', 'clientCertificatePathSecondary', 'clientCertificatePemSecondary'] as const) delete raw[key];
  if (c.clientSecret !== undefined) raw.clientSecret = c.clientSecret;
  if (c.clientCertificatePath !== undefined) raw.clientCertificatePath = c.clientCertificatePath;
  if (c.clientCertificatePem !== undefined) raw.clientCertificatePem = c.clientCertificatePem;
  if (c.clientSecretExpires !== undefined) raw.clientSecretExpires = c.clientSecretExpires;
  const sec = c.secondary;
  if (sec?.clientSecret !== undefined) raw.clientSecretSecondary = sec.clientSecret;
  if (sec?.clientCertificatePath !== undefined) raw.clientCertificatePathSecondary = sec.clientCertificatePath;
  if (sec?.clientCertificatePem !== undefined) raw.clientCertificatePemSecondary = sec.clientCertificatePem;
  if (sec?.clientSecretExpires !== undefined) raw.clientSecretExpiresSecondary = sec.clientSecretExpires;
  if (c.cloud !== undefined) raw.cloud = c.cloud;
  if (c.authorityHost !== undefined) raw.authorityHost = c.authorityHost;
  if (c.smtpHost !== undefined) raw.smtpHost = c.smtpHost;
  if (c.smtpPort !== undefined) raw.smtpPort = c.smtpPort;
  if (c.graphEndpoint !== undefined) raw.graphEndpoint = c.graphEndpoint;
  if (sender.transport !== undefined) raw.transport = sender.transport;
  return raw;
}

/** The doctor for one sender: every check, plus `send-as` for a Send As sender. */
export async function runSenderDoctor(sender: SenderDescription, options: Omit<DoctorOptions, 'from'> = {}, base: RawSettings = {}): Promise<DoctorReport> {
  return runSettingsAsSender(senderSettings(sender, base), { from: sender.from, signInAs: sender.signInAs }, options);
}

/**
 * The doctor for Email Settings seen as one sender (the CLI's `--from` / `--sign-in-as` before the
 * sender list exists), as the default sender of the sender model will read them: the From is
 * `from`, else the Authorized from Address; the signed-in mailbox is `signInAs`, else the From.
 * So `--from support@` signs in as support@, and `--sign-in-as noreply@` alone keeps the
 * Authorized from Address as the From and signs in as noreply@ (Send As).
 */
export async function runSettingsAsSender(raw: RawSettings, who: { from?: string; signInAs?: string }, options: Omit<DoctorOptions, 'from'> = {}): Promise<DoctorReport> {
  const configured = typeof raw.authorizedFrom === 'string' ? raw.authorizedFrom : '';
  const from = who.from ?? configured;
  const signInAs = who.signInAs ?? from;
  const report = await runDoctor({ ...raw, authorizedFrom: signInAs }, { ...options, from });
  // The sender goes first in the JSON, as it heads the text report.
  return { ok: report.ok, sender: { from, signInAs }, checks: report.checks };
}

export interface SendersReport {
  /** True when no sender's report has a failed check. */
  ok: boolean;
  senders: DoctorReport[];
}

/** One report per sender, one after the other (each may send a test message; Exchange's limits count per mailbox). */
export async function runSendersDoctor(senders: readonly SenderDescription[], options: Omit<DoctorOptions, 'from'> = {}, base: RawSettings = {}): Promise<SendersReport> {
  const reports: DoctorReport[] = [];
  for (const sender of senders) reports.push(await runSenderDoctor(sender, options, base));
  return { ok: reports.every((r) => r.ok), senders: reports };
}
