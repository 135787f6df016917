/**
 * `mailgate setup-script [--format powershell] [--no-token]`: print the complete Exchange Online
 * set-up for the current settings (MAILGATE_* environment variables) as a ready-to-run,
 * commented PowerShell script on stdout.
 *
 * The service principal's object id is taken from a token when one can be obtained (one token
 * request; --no-token skips it), otherwise the script carries a clearly marked placeholder and
 * a note on stderr says why. The token is never printed.
 * With MAILGATE_CONFIG (issue 16) the script covers every sender: one part per signed-in
 * mailbox (FullAccess / RBAC, SMTP AUTH, and the Send As step for each From that signs in as it),
 * one Object ID look-up per credential. `--data-dir DIR` does the same for the Email Settings and
 * senders a service stores in its data dir (read-only, as `mailgate doctor --data-dir`: stored
 * values with the environment on top), so senders added in the admin page are covered too.
 * Exit codes: 0 script printed, 2 invalid settings or arguments.
 */
import type { Command } from 'commander';
import { MailgateError } from '../../core/errors.js';
import { parseSettings, settingsFromEnv, TRANSPORT_IDS, type EmailSettings, type RawSettings, type TransportId } from '../../core/settings.js';
import { loadSettingsFromEnv } from '../../config/load-settings.js';
import { buildSetupScript, findServicePrincipalObjectId, senderSettings } from '../../doctor/index.js';
import { doctorSenders, type DoctorSenderList } from '../doctor-senders.js';
import { storedSettings } from '../stored-settings.js';
import { asMailgateError, exitCodeFor, renderError } from '../error-output.js';
import { EXIT } from '../exit-codes.js';
import { checkSenderAddressFlags } from '../address-flags.js';

interface SetupScriptFlags {
  format: string;
  token: boolean;
  transport?: string;
  from?: string;
  signInAs?: string;
  dataDir?: string;
}

export const SETUP_SCRIPT_FORMATS = ['powershell'] as const;

async function runSetupScript(flags: SetupScriptFlags): Promise<number> {
  try {
    if (!(SETUP_SCRIPT_FORMATS as readonly string[]).includes(flags.format)) {
      throw new MailgateError({
        code: 'ARGUMENT_INVALID',
        phase: 'arguments',
        message: `Unknown --format ${JSON.stringify(flags.format.slice(0, 40))}: only powershell is supported`,
        problems: [{ key: 'format', message: `format: must be one of ${SETUP_SCRIPT_FORMATS.join(', ')}` }],
      });
    }
    if (flags.transport !== undefined && !(TRANSPORT_IDS as readonly string[]).includes(flags.transport)) {
      throw new MailgateError({
        code: 'ARGUMENT_INVALID',
        phase: 'arguments',
        message: `Unknown --transport ${JSON.stringify(flags.transport.slice(0, 40))}: use smtp, graph or auto`,
        problems: [{ key: 'transport', message: `transport: must be one of ${TRANSPORT_IDS.join(', ')}` }],
      });
    }
    checkSenderAddressFlags(flags);
    const env = process.env;
    const stored = flags.dataDir !== undefined ? await storedSettings(flags.dataDir, env) : undefined;
    // Every sender (issue 16) of MAILGATE_CONFIG or of the data dir: one part per signed-in mailbox.
    if (flags.from === undefined && flags.signInAs === undefined && (env.MAILGATE_CONFIG?.trim() || stored)) {
      const list = await doctorSenders(env, stored ? stored.raw : settingsFromEnv(env).raw, stored);
      if (list.fromFile || list.senders.length > 1) {
        process.stdout.write(await everySenderScript(flags, list));
        return EXIT.OK;
      }
    }
    const loaded = stored ? settingsOrThrow(stored.raw) : loadSettingsFromEnv().settings;
    // One sender (issue 16): its signed-in mailbox (default the From) is the script's mailbox, and a
    // From other than it adds the Send As step.
    // The same reading as the doctor's: From = --from, else the Authorized from Address; signed in as --sign-in-as, else the From.
    const from = flags.from ?? loaded.authorizedFrom;
    const signInAs = flags.signInAs ?? from;
    const settings = { ...loaded, authorizedFrom: signInAs };
    const sendAs = from.toLowerCase() !== signInAs.toLowerCase() ? [from] : [];
    let objectId: string | undefined;
    let reason: string | undefined;
    if (!settings.useModernAuth) {
      reason = 'modern authentication is off';
      process.stderr.write('note: "Use modern SMTP Authentication" is off; the script sets up OAuth2, which Mailgate uses once you turn it on.\n');
    } else if (flags.token) {
      const found = await findServicePrincipalObjectId(settings);
      if (found.ok) objectId = found.objectId;
      else {
        reason = found.reason;
        process.stderr.write(`note: ${found.reason}; the script has a placeholder for the service principal's Object ID (run \`mailgate doctor\` for the cause).\n`);
      }
    } else {
      reason = 'no token was requested (--no-token)';
    }
    process.stdout.write(buildSetupScript(settings, { servicePrincipalObjectId: objectId, objectIdUnavailableReason: reason, transport: flags.transport as TransportId | undefined, sendAs }));
    return EXIT.OK;
  } catch (e) {
    const err = asMailgateError(e, 'mailgate setup-script', 'token');
    process.stderr.write(renderError(err));
    return exitCodeFor(err);
  }
}

