/**
 * The sender model (issue 16): credentials (app registrations) and senders (From addresses),
 * as ONE zod schema shared by the configuration file (MAILGATE_CONFIG, `mailgate config
 * check|import`), the HTTP API (/api/v1/senders, /api/v1/credentials) and the admin page.
 *
 * - A *credential* is an app registration: cloud, tenant, client ID, a client secret or a
 *   client certificate, and optional endpoint overrides. Several senders share one credential
 *   and then share its token (one token request per credential per token lifetime).
 * - A *sender* is a From address, the mailbox it signs in as (the XOAUTH2 `user=`; default the
 *   From address; another one means Send As), its credential, its transport and its limits,
 *   which apply per signed-in mailbox (what Exchange counts).
 *
 * Secrets are given by reference only in a file (`env:NAME`, `file:/path`); the API takes the
 * value only, which the store encrypts. References are resolved outside the core (config/).
 *
 * `senderSettings` turns a credential + sender into the raw Email Settings the rest of Mailgate
 * already understands (mailer, doctor, diagnosis), so a sender is "Email Settings with another
 * From address": nothing downstream needs to know about senders.
 *
 * Imports: nothing outside src/core (zod).
 */
import { z } from 'zod';
import { CLOUD_IDS } from './clouds.js';
import type { Problem } from './errors.js';
import { splitAddress } from './message.js';
import { parseExpiryDate } from './credential-expiry.js';
import { isGuid, TRANSPORT_IDS, type RawSettings, type TransportId } from './settings.js';

/** The name of the credential made of the Email Settings (the default sender's). */
export const DEFAULT_CREDENTIAL = 'default';

