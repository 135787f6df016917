/**
 * `mailgate send`: send one message now with the Email Settings from the environment (or from
 * `--settings-file FILE`, alias `--env-file`, as `mailgate emulator --write-env-file` writes it;
 * cli-env.ts says why two names).
 *
 * Arguments: --to/--cc/--bcc (repeatable), --reply-to, --subject, --text/--text-file,
 * --html/--html-file, --attach FILE (repeatable). Files are read only when they are regular
 * files within their bound (bodies 10 MiB, each attachment 35 MB, Exchange's default message
 * size; the whole message is checked against it too). Every problem — settings, arguments,
 * files, the env file — is reported together in one listing, named by its flag or variable.
 *
 * Exit codes: 0 accepted by the server, 1 delivery failed, 2 invalid settings or arguments.
 * With --json, exactly one JSON object on stdout; logs and warnings go to stderr.
 */
import { readBoundedFileSync } from '../../config/bounded-file.js';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { MailgateError, type Problem } from '../../core/errors.js';
import { MAX_MESSAGE_BYTES, validateMessage } from '../../core/message.js';
import { mediaTypeFor } from '../../core/media-types.js';
import type { Attachment, OutboundMessage } from '../../core/ports.js';
import { contextFor, diagnose } from '../../core/diagnosis/index.js';
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import { createMailer, type MailgateMailer } from '../../mailer.js';
import { decodeTokenClaims } from '../../auth/jwt-claims.js';
import { addLogSecretSource, createLogger } from '../../log/logger.js';
import { parseSettings, secretValues, settingsFromEnv, type EmailSettings } from '../../core/settings.js';
import { addSettingsFileOptions, cliEnvironmentFor } from '../cli-env.js';
import { boundedFileProblem } from '../env-file.js';
import { asMailgateError, errorToJson, exitCodeFor, renderError, renderProblems } from '../error-output.js';
import { EXIT } from '../exit-codes.js';
import { smtpPipeliningFromEnv } from '../../service/config.js';

interface SendFlags {
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo?: string;
  subject?: string;
  text?: string;
  textFile?: string;
  html?: string;
  htmlFile?: string;
  attach: string[];
  settingsFile?: string;
  envFile?: string;
  json?: boolean;
}

/** Upper bound of a body read from --text-file/--html-file. */
export const MAX_BODY_FILE_BYTES = 10 * 1024 * 1024;

/**
 * An attachment's content type from its file name: the API's own table (core/media-types.ts),
 * so `--attach` and a JSON attachment without contentType give the same type.
 */
export function contentTypeFor(file: string): string {
  return mediaTypeFor(basename(file));
}

/** Reads a regular file of at most `max` bytes (config/bounded-file); a problem (named by its flag) otherwise. */
function readBounded(flag: string, file: string, max: number, problems: Problem[]): Buffer | undefined {
  try {
    return readBoundedFileSync(file, max);
  } catch (err) {
    const problem = boundedFileProblem(err, `${Math.round(max / 1048576)} MB`);
    problems.push({ key: flag, message: `${flag} ${file}: ${problem.replace(/^is /, '')}` });
    return undefined;
  }
}

function bodyFromFile(flag: string, file: string, problems: Problem[]): string | undefined {
  const buf = readBounded(flag, file, MAX_BODY_FILE_BYTES, problems);
  if (!buf) return undefined;
  const text = buf.toString('utf8');
  if (Buffer.compare(Buffer.from(text, 'utf8'), buf) !== 0) {
    problems.push({ key: flag, message: `${flag} ${file}: not UTF-8 text` });
    return undefined;
  }
  return text;
}

/** The message validator's field names → the flags a CLI user typed. */
const FLAG_OF: Record<string, string> = { to: '--to', cc: '--cc', bcc: '--bcc', replyTo: '--reply-to', subject: '--subject', text: '--text', html: '--html', attachments: '--attach' };