/** The data dir's Email Settings, parsed (invalid ones are the same error as the environment's). */
function settingsOrThrow(raw: RawSettings): EmailSettings {
  const r = parseSettings(raw);
  if (!r.ok) throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: `Invalid settings: ${r.problems.map((p) => p.message).join('; ')}`, problems: r.problems });
  return r.settings;
}

/**
 * The script for every sender of MAILGATE_CONFIG: per signed-in mailbox, the FullAccess / RBAC
 * steps and an Add-RecipientPermission Send As step for each From signing in as it that differs
 * from it (buildSetupScript once per signed-in mailbox with `sendAs` = those Froms); the service
 * principal's Object ID is looked up once per credential (app registration and tenant).
 */
async function everySenderScript(flags: SetupScriptFlags, list: DoctorSenderList): Promise<string> {
  const mailboxes = new Map<string, { settings: EmailSettings; credential: string; sendAs: string[] }>();
  for (const s of list.senders) {
    // A sender on the default credential is checked with the Email Settings' raw values, signed in as its mailbox.
    const raw = s.sender ? senderSettings(s.sender, list.base) : s.raw ? { ...s.raw, authorizedFrom: s.signInAs } : undefined;
    if (!raw) {
      process.stderr.write(`note: sender ${s.from} is left out: its credential "${s.credential}" cannot be used (${s.problems.map((p) => p.message).join('; ') || 'unknown credential'}); run \`mailgate doctor --sender ${s.from}\`.\n`);
      continue;
    }
    const parsed = parseSettings(raw);
    if (!parsed.ok) throw new MailgateError({ code: 'SETTINGS_INVALID', phase: 'settings', message: `Invalid settings for the sender ${s.from}: ${parsed.problems.map((p) => p.message).join('; ')}`, problems: parsed.problems });
    // One mailbox per app registration and tenant: the same mailbox under two apps needs both set up.
    const key = `${parsed.settings.tenantId?.toLowerCase()}|${parsed.settings.clientId?.toLowerCase()}|${s.signInAs}`;
    const m = mailboxes.get(key) ?? { settings: parsed.settings, credential: s.credential, sendAs: [] };
    if (s.from !== s.signInAs && !m.sendAs.includes(s.from)) m.sendAs.push(s.from);
    mailboxes.set(key, m);
  }
  const objectIds = new Map<string, { objectId?: string; reason?: string }>();
  const parts: string[] = [];
  for (const m of mailboxes.values()) {
    const app = `${m.settings.tenantId?.toLowerCase()}|${m.settings.clientId?.toLowerCase()}`;
    let found = objectIds.get(app);
    if (!found) {
      if (!flags.token) found = { reason: 'no token was requested (--no-token)' };
      else {
        const r = await findServicePrincipalObjectId(m.settings);
        found = r.ok ? { objectId: r.objectId } : { reason: r.reason };
        if (!r.ok) process.stderr.write(`note: credential "${m.credential}": ${r.reason}; its part of the script has a placeholder for the service principal's Object ID (run \`mailgate doctor\` for the cause).\n`);
      }
      objectIds.set(app, found);
    }
    parts.push(`# ==== Signed-in mailbox ${m.settings.authorizedFrom} (credential ${m.credential})${m.sendAs.length ? `, Send As on ${m.sendAs.join(', ')}` : ''} ====\n`
      + buildSetupScript(m.settings, { servicePrincipalObjectId: found.objectId, objectIdUnavailableReason: found.reason, transport: flags.transport as TransportId | undefined, sendAs: m.sendAs }));
  }
  return parts.join('\n');
}

export function registerSetupScriptCommand(program: Command): void {
  program
    .command('setup-script')
    .description('Print the Exchange Online set-up for the current settings as a ready-to-run, commented PowerShell script (New-ServicePrincipal with the right Object ID, mailbox permission, SMTP AUTH, verification; RBAC for Applications as the alternative).')
    .option('--format <format>', 'script format (powershell)', 'powershell')
    .option('--transport <transport>', 'which transport to set up: smtp (SMTP.SendAsApp, service principal, FullAccess, SMTP AUTH), graph (Mail.Send scoped to the mailbox by RBAC for Applications) or auto (both); default: the Transport setting')
    .option('--from <address>', "a sender's From address (default: the Authorized from Address); when it differs from the signed-in mailbox the script grants that mailbox Send As on it")
    .option('--sign-in-as <mailbox>', 'the mailbox the sender signs in as (default: the From, i.e. --from, else the Authorized from Address); it gets the service principal\'s FullAccess')
    .option('--data-dir <dir>', "read the Email Settings and senders a service stores in this data dir (read-only; secrets decrypted with MAILGATE_MASTER_KEY or the data dir's master.key; environment values win, as in the service): the script then covers every stored sender")
    .option('--no-token', 'do not request a token to find the service principal\'s Object ID (the script then has a placeholder)')
    .addHelpText('after', '\nExit codes: 0 script printed, 2 invalid settings or arguments.\nExample: mailgate setup-script --transport auto > mailgate-setup.ps1\nSend As: mailgate setup-script --from support@contoso.com --sign-in-as noreply@contoso.com')
    .action(async (flags: SetupScriptFlags) => {
      process.exitCode = await runSetupScript(flags);
    });
}
