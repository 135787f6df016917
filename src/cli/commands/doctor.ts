/**
 * `mailgate doctor [--to ADDR] [--from ADDR [--sign-in-as MAILBOX]] [--json] [--settings-file FILE] [--data-dir DIR]`: check every step of
 * the Microsoft 365 set-up with the same settings as `mailgate send` (MAILGATE_* environment
 * variables, optionally from a settings file: `--settings-file`, alias `--env-file`) or with the settings a service stores in its data dir,
 * and print what is wrong with the exact fix.
 *
 * Output: the human report on stdout (colour only on a TTY without NO_COLOR), or with --json
 * exactly one JSON object `{"ok":...,"checks":[...]}` on stdout. Nothing else goes to stdout.
 * Exit codes: 0 no check failed (warnings allowed), 1 a check failed, 2 unusable arguments.
 * Invalid settings are not an argument error here: they are what the `settings` check reports.
 * Extra trusted CAs (a TLS-inspecting proxy, the emulator) come from MAILGATE_CA_FILE or
 * NODE_EXTRA_CA_CERTS.
 *
 * `--data-dir DIR` reads the service's stored Email Settings (secrets decrypted with
 * MAILGATE_MASTER_KEY or the data dir's master.key), with environment values winning exactly as
 * in the service. It never creates a data dir, a database or a key file: a missing one is an
 * argument error. It never writes the database either: it is opened read-only (no migration,
 * no write probe, no key check stored), and a schema older or newer than this Mailgate's is an
 * argument error. With MAILGATE_DATABASE_URL set (several instances on PostgreSQL) the stored
 * settings are read from that database instead (never migrated); the data dir then only holds
 * master.key, and is not needed when MAILGATE_MASTER_KEY is set.
 *
 * Several senders (issue 16): with the data dir's stored senders or MAILGATE_CONFIG, every
 * sender is checked, one report each (`--json`: `{"ok":...,"senders":[...]}`), the exit code the
 * worst; `--sender ADDR` checks one of them (an unknown one is an argument error naming the
 * configured senders). With one sender configured the output is the single report, as before.
 *
 * `--from ADDR [--sign-in-as MAILBOX]` checks one sender with the same credential: the signed-in
 * mailbox (default the From) replaces the Authorized from Address; a From other than it is a Send
 * As sender, and the `send-as` check names the missing `Add-RecipientPermission` with both addresses.
 *
 * With the SMTP relay on (MAILGATE_RELAY_PORT set), the report ends with the `relay` check: it
 * connects to the relay like a device, checks its certificate, and counts the relay clients of
 * the data dir (--data-dir, or the rule of service/data-dir.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { MailgateError, type Problem } from '../../core/errors.js';
import { scrubText } from '../../core/secret.js';
import { settingsFromEnv, type RawSettings } from '../../core/settings.js';
import { renderReport, runDoctor, runSenderDoctor, runSettingsAsSender } from '../../doctor/index.js';
import type { DoctorOptions, DoctorReport } from '../../doctor/types.js';
import { doctorSenders, type DoctorSender } from '../doctor-senders.js';
import { emulatorExchangeFacts } from '../../doctor/exchange-facts.js';
import type { RelayDoctorInput } from '../../doctor/checks/relay-check.js';
import { smtpPipeliningFromEnv } from '../../service/config.js';
import { resolveDataDir } from '../../service/data-dir.js';
import { DATABASE_FILE } from '../../service/outbox/sqlite/open.js';
import { addSettingsFileOptions, cliEnvironmentFor } from '../cli-env.js';
import { asMailgateError, errorToJson, exitCodeFor, renderError } from '../error-output.js';
import { EXIT } from '../exit-codes.js';
import { checkSenderAddressFlags } from '../address-flags.js';
import { databaseUrlOf, openStoreForReading, storedSettings } from '../stored-settings.js';

interface DoctorFlags {
  to?: string;
  json?: boolean;
  timeout?: string;
  verbose?: boolean;
  settingsFile?: string;
  envFile?: string;
  dataDir?: string;
  emulatorAdmin?: string;
  from?: string;
  signInAs?: string;
  sender?: string;
}

const argumentError = (problems: Problem[]): MailgateError =>
  new MailgateError({ code: 'ARGUMENT_INVALID', phase: 'arguments', message: `Invalid arguments: ${problems.map((p) => p.message).join('; ')}`, problems });

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,7}$/.test(value.trim())) {
    throw argumentError([{ key: 'timeout', message: 'timeout: must be a whole number of milliseconds between 50 and 300000' }]);
  }
  return Number(value.trim());
}

/**
 * The `relay` check's input when the relay is on (MAILGATE_RELAY_PORT set): where it listens,
 * and how many active clients the service's data dir holds (the data dir of --data-dir, or the
 * one rule of service/data-dir.ts; undefined when there is no database to count them in).
 */
