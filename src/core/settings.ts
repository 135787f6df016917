/**
 * The Email Settings: one schema that is the single source of truth for every setting's
 * key, label (as on the administrator's Email Settings page), environment variable, default,
 * validation and documentation.
 *
 * Why: the CLI, the service, the HTTP API and the admin page all read and validate the same
 * settings; a problem must be reported once, with the label, the key and the environment
 * variable, and *all* problems at once, before any network call.
 *
 * `parseSettings(raw)` takes loosely typed values (strings from the environment, JSON values
 * from the store or an HTTP body) and returns either typed settings or every problem.
 * Secrets come out wrapped in `Secret`, so they redact themselves.
 *
 * Imports: nothing outside src/core (zod).
 */
import { z } from 'zod';
import { CLOUDS, CLOUD_IDS, type CloudId } from './clouds.js';
import type { Problem } from './errors.js';
import { parseExpiryDate } from './credential-expiry.js';
import { Secret } from './secret.js';

type FieldKind = 'boolean' | 'string' | 'integer' | 'secret' | 'enum';

export interface SettingField {
  key: SettingKey;
  label: string;
  env: string;
  kind: FieldKind;
  /** Shown in docs and on the admin page. */
  description: string;
  /** A fixed default, or a function of the chosen cloud. */
  defaultValue?: string | number | boolean | ((cloud: CloudId) => string);
  /** Enum values, for kind 'enum'. */
  values?: readonly string[];
  /** Shown only in the advanced part of the page. */
  advanced?: boolean;
  /** Which authentication mode uses the field ('both' when always). */
  mode: 'modern' | 'basic' | 'both';
  /**
   * Which transport uses the field, when only one does ('smtp': SMTP host, port, SMTP scope,
   * timeouts; 'graph': Graph endpoint, scope, Save to Sent Items). Omitted: both. The admin
   * page shows a field only when the chosen Transport uses it (Automatic uses both).
   */
  transport?: 'smtp' | 'graph';
  /** zod schema for the parsed value (after type coercion). */
  schema: z.ZodType;
  /**
   * The secondary credential (issue 17, rotation): set through the rotation flow (API
   * /api/v1/credentials/{name}/secondary, `mailgate credentials add`, the admin page's rotation
   * steps) or the environment, never as an ordinary field of the Email Settings form or PUT.
   */
  rotation?: boolean;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Whether a value is a GUID (tenant, client and object ids; message ids), any case. */
export function isGuid(value: string | undefined): boolean {
  return value !== undefined && GUID.test(value);
}
const DOMAIN = /^(?=.{1,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$/;
const HOST = /^(?=.{1,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$|^\d{1,3}(?:\.\d{1,3}){3}$|^\[[0-9a-fA-F:]+\]$/;
const NO_CRLF = (s: string) => !/[\r\n]/.test(s);

const guid = z.string().regex(GUID, 'must be a GUID like 00000000-0000-0000-0000-000000000000');
const tenant = z
  .string()
  .refine((s) => GUID.test(s) || DOMAIN.test(s), 'must be the Directory (tenant) ID GUID or a verified domain such as contoso.onmicrosoft.com');
const email = z.string().refine(NO_CRLF, 'must not contain line breaks').pipe(z.email('must be a valid email address'));
const host = z.string().regex(HOST, 'must be a host name or an IP address');
const httpsUrl = z
  .string()
  .pipe(z.url('must be a URL such as https://login.microsoftonline.com'))
  .refine((s) => s.startsWith('https://'), 'must use https://')
  .refine((s) => !/\/[^/]+\/oauth2/i.test(s), 'must be the host only (e.g. https://login.microsoftonline.com), without the tenant or /oauth2 path');
/** A Graph endpoint: https, scheme and host (and port) only; Mailgate adds /v1.0/users/... itself. */
const graphUrl = z
  .string()
  .pipe(z.url('must be a URL such as https://graph.microsoft.com'))
  .refine((s) => s.startsWith('https://'), 'must use https://')
  .refine((s) => { try { const u = new URL(s); return (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash && !u.username && !u.password; } catch { return false; } },
    'must be the endpoint only (e.g. https://graph.microsoft.com), without a path such as /v1.0');
const port = z.number().int('must be a whole number').min(1, 'must be between 1 and 65535').max(65535, 'must be between 1 and 65535');
const ms = (min: number, max: number) => z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);
const nonEmpty = z.string().min(1).refine(NO_CRLF, 'must not contain line breaks');

function field(f: Omit<SettingField, 'env'> & { env?: string }): SettingField {
  const env = f.env ?? `MAILGATE_${f.key.replace(/([A-Z])/g, '_$1').toUpperCase()}`;
  return { ...f, env };
}

export const TRANSPORT_IDS = ['smtp', 'graph', 'auto'] as const;
export type TransportId = (typeof TRANSPORT_IDS)[number];

export const SETTING_KEYS = [
  'useModernAuth',
  'transport',
  'cloud',
  'smtpHost',
  'smtpPort',
  'clientId',
  'clientSecret',
  'clientSecretExpires',
  'tenantId',
  'authorizedFrom',
  'authorityHost',
  'scope',
  'clientCertificatePath',
  'clientCertificatePem',
  'clientSecretSecondary',
  'clientSecretExpiresSecondary',
  'clientCertificatePathSecondary',
  'clientCertificatePemSecondary',
  'smtpUsername',
  'smtpPassword',
  'connectionTimeoutMs',
  'greetingTimeoutMs',
  'socketTimeoutMs',
  'tokenRefreshMarginSeconds',
  'graphEndpoint',
  'graphScope',
  'saveToSentItems',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** Every setting, in the order of the Email Settings page. */
export const SETTINGS_FIELDS: readonly SettingField[] = [
  field({ key: 'useModernAuth', label: 'Use modern SMTP Authentication', kind: 'boolean', mode: 'both', defaultValue: true, schema: z.boolean(),
    description: 'On: OAuth2 client credentials and SMTP XOAUTH2. Off: SMTP AUTH with a username and password (Basic authentication, which Microsoft disables by default from the end of December 2026).' }),
  field({ key: 'transport', label: 'Transport', kind: 'enum', values: TRANSPORT_IDS, mode: 'both', defaultValue: 'smtp', schema: z.enum(TRANSPORT_IDS),
    description: 'How messages leave: smtp (SMTP AUTH XOAUTH2, needs SMTP.SendAsApp), graph (Microsoft Graph sendMail, needs the Mail.Send application permission), or auto (Automatic: SMTP or Graph, whichever works for the sender). Graph and Automatic need modern authentication.' }),
  field({ key: 'cloud', label: 'Cloud', kind: 'enum', values: CLOUD_IDS, mode: 'both', defaultValue: 'global', schema: z.enum(CLOUD_IDS),
    description: 'The Microsoft cloud: global, gcc-high, dod or china. Sets the authority host, SMTP host and scope together.' }),
  field({ key: 'smtpHost', transport: 'smtp', label: 'SMTP Client Server', kind: 'string', mode: 'both', defaultValue: (c) => CLOUDS[c].smtpHost, schema: host,
    description: 'The SMTP submission host, smtp.office365.com for the global cloud.' }),
  field({ key: 'smtpPort', transport: 'smtp', label: 'Port', kind: 'integer', mode: 'both', defaultValue: 587, schema: port,
    description: 'The SMTP submission port: 587 with STARTTLS.' }),
  field({ key: 'clientId', label: 'Application (client) ID', kind: 'string', mode: 'modern', schema: guid,
    description: 'The Application (client) ID from the app registration\'s Overview page.' }),
  field({ key: 'clientSecret', label: 'Client Secret', kind: 'secret', mode: 'modern', schema: nonEmpty,
    description: 'The client secret\'s Value (not its Secret ID), from Certificates & secrets.' }),
  field({ key: 'clientSecretExpires', label: 'Client Secret expires', kind: 'string', mode: 'modern',
    schema: z.string().refine((s) => parseExpiryDate(s) !== undefined, 'must be a date such as 2027-06-01 (YYYY-MM-DD, read as 00:00 UTC) or an ISO 8601 date-time such as 2027-06-01T09:30:00Z'),
    description: 'The date the secret expires, as shown in the Expires column next to it in Certificates & secrets (YYYY-MM-DD). Optional but recommended: Mailgate warns 30, 14, 7 and 1 days before.' }),
  field({ key: 'tenantId', label: 'Directory (tenant) ID', kind: 'string', mode: 'modern', schema: tenant,
    description: 'The Directory (tenant) ID GUID from the app registration\'s Overview page, or a verified domain.' }),
  field({ key: 'authorizedFrom', label: 'Authorized from Address', kind: 'string', mode: 'both', schema: email,
    description: 'The mailbox the application sends as; the service principal needs FullAccess on it.' }),
  field({ key: 'authorityHost', label: 'Authority host', kind: 'string', mode: 'modern', advanced: true, defaultValue: (c) => CLOUDS[c].authorityHost, schema: httpsUrl,
    description: 'The Microsoft Entra ID host that issues tokens, e.g. https://login.microsoftonline.com.' }),
  field({ key: 'scope', transport: 'smtp', label: 'Token scope', kind: 'string', mode: 'modern', advanced: true, defaultValue: (c) => CLOUDS[c].smtpScope,
    schema: nonEmpty.refine((s) => s.endsWith('/.default'), 'must end with /.default (client-credentials scopes name a resource, e.g. https://outlook.office365.com/.default)'),
    description: 'The client-credentials scope for SMTP, https://outlook.office365.com/.default for the global cloud.' }),
  field({ key: 'clientCertificatePath', label: 'Client certificate', kind: 'string', mode: 'modern', schema: nonEmpty,
    description: 'Path to a PEM file holding the certificate and its private key, used instead of a client secret.' }),
  field({ key: 'clientCertificatePem', label: 'Client certificate (PEM)', kind: 'secret', mode: 'modern', advanced: true,
    schema: z.string().min(1).refine((s) => s.includes('-----BEGIN'), 'must be PEM text holding the certificate and its private key'),
    description: 'The certificate and private key as PEM text (stored encrypted), instead of a file path.' }),
  // The secondary credential (issue 17): the second live credential of the same app
  // registration, used at once when Entra refuses the primary (core/credential-rotation.ts).
  field({ key: 'clientSecretSecondary', label: 'Secondary client secret', kind: 'secret', mode: 'modern', advanced: true, rotation: true, schema: nonEmpty,
    description: 'A second client secret of the same app registration (rotation): used when Entra refuses the primary with an invalid or expired secret. Set it with `mailgate credentials add` or the API, or this variable.' }),
  field({ key: 'clientSecretExpiresSecondary', label: 'Secondary client secret expires', kind: 'string', mode: 'modern', advanced: true, rotation: true,
    schema: z.string().refine((s) => parseExpiryDate(s) !== undefined, 'must be a date such as 2027-06-01 (YYYY-MM-DD, read as 00:00 UTC) or an ISO 8601 date-time such as 2027-06-01T09:30:00Z'),
    description: 'When the secondary client secret expires (YYYY-MM-DD), as shown in Certificates & secrets.' }),
  field({ key: 'clientCertificatePathSecondary', label: 'Secondary client certificate', kind: 'string', mode: 'modern', advanced: true, rotation: true, schema: nonEmpty,
    description: 'Path to a PEM file (certificate and private key) used as the secondary credential instead of a secondary client secret.' }),
  field({ key: 'clientCertificatePemSecondary', label: 'Secondary client certificate (PEM)', kind: 'secret', mode: 'modern', advanced: true, rotation: true,
    schema: z.string().min(1).refine((s) => s.includes('-----BEGIN'), 'must be PEM text holding the certificate and its private key'),
    description: 'The secondary certificate and private key as PEM text (stored encrypted).' }),
  field({ key: 'smtpUsername', label: 'SMTP Username', kind: 'string', mode: 'basic', schema: nonEmpty,
    description: 'The mailbox username for Basic authentication (only when modern authentication is off).' }),
  field({ key: 'smtpPassword', label: 'SMTP Password', kind: 'secret', mode: 'basic', schema: nonEmpty,
    description: 'The mailbox password for Basic authentication (only when modern authentication is off).' }),
  field({ key: 'connectionTimeoutMs', transport: 'smtp', label: 'Connection timeout (ms)', kind: 'integer', mode: 'both', advanced: true, defaultValue: 15000, schema: ms(100, 300000),
    description: 'How long to wait for the TCP connection to the SMTP server.' }),
  field({ key: 'greetingTimeoutMs', transport: 'smtp', label: 'Greeting timeout (ms)', kind: 'integer', mode: 'both', advanced: true, defaultValue: 15000, schema: ms(100, 300000),
    description: 'How long to wait for the SMTP greeting once connected.' }),
  field({ key: 'socketTimeoutMs', transport: 'smtp', label: 'Socket timeout (ms)', kind: 'integer', mode: 'both', advanced: true, defaultValue: 60000, schema: ms(100, 3600000),
    description: 'How long a silent connection may stay open before it is closed.' }),
  field({ key: 'tokenRefreshMarginSeconds', label: 'Token refresh margin (s)', kind: 'integer', mode: 'modern', advanced: true, defaultValue: 300, schema: ms(30, 3000),
    description: 'Refresh an access token this many seconds before it expires (at least 5 minutes is recommended).' }),
  field({ key: 'graphEndpoint', label: 'Microsoft Graph endpoint', kind: 'string', mode: 'modern', transport: 'graph', advanced: true, defaultValue: (c) => CLOUDS[c].graphHost, schema: graphUrl,
    description: 'Where Graph requests go, e.g. https://graph.microsoft.com. Changing it does not change the token\'s scope, which follows the cloud (or Graph token scope).' }),
  field({ key: 'graphScope', label: 'Graph token scope', kind: 'string', mode: 'modern', transport: 'graph', advanced: true, defaultValue: (c) => CLOUDS[c].graphScope,
    schema: nonEmpty.refine((s) => s.endsWith('/.default'), 'must end with /.default (client-credentials scopes name a resource, e.g. https://graph.microsoft.com/.default)'),
    description: 'The client-credentials scope for Microsoft Graph, https://graph.microsoft.com/.default for the global cloud.' }),
  field({ key: 'saveToSentItems', label: 'Save to Sent Items', kind: 'boolean', mode: 'modern', transport: 'graph', defaultValue: true, schema: z.boolean(),
    description: 'Whether Graph keeps a copy of each message in the mailbox\'s Sent Items (Graph\'s own default: on). Graph honours it only for JSON messages; Mailgate sends MIME (identical to SMTP), which Graph always saves, as SMTP AUTH does.' }),
];

export const FIELD_BY_KEY: Readonly<Record<SettingKey, SettingField>> = Object.fromEntries(
  SETTINGS_FIELDS.map((f) => [f.key, f]),
) as Record<SettingKey, SettingField>;

/** Typed, validated Email Settings. */
export interface EmailSettings {
  useModernAuth: boolean;
  /** smtp (default), graph, or auto (Automatic). */
  transport: TransportId;
  cloud: CloudId;
  smtpHost: string;
  smtpPort: number;
  clientId?: string;
  clientSecret?: Secret;
  /** "Client Secret expires" as entered (parse with core/credential-expiry.ts parseExpiryDate). */
  clientSecretExpires?: string;
  tenantId?: string;
  authorizedFrom: string;
  authorityHost: string;
  scope: string;
  clientCertificatePath?: string;
  clientCertificatePem?: Secret;
  /** The secondary credential (rotation, issue 17); present only when set. */
  clientSecretSecondary?: Secret;
  clientSecretExpiresSecondary?: string;
  clientCertificatePathSecondary?: string;
  clientCertificatePemSecondary?: Secret;
  smtpUsername?: string;
  smtpPassword?: Secret;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
  tokenRefreshMarginSeconds: number;
  /** The Graph endpoint, scheme and host, without a trailing slash. */
  graphEndpoint: string;
  graphScope: string;
  saveToSentItems: boolean;
}

/** Loosely typed input: strings from the environment, JSON values from a store or a request. */
export type RawSettings = Partial<Record<SettingKey, unknown>>;

export type SettingsResult =
  | { ok: true; settings: EmailSettings; warnings: Problem[] }
  | { ok: false; problems: Problem[]; warnings: Problem[] };

function problem(f: SettingField, message: string): Problem {
  return { key: f.key, env: f.env, label: f.label, message: `${f.label} (${f.key}, ${f.env}) ${message}` };
}

function isUnset(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

/** Coerce a raw value to the field's type, or return an error message. */
function coerce(f: SettingField, v: unknown): { value?: unknown; error?: string } {
  if (v instanceof Secret) v = v.reveal();
  switch (f.kind) {
    case 'boolean': {
      if (typeof v === 'boolean') return { value: v };
      const s = String(v).trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return { value: true };
      if (['false', '0', 'no', 'off'].includes(s)) return { value: false };
      return { error: 'must be true or false' };
    }
    case 'integer': {
      if (typeof v === 'number') return { value: v };
      const s = String(v).trim();
      if (!/^-?\d+$/.test(s)) return { error: 'must be a whole number' };
      return { value: Number(s) };
    }
    default:
      if (typeof v !== 'string') return { error: 'must be text' };
      return { value: f.kind === 'secret' ? v : v.trim() };
  }
}

function firstIssue(r: { success: boolean; error?: { issues: { message: string }[] } }): string {
  return r.error?.issues[0]?.message ?? 'is invalid';
}

/**
 * Validate raw settings. Returns typed settings, or every problem at once (each naming the
 * label, key and environment variable). Never makes a network call and never reads files.
 */
export function parseSettings(raw: RawSettings): SettingsResult {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const values: Partial<Record<SettingKey, unknown>> = {};

  for (const f of SETTINGS_FIELDS) {
    const v = raw[f.key];
    if (isUnset(v)) continue;
    const c = coerce(f, v);
    if (c.error) {
      problems.push(problem(f, c.error));
      continue;
    }
    const r = f.schema.safeParse(c.value);
    if (!r.success) problems.push(problem(f, firstIssue(r)));
    else values[f.key] = r.data;
  }

  const cloud = (values.cloud as CloudId | undefined) ?? 'global';
  const modern = (values.useModernAuth as boolean | undefined) ?? true;
  const failed = new Set(problems.map((p) => p.key));
  const need = (key: SettingKey, why: string) => {
    if (values[key] === undefined && !failed.has(key)) problems.push(problem(FIELD_BY_KEY[key], `is required ${why}`));
  };

  need('authorizedFrom', '(the mailbox the application sends as)');
  if (modern) {
    need('clientId', 'when modern authentication is on');
    need('tenantId', 'when modern authentication is on');
    const hasCredential = ['clientSecret', 'clientCertificatePath', 'clientCertificatePem'].some(
      (k) => values[k as SettingKey] !== undefined || failed.has(k),
    );
    if (!hasCredential) {
      problems.push(problem(FIELD_BY_KEY.clientSecret, 'or a Client certificate is required when modern authentication is on'));
    }
    const secret = values.clientSecret as string | undefined;
    if (secret !== undefined && GUID.test(secret.trim())) {
      warnings.push(
        problem(
          FIELD_BY_KEY.clientSecret,
          "looks like a GUID: that is probably the secret's ID, not its Value. Copy the Value column from Certificates & secrets (it is shown only once, right after the secret is created); Entra answers AADSTS7000215 to a secret ID.",
        ),
      );
    }
    if (secret !== undefined && (values.clientCertificatePath !== undefined || values.clientCertificatePem !== undefined)) {
      warnings.push(problem(FIELD_BY_KEY.clientCertificatePath, 'is set together with a Client Secret: the certificate is used.'));
    }
  } else {
    const transport = values.transport as TransportId | undefined;
    if (transport === 'graph' || transport === 'auto') {
      problems.push(problem(FIELD_BY_KEY.transport, `is ${transport}, which needs modern authentication: Microsoft Graph accepts only OAuth2 tokens. Turn on Use modern SMTP Authentication or choose smtp.`));
    }
    need('smtpUsername', 'when modern authentication is off');
    need('smtpPassword', 'when modern authentication is off');
    warnings.push(
      problem(
        FIELD_BY_KEY.useModernAuth,
        'is off: Basic authentication for SMTP AUTH is disabled by default for existing Microsoft 365 tenants from the end of December 2026. Switch to modern authentication (OAuth2).',
      ),
    );
  }

  if (values.saveToSentItems === false && (values.transport === 'graph' || values.transport === 'auto')) {
    // Graph takes saveToSentItems only with a JSON body; Mailgate sends the MIME message (so the
    // message is byte for byte the SMTP one), which Graph always saves (docs/m365.md §13).
    warnings.push(problem(FIELD_BY_KEY.saveToSentItems, 'is off, but Microsoft Graph applies it only to JSON messages: Mailgate sends the MIME message (identical to the SMTP one), which Graph always saves to Sent Items, as SMTP AUTH does. Use a retention policy on Sent Items to keep the mailbox small.'));
  }

  if (problems.length) return { ok: false, problems, warnings };

  const def = (key: SettingKey) => {
    const d = FIELD_BY_KEY[key].defaultValue;
    return typeof d === 'function' ? d(cloud) : d;
  };
  const get = <T>(key: SettingKey): T => (values[key] ?? def(key)) as T;
  const secretOf = (key: SettingKey) => (values[key] === undefined ? undefined : new Secret(values[key] as string));

  const settings: EmailSettings = {
    useModernAuth: modern,
    transport: get<TransportId>('transport'),
    cloud,
    smtpHost: get<string>('smtpHost'),
    smtpPort: get<number>('smtpPort'),
    clientId: values.clientId as string | undefined,
    clientSecret: secretOf('clientSecret'),
    clientSecretExpires: values.clientSecretExpires as string | undefined,
    tenantId: values.tenantId as string | undefined,
    authorizedFrom: values.authorizedFrom as string,
    authorityHost: get<string>('authorityHost').replace(/\/+$/, ''),
    scope: get<string>('scope'),
    clientCertificatePath: values.clientCertificatePath as string | undefined,
    clientCertificatePem: secretOf('clientCertificatePem'),
    smtpUsername: values.smtpUsername as string | undefined,
    smtpPassword: secretOf('smtpPassword'),
    connectionTimeoutMs: get<number>('connectionTimeoutMs'),
    greetingTimeoutMs: get<number>('greetingTimeoutMs'),
    socketTimeoutMs: get<number>('socketTimeoutMs'),
    tokenRefreshMarginSeconds: get<number>('tokenRefreshMarginSeconds'),
    graphEndpoint: get<string>('graphEndpoint').replace(/\/+$/, ''),
    graphScope: get<string>('graphScope'),
    saveToSentItems: get<boolean>('saveToSentItems'),
  };
  // The secondary only when set (modern authentication only), so settings without one look as before.
  if (modern) {
    if (values.clientSecretSecondary !== undefined) settings.clientSecretSecondary = secretOf('clientSecretSecondary');
    if (values.clientSecretExpiresSecondary !== undefined) settings.clientSecretExpiresSecondary = values.clientSecretExpiresSecondary as string;
    if (values.clientCertificatePathSecondary !== undefined) settings.clientCertificatePathSecondary = values.clientCertificatePathSecondary as string;
    if (values.clientCertificatePemSecondary !== undefined) settings.clientCertificatePemSecondary = secretOf('clientCertificatePemSecondary');
  }
  return { ok: true, settings, warnings };
}

/** Read every setting that is present in the environment. Returns the raw values and which keys they cover. */
export function settingsFromEnv(env: Record<string, string | undefined>): { raw: RawSettings; keys: SettingKey[] } {
  const raw: RawSettings = {};
  const keys: SettingKey[] = [];
  for (const f of SETTINGS_FIELDS) {
    const v = env[f.env];
    if (v !== undefined && v !== '') {
      raw[f.key] = v;
      keys.push(f.key);
    }
  }
  return { raw, keys };
}

/** Whether a field holds a secret (never shown, never returned by an API). */
/**
 * Every secret value among settings, typed or raw, valid or not (each as given and trimmed):
 * what must be scrubbed from anything shown or stored. The one list the service's logs, the
 * worker's stored replies and the doctor's report all scrub with.
 */
export function secretValues(settings: RawSettings | EmailSettings): string[] {
  const out = new Set<string>();
  for (const f of SETTINGS_FIELDS) {
    if (f.kind !== 'secret') continue;
    const v = (settings as Record<string, unknown>)[f.key];
    const text = v instanceof Secret ? v.reveal() : typeof v === 'string' ? v : undefined;
    if (!text) continue;
    out.add(text);
    if (text.trim()) out.add(text.trim());
  }
  return [...out];
}

export function isSecretField(key: SettingKey): boolean {
  return FIELD_BY_KEY[key].kind === 'secret';
}

/** The non-secret settings as plain JSON, with `<key>Set: boolean` for each secret. */
export function publicSettings(s: EmailSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of SETTINGS_FIELDS) {
    const v = (s as unknown as Record<string, unknown>)[f.key];
    if (f.kind === 'secret') out[`${f.key}Set`] = v !== undefined;
    else if (v !== undefined) out[f.key] = v;
  }
  return out;
}