function asFlagProblem(p: Problem): Problem {
  if (p.key === 'subject' && /required/.test(p.message)) return { key: p.key, message: '--subject: a subject line is required (it may be empty: --subject "")' };
  if (p.key === 'text' && /body is required/.test(p.message)) return { key: p.key, message: '--text, --text-file, --html or --html-file: a message body is required' };
  if (p.key === 'to' && /at least one/.test(p.message)) return { key: p.key, message: '--to: at least one recipient is required' };
  const field = /^([a-zA-Z]+)(\[\d+\])?(\.|$)/.exec(p.key)?.[1] ?? p.key;
  const flag = FLAG_OF[field];
  if (!flag) return p;
  // Only a message that starts with the field's own name is renamed (not `to/cc/bcc: ...`).
  const prefix = new RegExp(`^${field}(\\[\\d+\\])?(\\.[a-zA-Z]+)?:`);
  return { key: p.key, message: p.message.replace(prefix, `${flag}:`) };
}

/** The message from the flags, or the problems with them (files included). */
function messageFromFlags(flags: SendFlags, problems: Problem[]): OutboundMessage | undefined {
  const local: Problem[] = [];
  if (flags.text !== undefined && flags.textFile !== undefined) local.push({ key: 'text', message: '--text and --text-file: give one of them' });
  if (flags.html !== undefined && flags.htmlFile !== undefined) local.push({ key: 'html', message: '--html and --html-file: give one of them' });
  const text = flags.textFile !== undefined ? bodyFromFile('--text-file', flags.textFile, local) : flags.text;
  const html = flags.htmlFile !== undefined ? bodyFromFile('--html-file', flags.htmlFile, local) : flags.html;
  const attachments: Attachment[] = [];
  for (const file of flags.attach) {
    const content = readBounded('--attach', file, MAX_MESSAGE_BYTES, local);
    if (content) attachments.push({ filename: basename(file), contentType: contentTypeFor(file), content });
  }
  let message: OutboundMessage | undefined;
  try {
    message = validateMessage({
      to: flags.to,
      cc: flags.cc.length ? flags.cc : undefined,
      bcc: flags.bcc.length ? flags.bcc : undefined,
      replyTo: flags.replyTo,
      subject: flags.subject as string,
      // A body file that could not be read is already a problem; do not also call the body missing.
      text: text ?? (flags.textFile !== undefined ? '' : undefined),
      html: html ?? (flags.htmlFile !== undefined ? '' : undefined),
      attachments: attachments.length ? attachments : undefined,
    });
  } catch (e) {
    if (!(e instanceof MailgateError) || !e.problems) throw e;
    local.push(...e.problems.map(asFlagProblem));
  }
  problems.push(...local);
  return local.length ? undefined : message;
}