const NO_CRLF = (s: string) => !/[\r\n]/.test(s);
const DOMAIN = /^(?=.{1,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/;
const HOST = /^(?=.{1,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$|^\d{1,3}(?:\.\d{1,3}){3}$|^\[[0-9a-fA-F:]+\]$/;

const email = z.string().max(254).refine(NO_CRLF, 'must not contain line breaks').pipe(z.email('must be a valid email address'));
const https = z.string().max(300).refine((s) => { try { const u = new URL(s); return u.protocol === 'https:' && (u.pathname === '/' || u.pathname === '') && !u.search && !u.username; } catch { return false; } }, 'must be an https:// URL with the host only (e.g. https://login.microsoftonline.com)');

/** A secret reference: `env:NAME` or `file:/absolute/path`. */
export const SECRET_REFERENCE = /^(env:[A-Za-z_][A-Za-z0-9_]{0,127}|file:\/[^\r\n\0]{1,1000})$/;

export type SecretMode = 'reference' | 'value';

const reference = z.string().refine((s) => SECRET_REFERENCE.test(s), 'must be a reference (env:NAME or file:/path), never the secret itself');
// The API takes values only (stored encrypted): a reference given through the API would let an
// administrator point a secret they never held (an environment variable, any readable file) at
// an endpoint of their choosing. References are for the file, managed where the host is.
const value = z.string().min(1).max(16_384).refine((s) => !/^(env|file):/.test(s), 'must be the secret value (stored encrypted); references (env:, file:) are for the configuration file only');
const certificateReference = z.string().refine((s) => /^file:\/[^\r\n\0]{1,1000}$/.test(s) || /^env:[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(s), 'must be file:/path/to/cert.pem (or env:NAME holding the PEM), never the PEM itself');

const expires = z.string().max(40).refine((s) => parseExpiryDate(s) !== undefined, 'must be a date such as 2027-06-01 (YYYY-MM-DD, read as 00:00 UTC) or an ISO 8601 date-time such as 2027-06-01T09:30:00Z');

/** One credential. `secrets`: 'reference' (a file: only env:/file:) or 'value' (the API: the value itself, stored encrypted). */
export function credentialSchema(secrets: SecretMode) {
  const secret = secrets === 'reference' ? reference : value;
  const cert = secrets === 'reference' ? certificateReference : z.string().min(1).max(65_536).refine((s) => s.includes('-----BEGIN'), 'must be PEM text holding the certificate and its private key (stored encrypted)');
  return z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, dots, dashes or underscores'),
    cloud: z.enum(CLOUD_IDS).optional(),
    tenantId: z.string().refine((s) => isGuid(s) || DOMAIN.test(s), 'must be the Directory (tenant) ID GUID or a verified domain'),
    clientId: z.string().refine((s) => isGuid(s), 'must be a GUID like 00000000-0000-0000-0000-000000000000'),
    clientSecret: secret.optional(),
    clientCertificate: cert.optional(),
    // When the client secret expires (Entra shows it next to the secret; it does not tell at
    // token time): optional, the expiry warnings use it (issue 17). Same rule as the setting.
    clientSecretExpires: expires.optional(),
    // The secondary credential (issue 17, rotation). In a file: references only, like the
    // primary (read-only: edit the file to rotate). Through the API a secondary is added with
    // POST /api/v1/credentials/{name}/secondary; here only `null` is taken, which drops it (a
    // change of a destination must re-enter or drop every credential, the secondary too).
    secondary: secrets === 'reference'
      ? z.strictObject({ clientSecret: secret.optional(), clientCertificate: cert.optional(), clientSecretExpires: expires.optional() })
        .refine((o) => o.clientSecret !== undefined || o.clientCertificate !== undefined, 'needs clientSecret or clientCertificate').optional()
      : z.null().optional(),
    authorityHost: https.optional(),
    smtpHost: z.string().regex(HOST, 'must be a host name or an IP address').optional(),
    smtpPort: z.number().int().min(1).max(65535).optional(),
    graphEndpoint: https.optional(),
  });
}

export const senderSchema = z.strictObject({
  address: email,
  signInAs: email.optional(),
  credential: z.string().min(1).max(64),
  transport: z.enum(TRANSPORT_IDS).optional(),
  ratePerMinute: z.number().int().min(1).max(1_000_000).optional(),
  maxConnections: z.number().int().min(1, 'must be 1, 2 or 3').max(3, 'must be 1, 2 or 3 (Exchange Online allows 3 connections per mailbox)').optional(),
  dailyRecipients: z.number().int().min(1).max(1_000_000).optional(),
});

export type CredentialConfig = z.infer<ReturnType<typeof credentialSchema>>;
export type SenderConfig = z.infer<typeof senderSchema>;

export interface SendersConfig {
  credentials: CredentialConfig[];
  senders: SenderConfig[];
}

/** The whole configuration (file, import, export). */
export function sendersConfigSchema(secrets: SecretMode) {
  return z.strictObject({
    credentials: z.array(credentialSchema(secrets)).max(1000).default([]),
    senders: z.array(senderSchema).min(1, 'must name at least one sender (the first is the default)').max(10_000),
  });
}

/** A zod issue path as `senders[1].credential`. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(top level)';
}

function issueProblems(error: z.ZodError, prefix = ''): Problem[] {
  return error.issues.map((i) => {
    let message = i.message;
    if (i.code === 'unrecognized_keys') {
      return { key: pathText([...prefix ? [prefix] : [], ...i.path]), message: `${pathText([...prefix ? [prefix] : [], ...i.path])}: unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` };
    }
    if (i.code === 'invalid_type') message = /received undefined/.test(i.message) ? 'is required' : i.message;
    const key = pathText([...prefix ? [prefix] : [], ...i.path]);
    return { key, message: `${key}: ${message}` };
  });
}

/**
 * Validate a whole configuration: the schema, then the rules across entries (names and
 * addresses unique, every sender's credential known, a secret or a certificate per credential).
 * Every problem at once, each naming its path.
 */
export function parseSendersConfig(input: unknown, secrets: SecretMode, options: { knownCredentials?: readonly string[] } = {}): { ok: true; config: SendersConfig } | { ok: false; problems: Problem[] } {
  const r = sendersConfigSchema(secrets).safeParse(input);
  const problems: Problem[] = r.success ? [] : issueProblems(r.error);
  const raw = (input && typeof input === 'object' ? input : {}) as { credentials?: unknown; senders?: unknown };
  const creds = Array.isArray(raw.credentials) ? raw.credentials : [];
  const senders = Array.isArray(raw.senders) ? raw.senders : [];
  problems.push(...crossProblems(creds, senders, options.knownCredentials ?? []));
  if (problems.length || !r.success) return { ok: false, problems };
  return { ok: true, config: r.data as SendersConfig };
}

function crossProblems(creds: unknown[], senders: unknown[], known: readonly string[]): Problem[] {
  const out: Problem[] = [];
  const names = new Map<string, number>();
  creds.forEach((c, i) => {
    const o = (c ?? {}) as Record<string, unknown>;
    if (typeof o.name === 'string') {
      const k = o.name.toLowerCase();
      if (names.has(k)) out.push({ key: `credentials[${i}].name`, message: `credentials[${i}].name: "${o.name}" is already the name of credentials[${names.get(k)}]` });
      else names.set(k, i);
    }
    if (o.clientSecret === undefined && o.clientCertificate === undefined) out.push({ key: `credentials[${i}]`, message: `credentials[${i}]: needs clientSecret or clientCertificate` });
  });
  const addresses = new Map<string, number>();
  senders.forEach((s, i) => {
    const o = (s ?? {}) as Record<string, unknown>;
    if (typeof o.address === 'string') {
      const k = o.address.trim().toLowerCase();
      if (addresses.has(k)) out.push({ key: `senders[${i}].address`, message: `senders[${i}].address: ${o.address} is already senders[${addresses.get(k)}]` });
      else addresses.set(k, i);
    }
    if (typeof o.credential === 'string' && !names.has(o.credential.toLowerCase()) && !known.some((n) => n.toLowerCase() === o.credential!.toString().toLowerCase())) {
      out.push({ key: `senders[${i}].credential`, message: `senders[${i}].credential: no credential named "${o.credential}"` });
    }
  });
  return out;
}

/** A credential whose secret references are resolved (values in memory only). */
export interface ResolvedCredential extends Omit<CredentialConfig, 'clientSecret' | 'clientCertificate' | 'secondary'> {
  clientSecret?: string;
  /** PEM text (from file: or env:, or the stored value). */
  clientCertificatePem?: string;
  /** A file: certificate's path, when the certificate is read from a file by the mailer. */
  clientCertificatePath?: string;
  /** The secondary credential (rotation), resolved the same way. */
  secondary?: ResolvedSlot;
}

/** One resolved credential slot (values in memory only). */
export interface ResolvedSlot {
  clientSecret?: string;
  clientCertificatePem?: string;
  clientCertificatePath?: string;
  clientSecretExpires?: string;
}

/** The Email Settings keys a credential or a sender decides (the rest comes from `base`). */
export const IDENTITY_KEYS = ['useModernAuth', 'transport', 'cloud', 'clientId', 'clientSecret', 'clientSecretExpires', 'tenantId', 'authorizedFrom', 'clientCertificatePath', 'clientCertificatePem',
  'clientSecretSecondary', 'clientSecretExpiresSecondary', 'clientCertificatePathSecondary', 'clientCertificatePemSecondary', 'smtpUsername', 'smtpPassword'] as const;

/**
 * The raw Email Settings of one sender: `base` (timeouts, scopes, the environment's endpoint
 * overrides), then the credential (its own endpoints win), then the sender (signed-in mailbox,
 * transport). The result goes through `parseSettings` like any Email Settings.
 */
export function senderSettings(credential: ResolvedCredential, sender: SenderConfig, base: RawSettings = {}): RawSettings {
  const raw: RawSettings = { ...base };
  for (const k of IDENTITY_KEYS) delete raw[k];
  Object.assign(raw, {
    useModernAuth: true,
    cloud: credential.cloud ?? 'global',
    tenantId: credential.tenantId,
    clientId: credential.clientId,
    authorizedFrom: sender.signInAs ?? sender.address,
    transport: sender.transport ?? base.transport ?? 'smtp',
  });
  if (credential.clientSecret !== undefined) raw.clientSecret = credential.clientSecret;
  if (credential.clientCertificatePem !== undefined) raw.clientCertificatePem = credential.clientCertificatePem;
  if (credential.clientCertificatePath !== undefined) raw.clientCertificatePath = credential.clientCertificatePath;
  if (credential.clientSecretExpires !== undefined) raw.clientSecretExpires = credential.clientSecretExpires;
  const sec = credential.secondary;
  if (sec?.clientSecret !== undefined) raw.clientSecretSecondary = sec.clientSecret;
  if (sec?.clientCertificatePem !== undefined) raw.clientCertificatePemSecondary = sec.clientCertificatePem;
  if (sec?.clientCertificatePath !== undefined) raw.clientCertificatePathSecondary = sec.clientCertificatePath;
  if (sec?.clientSecretExpires !== undefined) raw.clientSecretExpiresSecondary = sec.clientSecretExpires;
  if (credential.authorityHost !== undefined) raw.authorityHost = credential.authorityHost;
  if (credential.smtpHost !== undefined) raw.smtpHost = credential.smtpHost;
  if (credential.smtpPort !== undefined) raw.smtpPort = credential.smtpPort;
  if (credential.graphEndpoint !== undefined) raw.graphEndpoint = credential.graphEndpoint;
  return raw;
}

/** What the worker and the API need to know about one configured sender. */
export interface SenderInfo {
  /** The From address, lower case. */
  address: string;
  /** The signed-in mailbox (XOAUTH2 user=), lower case. */
  signInAs: string;
  credential: string;
  transport: TransportId;
  ratePerMinute?: number;
  maxConnections?: number;
  dailyRecipients?: number;
  /** Where it is configured: the Email Settings (the default sender), the store, or MAILGATE_CONFIG. */
  source: 'settings' | 'stored' | 'file';
  isDefault: boolean;
}

export type SenderChoice =
  | { ok: true; sender: SenderInfo; from?: string }
  | { ok: false; status: 422; message: string; allowed: string[] };

/**
 * Which sender sends a message: the request's `from` (an address, or "Name <address>") must be
 * a configured sender this key may use; without it, the default sender (when this key may use
 * it, else its only sender). `allowed`: the key's senders (undefined: any).
 */
export function chooseSender(from: string | undefined, senders: readonly SenderInfo[], allowed?: readonly string[]): SenderChoice {
  const may = (s: SenderInfo) => !allowed || allowed.length === 0 || allowed.includes(s.address);
  const usable = senders.filter(may);
  const names = usable.map((s) => s.address);
  if (from === undefined) {
    const def = senders.find((s) => s.isDefault);
    if (def && may(def)) return { ok: true, sender: def };
    if (usable.length === 1) return { ok: true, sender: usable[0] };
    return { ok: false, status: 422, allowed: names, message: usable.length ? `from is required for this API key: it may send as ${names.join(', ')}` : 'no sender is configured that this API key may use' };
  }
  const address = splitAddress(from).address.trim().toLowerCase();
  const sender = usable.find((s) => s.address === address);
  if (!sender) return { ok: false, status: 422, allowed: names, message: `from: ${address} is not a sender this API key may use${names.length ? ` (it may use: ${names.join(', ')})` : ' (no sender is configured)'}` };
  return { ok: true, sender, from };
}
