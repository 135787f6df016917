/**
 * `mailgate send`: send one message now with the Email Settings from the environment.
 *
 * Exit codes: 0 accepted by the server, 1 delivery failed, 2 invalid settings or arguments.
 * With --json, exactly one JSON object on stdout; logs and warnings go to stderr.
 */
import type { Command } from 'commander';
import type { MailgateError } from '../../core/errors.js';
import { validateMessage } from '../../core/message.js';
import { contextFor, diagnose } from '../../core/diagnosis/index.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { loadSettingsFromEnv } from '../../config/load-settings.js';
import { createMailer, type MailgateMailer } from '../../mailer.js';
import { decodeTokenClaims } from '../../auth/jwt-claims.js';
import { addLogSecretSource, createLogger } from '../../log/logger.js';
import { secretValues, type EmailSettings } from '../../core/settings.js';
import { asMailgateError, errorToJson, exitCodeFor, renderError } from '../error-output.js';
import { EXIT } from '../exit-codes.js';

interface SendFlags {
  to: string[];
  subject?: string;
  text?: string;
  html?: string;
  json?: boolean;
}

/** The context that fills a diagnosis' commands: the settings' IDs and, when a token exists, its oid. */
export async function diagnosisContext(settings: EmailSettings, mailer?: MailgateMailer, err?: MailgateError): Promise<DiagnosisContext> {
  const ctx: DiagnosisContext = contextFor(settings);
  // Only when a token was issued (the failure came later): then it is cached and no request is sent.
  if (mailer?.tokenProvider && (!err || err.phase === 'auth' || err.phase === 'send')) {
    try {
      const t = await mailer.tokenProvider.getToken();
      const claims = decodeTokenClaims(t.token);
      ctx.servicePrincipalObjectId = claims?.oid;
      // The roles tell "no consent" (no SMTP.SendAsApp) from an Exchange-side 535.
      if (claims) ctx.tokenRoles = Array.isArray(claims.roles) ? claims.roles : [];
    } catch {
      /* no token: the commands carry a placeholder for the oid */
    }
  }
  return ctx;
}

async function runSend(flags: SendFlags): Promise<number> {
  const logger = createLogger();
  const out = (obj: unknown) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  let settings: EmailSettings | undefined;
  let mailer: MailgateMailer | undefined;
  try {
    const loaded = loadSettingsFromEnv();
    settings = loaded.settings;
    const s = settings;
    const secrets = secretValues(s);
    addLogSecretSource(() => secrets);
    for (const w of loaded.warnings) process.stderr.write(`warning: ${w.message}\n`);
    const message = validateMessage({
      to: flags.to,
      subject: flags.subject as string,
      text: flags.text,
      html: flags.html,
    });
    mailer = createMailer(settings, { logger, maxConnections: 1 });
    const result = await mailer.send(message);
    if (flags.json) out({ ok: true, messageId: result.messageId, response: result.response });
    else process.stdout.write(`✓ Accepted by ${settings.smtpHost}:${settings.smtpPort}\n  Server reply: ${result.response}\n  Message-ID: ${result.messageId}\n`);
    return EXIT.OK;
  } catch (e) {
    const err = asMailgateError(e, 'mailgate send', 'send');
    const d = err.problems ? undefined : diagnose(err, settings ? await diagnosisContext(settings, mailer, err) : undefined);
    if (flags.json) out({ ok: false, error: errorToJson(err, d) });
    else process.stderr.write(renderError(err, d));
    return exitCodeFor(err);
  } finally {
    await mailer?.close();
  }
}

export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('Send one message now through the configured Microsoft 365 mailbox (settings from MAILGATE_* environment variables).')
    .option('--to <address>', 'recipient (repeat for several)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--subject <text>', 'subject line')
    .option('--text <text>', 'plain-text body')
    .option('--html <html>', 'HTML body')
    .option('--json', 'print exactly one JSON object on stdout')
    .addHelpText('after', '\nExit codes: 0 accepted, 1 delivery failed, 2 invalid settings or arguments.')
    .action(async (flags: SendFlags) => {
      // Should anything ever leave the event loop empty before a result, exit as a failure, never 0.
      process.exitCode = EXIT.FAILED;
      process.exitCode = await runSend(flags);
    });
}
