/**
 * `mailgate doctor [--to ADDR] [--json]`: check every step of the Microsoft 365 set-up with the
 * same settings as `mailgate send` (MAILGATE_* environment variables) and print what is wrong
 * with the exact fix.
 *
 * Output: the human report on stdout (colour only on a TTY without NO_COLOR), or with --json
 * exactly one JSON object `{"ok":...,"checks":[...]}` on stdout. Nothing else goes to stdout.
 * Exit codes: 0 no check failed (warnings allowed), 1 a check failed, 2 unusable arguments.
 * Invalid settings are not an argument error here: they are what the `settings` check reports.
 * Extra trusted CAs (a TLS-inspecting proxy, the emulator) come from NODE_EXTRA_CA_CERTS.
 */
import type { Command } from 'commander';
import { MailgateError } from '../../core/errors.js';
import { settingsFromEnv } from '../../core/settings.js';
import { renderReport, runDoctor } from '../../doctor/index.js';
import { asMailgateError, errorToJson, exitCodeFor, renderError } from '../error-output.js';
import { EXIT } from '../exit-codes.js';

interface DoctorFlags {
  to?: string;
  json?: boolean;
  timeout?: string;
  verbose?: boolean;
}

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,7}$/.test(value.trim())) {
    throw new MailgateError({
      code: 'ARGUMENT_INVALID',
      phase: 'arguments',
      message: 'Invalid --timeout: a whole number of milliseconds is required',
      problems: [{ key: 'timeout', message: 'timeout: must be a whole number of milliseconds between 50 and 300000' }],
    });
  }
  return Number(value.trim());
}

async function runDoctorCommand(flags: DoctorFlags): Promise<number> {
  const out = (obj: unknown) => process.stdout.write(`${JSON.stringify(obj)}\n`);
  try {
    const { raw } = settingsFromEnv(process.env);
    const report = await runDoctor(raw, { to: flags.to, timeoutMs: parseTimeout(flags.timeout) });
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
  program
    .command('doctor')
    .description('Check the Microsoft 365 set-up step by step (settings, DNS, TCP, STARTTLS, token, token claims, SMTP AUTH, optionally a test message) and print the exact fix for each failure.')
    .option('--to <address>', 'also send a test message to this address')
    .option('--json', 'print exactly one JSON object on stdout')
    .option('--timeout <ms>', 'time limit of each network step in milliseconds (default: the settings, at most 5000; the token request 10000)')
    .option('--verbose', 'show the details of each check in the text report')
    .addHelpText('after', '\nExit codes: 0 no check failed (warnings allowed), 1 a check failed, 2 unusable arguments.\nSettings come from the MAILGATE_* environment variables, as for `mailgate send`.')
    .action(async (flags: DoctorFlags) => {
      process.exitCode = await runDoctorCommand(flags);
    });
}
