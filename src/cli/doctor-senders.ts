/**
 * The senders `mailgate doctor` and `mailgate setup-script` check (issue 16, item 5): the
 * default sender (the Email Settings, from the environment or the data dir) and the data dir's
 * stored senders, or every sender of MAILGATE_CONFIG, each as the doctor runs it: the default
 * sender (and stored senders on the "default" credential) with the Email Settings' raw values,
 * the others as a `SenderDescription` (credential resolved: references read, stored secrets
 * decrypted; the environment's endpoint overrides apply where the credential sets none, through
 * the `base` settings).
 *
 * Why it exists: the service's SendersService needs a writable store and a settings service;
 * the CLI reads a data dir read-only, or only the environment, and must not start anything.
 * The same rules (first file sender is the default, stored senders after the default) apply.
 *
 * Secrets stay in memory; reports are scrubbed by runDoctor.
 *
 * Imports: src/core, src/config, src/doctor (types), src/service/settings (stored document).
 */
import { MailgateError, type Problem } from '../core/errors.js';
import { DEFAULT_CREDENTIAL, type ResolvedCredential } from '../core/senders.js';
import { settingsFromEnv, type RawSettings } from '../core/settings.js';
import { checkConfigFile, resolveCredential, singleSenderEnvConflicts } from '../config/mailgate-config.js';
import type { SenderCredential, SenderDescription } from '../doctor/sender-doctor.js';
import { resolveStoredCredential, storedSendersDoc } from '../service/settings/senders-service.js';

/** One sender as the doctor checks it. */
export interface DoctorSender {
  from: string;
  signInAs: string;
  credential: string;
  /** Checked with these raw Email Settings (the default credential's) ... */
  raw?: RawSettings;
  /** ... or as a sender with its own credential (runSenderDoctor). */
  sender?: SenderDescription;
  /** Why it cannot be checked (an unknown or unreadable credential). */
  problems: Problem[];
  isDefault: boolean;
}

export interface DoctorSenderList {
  senders: DoctorSender[];
  /** The settings a named credential's sender starts from (timeouts, the environment's endpoint overrides). */
  base: RawSettings;
  /** Whether the list comes from MAILGATE_CONFIG. */
  fromFile: boolean;
}

const argumentError = (problems: Problem[]): MailgateError =>
  new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: `Invalid configuration: ${problems.map((p) => p.message).join('; ')}`, problems });

export function senderCredential(c: ResolvedCredential): SenderCredential {
  return {
    ...(c.cloud !== undefined ? { cloud: c.cloud } : {}),
    tenantId: c.tenantId,
    clientId: c.clientId,
    ...(c.clientSecret !== undefined ? { clientSecret: c.clientSecret } : {}),
    ...(c.clientCertificatePem !== undefined ? { clientCertificatePem: c.clientCertificatePem } : {}),
    ...(c.clientCertificatePath !== undefined ? { clientCertificatePath: c.clientCertificatePath } : {}),
    ...(c.clientSecretExpires !== undefined ? { clientSecretExpires: c.clientSecretExpires } : {}),
    ...(c.secondary ? { secondary: { ...c.secondary } } : {}),
    ...(c.authorityHost !== undefined ? { authorityHost: c.authorityHost } : {}),
    ...(c.smtpHost !== undefined ? { smtpHost: c.smtpHost } : {}),
    ...(c.smtpPort !== undefined ? { smtpPort: c.smtpPort } : {}),
    ...(c.graphEndpoint !== undefined ? { graphEndpoint: c.graphEndpoint } : {}),
  };
}

/**
 * The senders in effect. `defaultRaw`: the Email Settings (environment, or the data dir's with
 * the environment on top); `stored`: the data dir's settings rows and master key, when read.
 * With MAILGATE_CONFIG the file is the whole list (its problems are argument errors, as they
 * stop the service); the single-sender variables beside it are an error naming both.
 */
export async function doctorSenders(env: Record<string, string | undefined>, defaultRaw: RawSettings, stored?: { rows: Record<string, string>; key: Buffer }): Promise<DoctorSenderList> {
  const base = settingsFromEnv(env).raw;
  const path = env.MAILGATE_CONFIG?.trim();
  if (path) {
    const conflicts = singleSenderEnvConflicts(env);
    if (conflicts.length) throw argumentError(conflicts);
    const r = await checkConfigFile(path, env);
    if (!r.ok) throw argumentError(r.problems.map((p) => ({ ...p, message: `MAILGATE_CONFIG ${path}: ${p.message}` })));
    const creds = new Map<string, ResolvedCredential>();
    for (const [i, c] of r.config.credentials.entries()) {
      const x = await resolveCredential(c, env, `credentials[${i}]`);
      if (x.credential) creds.set(c.name.toLowerCase(), x.credential);
    }
    const senders = r.config.senders.map((s, i): DoctorSender => {
      const from = s.address.toLowerCase();
      const signInAs = (s.signInAs ?? s.address).toLowerCase();
      const c = creds.get(s.credential.toLowerCase())!;
      return { from, signInAs, credential: s.credential, sender: { from, signInAs, credential: senderCredential(c), ...(s.transport ? { transport: s.transport } : {}) }, problems: [], isDefault: i === 0 };
    });
    return { senders, base, fromFile: true };
  }
  const senders: DoctorSender[] = [];
  const def = typeof defaultRaw.authorizedFrom === 'string' ? defaultRaw.authorizedFrom.trim().toLowerCase() : '';
  if (def) senders.push({ from: def, signInAs: def, credential: DEFAULT_CREDENTIAL, raw: defaultRaw, problems: [], isDefault: true });
  if (stored) {
    const doc = storedSendersDoc(stored.rows);
    for (const [i, s] of doc.senders.entries()) {
      const from = s.address.toLowerCase();
      if (senders.some((x) => x.from === from)) continue; // the default sender wins, as in the service
      const signInAs = (s.signInAs ?? s.address).toLowerCase();
      const where = `stored senders[${i}] (${from})`;
      if (s.credential.toLowerCase() === DEFAULT_CREDENTIAL) {
        senders.push({ from, signInAs, credential: s.credential, raw: { ...defaultRaw, ...(s.transport ? { transport: s.transport } : {}) }, problems: [], isDefault: false });
        continue;
      }
      const j = doc.credentials.findIndex((c) => c.name.toLowerCase() === s.credential.toLowerCase());
      const r = j >= 0 ? await resolveStoredCredential(doc.credentials[j]!, stored.key, env, `stored credentials[${j}]`) : { problems: [{ key: `${where}.credential`, message: `${where}: no credential named "${s.credential}"` }] };
      senders.push(r.credential
        ? { from, signInAs, credential: s.credential, sender: { from, signInAs, credential: senderCredential(r.credential), ...(s.transport ? { transport: s.transport } : {}) }, problems: [], isDefault: false }
        : { from, signInAs, credential: s.credential, problems: r.problems, isDefault: false });
    }
  }
  return { senders, base, fromFile: false };
}
