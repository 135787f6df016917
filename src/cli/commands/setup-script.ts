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
 * one Object ID look-up per credential.
 * Exit codes: 0 script printed, 2 invalid settings or arguments.
 */
import type { Command } from 'commander';
import { MailgateError } from '../../core/errors.js';
import { parseSettings, settingsFromEnv, TRANSPORT_IDS, type EmailSettings, type TransportId } from '../../core/settings.js';
import { loadSettingsFromEnv } from '../../config/load-settings.js';
import { buildSetupScript, findServicePrincipalObjectId, senderSettings } from '../../doctor/index.js';
import { doctorSenders } from '../doctor-senders.js';
import { asMailgateError, exitCodeFor, renderError } from '../error-output.js';
import { EXIT } from '../exit-codes.js';
import { checkSenderAddressFlags } from '../address-flags.js';

interface SetupScriptFlags {
  format: string;
  token: boolean;
  transport?: string;
  from?: string;
  signInAs?: string;
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
    // Every sender of MAILGATE_CONFIG (issue 16): one part per signed-in mailbox.
    if (process.env.MAILGATE_CONFIG?.trim() && flags.from === undefined && flags.signInAs === undefined) {
      process.stdout.write(await everySenderScript(flags));
      return EXIT.OK;
    }
    const loaded = loadSettingsFromEnv().settings;
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

/**
 * The script for every sender of MAILGATE_CONFIG: per signed-in mailbox, the FullAccess / RBAC
 * steps and an Add-RecipientPermission Send As step for each From signing in as it that differs
 * from it (buildSetupScript once per signed-in mailbox with `sendAs` = those Froms); the service
 * principal's Object ID is looked up once per credential (app registration and tenant).
 */
async function everySenderScript(flags: SetupScriptFlags): Promise<string> {
  const env = process.env;
  const list = await doctorSenders(env, settingsFromEnv(env).raw);
  const mailboxes = new Map<string, { settings: EmailSettings; credential: string; sendAs: string[] }>();
  for (const s of list.senders) {
    if (!s.sender) continue;
    const parsed = parseSettings(senderSettings(s.sender, list.base));
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
    .option('--no-token', 'do not request a token to find the service principal\'s Object ID (the script then has a placeholder)')
    .addHelpText('after', '\nExit codes: 0 script printed, 2 invalid settings or arguments.\nExample: mailgate setup-script --transport auto > mailgate-setup.ps1\nSend As: mailgate setup-script --from support@contoso.com --sign-in-as noreply@contoso.com')
    .action(async (flags: SetupScriptFlags) => {
      process.exitCode = await runSetupScript(flags);
    });
}