async function relayInput(env: Record<string, string | undefined>, dataDirFlag: string | undefined, authorizedFrom: string | undefined): Promise<RelayDoctorInput | undefined> {
  const portText = env.MAILGATE_RELAY_PORT?.trim();
  if (!portText) return undefined;
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) throw argumentError([{ key: 'relayPort', message: `MAILGATE_RELAY_PORT: must be a port number between 1 and 65535 (got "${portText.slice(0, 20)}")` }]);
  const tlsText = env.MAILGATE_RELAY_TLS_PORT?.trim();
  const tlsPort = tlsText ? Number(tlsText) : undefined;
  if (tlsText && (!/^\d{1,5}$/.test(tlsText) || tlsPort! < 1 || tlsPort! > 65535)) throw argumentError([{ key: 'relayTlsPort', message: 'MAILGATE_RELAY_TLS_PORT: must be a port number between 1 and 65535' }]);
  const dir = resolveDataDir(dataDirFlag, env).dir;
  let clients: number | undefined;
  if (databaseUrlOf(env) || existsSync(join(dir, DATABASE_FILE))) {
    const store = await openStoreForReading(dir, env);
    try {
      clients = (await store.listRelayClients()).filter((c) => c.revokedAt === undefined).length;
    } finally {
      await store.close();
    }
  }
  return { host: env.MAILGATE_RELAY_HOST?.trim() || '127.0.0.1', port, ...(tlsPort !== undefined ? { tlsPort } : {}), ...(clients !== undefined ? { clients } : {}), ...(authorizedFrom ? { authorizedFrom } : {}) };
}

/** `--sender ADDR`: a configured sender, else an argument error naming the configured ones. */
function pickSender(senders: readonly DoctorSender[], address: string): DoctorSender {
  const a = address.trim().toLowerCase();
  const s = senders.find((x) => x.from === a);
  if (s) return s;
  throw argumentError([{ key: 'sender', message: `--sender ${JSON.stringify(a.slice(0, 254))}: no such sender; the configured senders are ${senders.length ? senders.map((x) => x.from).join(', ') : '(none: set the Authorized from Address or MAILGATE_CONFIG)'}` }]);
}

/** The report of one configured sender: the Email Settings' raw values, or its own credential (runSenderDoctor). */
async function runOneSender(s: DoctorSender, options: Omit<DoctorOptions, 'from'>, base: RawSettings): Promise<DoctorReport> {
  // The credential's name: its expiry texts and its secondary's rotation commands name it.
  const o = { ...options, credential: s.credential };
  if (s.sender) return runSenderDoctor(s.sender, o, base);
  if (s.raw) return runSettingsAsSender(s.raw, { from: s.from, signInAs: s.signInAs }, o);
  return {
    ok: false,
    sender: { from: s.from, signInAs: s.signInAs },
    checks: [{ id: 'settings', status: 'fail', summary: `The sender's credential "${s.credential}" cannot be used.`, fix: s.problems.map((p) => p.message).join('\n') }],
  };
}