/** The context that fills a diagnosis' commands: the settings' IDs and, when a token exists, its oid. */
export async function diagnosisContext(settings: EmailSettings, mailer?: MailgateMailer, err?: MailgateError): Promise<DiagnosisContext> {
  const ctx: DiagnosisContext = contextFor(settings);
  // Only when a token was issued (the failure came later): then it is cached and no request is sent.
  if (mailer?.tokenProvider && (!err || err.phase === 'auth' || err.phase === 'send')) {
    try {
      // The token of the resource that was used (Graph's for Transport graph): cached, never a new request for another.
      const provider = settings.transport === 'graph' ? mailer.tokenProvider.forResource?.(settings.graphScope) : mailer.tokenProvider;
      if (!provider) throw new Error('no provider');
      const t = await provider.getToken();
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
    // Every problem first, in one listing: the env file, the settings, the arguments and files.
    const cli = cliEnvironmentFor(flags);
    const settingsProblems: Problem[] = [...cli.problems.filter((p) => p.key !== 'envFile')];
    const argumentProblems: Problem[] = cli.problems.filter((p) => p.key === 'envFile');
    const parsed = parseSettings(settingsFromEnv(cli.env).raw);
    if (parsed.ok) {
      settings = parsed.settings;
      const secrets = secretValues(parsed.settings);
      addLogSecretSource(() => secrets);
    } else settingsProblems.push(...parsed.problems);
    const message = messageFromFlags(flags, argumentProblems);
    if (settingsProblems.length || argumentProblems.length) {
      const problems = [...argumentProblems, ...settingsProblems];
      const err = new MailgateError({
        code: settingsProblems.length ? 'SETTINGS_INVALID' : 'ARGUMENT_INVALID',
        phase: settingsProblems.length ? 'settings' : 'arguments',
        message: `Invalid ${[argumentProblems.length ? 'arguments' : '', settingsProblems.length ? 'settings' : ''].filter(Boolean).join(' and ')}: ${problems.map((p) => p.message).join('; ')}`,
        problems,
      });
      if (flags.json) out({ ok: false, error: errorToJson(err) });
      else {
        const title = argumentProblems.length && settingsProblems.length ? 'Invalid arguments and settings' : settingsProblems.length ? 'Invalid settings' : 'Invalid arguments';
        process.stderr.write(renderProblems(`✗ ${title} (${err.code}):`, problems));
      }
      return EXIT.INVALID;
    }
    for (const w of cli.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const w of parsed.ok ? parsed.warnings : []) process.stderr.write(`warning: ${w.message}\n`);
    mailer = createMailer(settings!, { logger, maxConnections: 1, ca: cli.ca, pipelining: smtpPipeliningFromEnv(cli.env) });
    const result = await mailer.send(message!);
    const transport = result.transport ?? 'smtp';
    if (flags.json) out({ ok: true, messageId: result.messageId, response: result.response, transport });
    else if (transport === 'graph') process.stdout.write(`✓ Accepted by Microsoft Graph (${settings!.graphEndpoint})\n  Reply: ${result.response}\n  Message-ID: ${result.messageId}\n`);
    else process.stdout.write(`✓ Accepted by ${settings!.smtpHost}:${settings!.smtpPort}\n  Server reply: ${result.response}\n  Message-ID: ${result.messageId}\n`);
    return EXIT.OK;
  } catch (e) {
    const err = asMailgateError(e, 'mailgate send', 'send');
    const d = err.problems ? undefined : diagnose(err, settings ? await diagnosisContext(settings, mailer, err) : undefined);
    // The transport that was tried (absent when the settings were not valid: nothing was tried).
    const tried = settings ? (settings.transport === 'graph' || err.context.transport === 'graph' ? 'graph' : 'smtp') : undefined;
    if (flags.json) out({ ok: false, ...(tried ? { transport: tried } : {}), error: errorToJson(err, d) });
    else process.stderr.write(renderError(err, d));
    return exitCodeFor(err);
  } finally {
    await mailer?.close();
  }
}

const repeatable = (v: string, prev: string[]) => [...prev, v];

export function registerSendCommand(program: Command): void {
  const command = program.command('send');
  addSettingsFileOptions(command)
    .description('Send one message now through the configured Microsoft 365 mailbox (settings from MAILGATE_* environment variables or --settings-file).')
    .option('--to <address>', 'recipient (repeat for several)', repeatable, [] as string[])
    .option('--cc <address>', 'copy recipient (repeat for several)', repeatable, [] as string[])
    .option('--bcc <address>', 'blind copy recipient (repeat for several)', repeatable, [] as string[])
    .option('--reply-to <address>', 'Reply-To address')
    .option('--subject <text>', 'subject line')
    .option('--text <text>', 'plain-text body')
    .option('--text-file <file>', 'plain-text body from a UTF-8 file (at most 10 MiB)')
    .option('--html <html>', 'HTML body')
    .option('--html-file <file>', 'HTML body from a UTF-8 file (at most 10 MiB)')
    .option('--attach <file>', 'attach a regular file (repeat for several; at most 35 MB in all)', repeatable, [] as string[])
    .option('--json', 'print exactly one JSON object on stdout')
    .addHelpText('after', '\nExit codes: 0 accepted, 1 delivery failed, 2 invalid settings or arguments.')
    .action(async (flags: SendFlags) => {
      // Should anything ever leave the event loop empty before a result, exit as a failure, never 0.
      process.exitCode = EXIT.FAILED;
      process.exitCode = await runSend(flags);
    });
}
