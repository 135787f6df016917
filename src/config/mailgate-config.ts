/**
 * Configuration as code (issue 16): the MAILGATE_CONFIG file (YAML or JSON) of credentials and
 * senders, read and checked here, and the secret references it holds (`env:NAME`, `file:/path`)
 * resolved here.
 *
 * Why here: this is the I/O side of the sender model (src/core/senders.ts holds the one schema
 * the file, the API and the admin page share). The file itself and every `file:` reference are
 * read through bounded-file.ts (a regular file of bounded size, never a FIFO or a device).
 * YAML is parsed with the `yaml` package (no dependencies, Node 20), in its safe core schema:
 * no custom tags, aliases bounded.
 *
 * Imports: node:path, yaml, src/core, ./bounded-file.
 */
import { isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Problem } from '../core/errors.js';
import { IDENTITY_KEYS, parseSendersConfig, type CredentialConfig, type ResolvedCredential, type SecretMode, type SendersConfig } from '../core/senders.js';
import { FIELD_BY_KEY } from '../core/settings.js';
import { BoundedFileError, readBoundedFile } from './bounded-file.js';

/** The largest configuration file read (a few thousand senders). */
export const CONFIG_FILE_LIMIT = 4 * 1024 * 1024;

export type ConfigResult = { ok: true; config: SendersConfig } | { ok: false; problems: Problem[] };

/** Parse a configuration text (YAML, of which JSON is a subset) and check it; every problem at once. */
export function parseConfigText(text: string, secrets: SecretMode = 'reference', name = 'the configuration'): ConfigResult {
  let doc: unknown;
  try {
    doc = parseYaml(text, { schema: 'core', maxAliasCount: 100, uniqueKeys: true, prettyErrors: true });
  } catch (error) {
    return { ok: false, problems: [{ key: '(file)', message: `${name} is not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}` }] };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, problems: [{ key: '(file)', message: `${name} must be a mapping with credentials and senders` }] };
  }
  return parseSendersConfig(doc, secrets);
}

/** Read and check a configuration file (the file is bounded and must be a regular file). */
export async function readConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = (await readBoundedFile(path, CONFIG_FILE_LIMIT)).toString('utf8');
  } catch (error) {
    return { ok: false, problems: [{ key: '(file)', message: `MAILGATE_CONFIG ${path}: ${(error as Error).message}` }] };
  }
  return parseConfigText(text, 'reference', path);
}

/**
 * With MAILGATE_CONFIG, the single-sender variables (the default sender's identity) are an
 * error naming both, not a silent merge. The endpoint overrides (MAILGATE_AUTHORITY_HOST,
 * MAILGATE_SMTP_HOST, MAILGATE_SMTP_PORT, MAILGATE_GRAPH_ENDPOINT), the timeouts and scopes
 * still apply to every credential.
 */
export function singleSenderEnvConflicts(env: Record<string, string | undefined>): Problem[] {
  const out: Problem[] = [];
  for (const k of IDENTITY_KEYS) {
    const f = FIELD_BY_KEY[k];
    if (env[f.env] !== undefined && env[f.env] !== '') {
      out.push({ key: f.key, env: f.env, label: f.label, message: `${f.env} is set together with MAILGATE_CONFIG: configure the senders in one place (move it into ${env.MAILGATE_CONFIG ?? 'the configuration file'}, or unset MAILGATE_CONFIG)` });
    }
  }
  return out;
}

/**
 * Resolve one secret reference: `env:NAME` (set and not empty) or `file:/absolute/path` (a
 * bounded regular file; its text trimmed). Anything else is a value given by the API (stored
 * encrypted) and returned as it is.
 */
export async function resolveSecret(ref: string, env: Record<string, string | undefined>, where: string): Promise<{ value?: string; problem?: Problem }> {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const v = env[name];
    if (v === undefined || v === '') return { problem: { key: where, message: `${where}: the environment variable ${name} (${ref}) is not set` } };
    return { value: v };
  }
  if (ref.startsWith('file:')) {
    const path = ref.slice(5);
    if (!isAbsolute(path)) return { problem: { key: where, message: `${where}: ${ref} must name an absolute path` } };
    try {
      return { value: (await readBoundedFile(path)).toString('utf8').trim() };
    } catch (error) {
      const why = error instanceof BoundedFileError ? error.message : (error as Error).message;
      return { problem: { key: where, message: `${where}: ${why}` } };
    }
  }
  return { value: ref };
}

/** A credential with its secret and certificate resolved (in memory only; never stored or shown). */
export async function resolveCredential(c: CredentialConfig, env: Record<string, string | undefined>, where: string): Promise<{ credential?: ResolvedCredential; problems: Problem[] }> {
  const problems: Problem[] = [];
  const { clientSecret, clientCertificate, secondary, ...rest } = c;
  const out: ResolvedCredential = { ...rest };
  const slot = async (secret: string | undefined, certificate: string | undefined, at: string, into: { clientSecret?: string; clientCertificatePem?: string }) => {
    if (secret !== undefined) {
      const r = await resolveSecret(secret, env, `${at}.clientSecret`);
      if (r.problem) problems.push(r.problem);
      else into.clientSecret = r.value;
    }
    if (certificate !== undefined) {
      const r = await resolveSecret(certificate, env, `${at}.clientCertificate`);
      if (r.problem) problems.push(r.problem);
      else if (r.value && !r.value.includes('-----BEGIN')) problems.push({ key: `${at}.clientCertificate`, message: `${at}.clientCertificate: not PEM text (a certificate and its private key)` });
      else into.clientCertificatePem = r.value;
    }
  };
  await slot(clientSecret, clientCertificate, where, out);
  // The secondary (rotation, issue 17): resolved like the primary; a stored secondary's
  // encrypted values are decrypted by the caller (service/settings/senders-service.ts).
  if (secondary) {
    const sec: NonNullable<ResolvedCredential['secondary']> = {};
    await slot(secondary.clientSecret, secondary.clientCertificate, `${where}.secondary`, sec);
    if (secondary.clientSecretExpires !== undefined) sec.clientSecretExpires = secondary.clientSecretExpires;
    out.secondary = sec;
  }
  return problems.length ? { problems } : { credential: out, problems };
}

/** Check a file as `mailgate config check` does: the schema, then every reference resolvable. */
export async function checkConfigFile(path: string, env: Record<string, string | undefined>): Promise<ConfigResult> {
  const r = await readConfigFile(path);
  if (!r.ok) return r;
  const problems: Problem[] = [];
  for (const [i, c] of r.config.credentials.entries()) problems.push(...(await resolveCredential(c, env, `credentials[${i}]`)).problems);
  return problems.length ? { ok: false, problems } : r;
}