async function runDoctorCommand(flags: DoctorFlags): Promise<number> {
  const out = (obj: unknown) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  try {
    checkSenderAddressFlags(flags);
    const cli = cliEnvironmentFor(flags);
    if (cli.problems.length) throw argumentError(cli.problems);
    for (const w of cli.warnings) process.stderr.write(`warning: ${w}\n`);
    const stored = flags.dataDir !== undefined ? await storedSettings(flags.dataDir, cli.env) : undefined;
    const raw = stored ? stored.raw : settingsFromEnv(cli.env).raw;
    if (flags.sender !== undefined && (flags.from !== undefined || flags.signInAs !== undefined)) {
      throw argumentError([{ key: 'sender', message: '--sender checks a configured sender; --from / --sign-in-as describe one on the command line: use one or the other' }]);
    }
    const admin = flags.emulatorAdmin ?? cli.env.MAILGATE_EMULATOR_ADMIN;
    if (admin !== undefined && !/^https:\/\/[^\s/]+(\/\S*)?$/.test(admin)) {
      throw argumentError([{ key: 'emulatorAdmin', message: `--emulator-admin / MAILGATE_EMULATOR_ADMIN: must be the emulator's https://host:port/_emulator URL` }]);
    }
    const timeoutMs = parseTimeout(flags.timeout);
    const relay = await relayInput(cli.env, flags.dataDir, typeof raw.authorizedFrom === 'string' ? raw.authorizedFrom : undefined);
    const options = {
      ...(relay ? { relay } : {}),
      to: flags.to,
      timeoutMs,
      ca: cli.ca,
      pipelining: smtpPipeliningFromEnv(cli.env),
      ...(admin ? { exchangeFacts: emulatorExchangeFacts(admin, { ca: cli.ca, timeoutMs }) } : {}),
    };
    // One sender (issue 16): --from ADDR [--sign-in-as MAILBOX]; the signed-in mailbox defaults
    // to the From, and replaces the Authorized from Address for this run.
    const adHoc = flags.from !== undefined || flags.signInAs !== undefined;
    const list = adHoc ? undefined : await doctorSenders(cli.env, raw, stored);
    const chosen = list && flags.sender !== undefined ? [pickSender(list.senders, flags.sender)] : list?.senders;
    // Several senders (or --sender, or MAILGATE_CONFIG): one report each, the exit code the worst.
    // Otherwise (one sender from the Email Settings) exactly the report of before.
    if (list && chosen && (flags.sender !== undefined || list.fromFile || chosen.length > 1)) {
      const reports: DoctorReport[] = [];
      for (const [i, s] of chosen.entries()) {
        // The relay check is the service's, not a sender's: it ends the first report only.
        const o = i === 0 ? options : { ...options, relay: undefined };
        reports.push(await runOneSender(s, o, list.base));
      }
      const ok = reports.every((r) => r.ok);
      if (flags.json && (chosen.length > 1 || flags.sender === undefined)) out({ ok, senders: reports });
      else if (flags.json) out(reports[0]);
      else {
        const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
        process.stdout.write(reports.map((r) => renderReport(r, { color, verbose: flags.verbose })).join('\n'));
        if (reports.length > 1) process.stdout.write(`\n${reports.filter((r) => !r.ok).length ? `${reports.filter((r) => !r.ok).length} of ${reports.length} senders have a failed check.` : `All ${reports.length} senders passed.`}\n`);
      }
      return ok ? EXIT.OK : EXIT.FAILED;
    }
    const report = adHoc
      ? await runSettingsAsSender(raw, { from: flags.from, signInAs: flags.signInAs }, options)
      : await runDoctor(raw, options);
    if (flags.json) out(report);
    else {
      const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
      process.stdout.write(renderReport(report, { color, verbose: flags.verbose }));
    }
    return report.ok ? EXIT.OK : EXIT.FAILED;
  } catch (e) {
    const err = asMailgateError(e, 'mailgate doctor', 'send');
    if (flags.json) out({ ok: false, error: errorToJson(err) });
    else process.stderr.write(renderError(err));
    return exitCodeFor(err);
  }
}

export function registerDoctorCommand(program: Command): void {
  const command = program.command('doctor');
  addSettingsFileOptions(command)
    .description('Check the Microsoft 365 set-up step by step (settings, DNS, TCP, STARTTLS, token, token claims, SMTP AUTH, optionally a test message; the SMTP relay when MAILGATE_RELAY_PORT is set) and print the exact fix for each failure.')
    .option('--to <address>', 'also send a test message to this address')
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--timeout <ms>', 'time limit of each network step in milliseconds (default: the settings, at most 5000; the token request 10000)')
    .option('--verbose', 'show the details of each check in the text report')
    .option('--data-dir <dir>', "check the settings a service stores in DIR (its MAILGATE_DATA_DIR), decrypted with MAILGATE_MASTER_KEY or DIR's master.key; environment values still win, as in the service")
    .option('--sender <address>', 'check this configured sender (the data dir\'s stored senders, or MAILGATE_CONFIG); default: every sender, one report each, the exit code the worst')
    .option('--from <address>', 'check the sender with this From address (default: the Authorized from Address); with --to the test message is sent from it')
    .option('--sign-in-as <mailbox>', 'the mailbox the sender signs in as (XOAUTH2 user=; default: the From); a From other than it is sent by Send As, and the send-as check runs')
    .option('--emulator-admin <url>', "the emulator's admin URL (default MAILGATE_EMULATOR_ADMIN): after 535 5.7.3 with a right token, read its Exchange configuration to name the missing step")
    .addHelpText('after', '\nExit codes: 0 no check failed (warnings allowed), 1 a check failed, 2 unusable arguments.\nSettings come from the MAILGATE_* environment variables, as for `mailgate send`.')
    .action(async (flags: DoctorFlags) => {
      process.exitCode = await runDoctorCommand(flags);
    });
}
