/**
 * `mailgate emulator`: runs the Microsoft 365 emulator (Entra token endpoint + Exchange Online
 * SMTP AUTH) until SIGINT/SIGTERM. Prints exactly one JSON ready line on stdout
 * (`{"smtp":{"host","port"},"authorityHost","graph","caFile","admin"[,"demo"]}`); everything else
 * goes to stderr. Default ports are fixed (SMTP 2587, HTTPS 8443) so a dev set-up can rely on
 * them; `0` picks free ports.
 *
 * For people: the settings that point `mailgate send`/`doctor` at it are printed on stderr as
 * ready-to-paste `export` lines, and `--env-file FILE` writes the same lines to a file (mode
 * 0600: it holds the fake tenant's secret) for `mailgate send --settings-file FILE`. `--scenario NAME`
 * starts with one broken set-up (`--list-scenarios` lists them); stdout keeps its one JSON line.
 *
 * Imports: commander, the emulator's public entry (src/emulator/index.ts), ../env-file, ../lost-output.
 */
import { readBoundedFile } from '../../config/bounded-file.js';
import type { Command } from 'commander';
import { nonNegativeIntArg, portArg } from '../arg-parsers.js';
import {
  DEFAULT_CLI_HTTPS_PORT, DEFAULT_CLI_SMTP_PORT, listScenarios, scenarioInfo, startEmulator,
  type ClientValues, type Emulator, type EmulatorStateInput,
} from '../../emulator/index.js';
import { formatEnvFile, writeEnvFile } from '../env-file.js';
import { keepRunningThroughLostOutput } from '../lost-output.js';

interface EmulatorCommandOptions {
  state?: string;
  smtpPort: number;
  httpsPort: number;
  dataDir?: string;
  host: string;
  tokenLifetime?: number;
  limits: boolean;
  greetingDelay?: number;
  scenario?: string;
  listScenarios?: boolean;
  envFile?: string;
  writeEnvFile?: string;
}

/** The MAILGATE_* variables that point `mailgate send`/`doctor` at this emulator (Mailgate's names). */
export function emulatorEnv(emulator: Pick<Emulator, 'smtp' | 'authorityHost' | 'graph' | 'caFile' | 'admin'>, client: ClientValues | undefined): Record<string, string> {
  const env: Record<string, string> = {
    MAILGATE_SMTP_HOST: emulator.smtp.host,
    MAILGATE_SMTP_PORT: String(emulator.smtp.port),
    MAILGATE_AUTHORITY_HOST: emulator.authorityHost,
    // The emulator's Microsoft Graph root, so `MAILGATE_TRANSPORT=graph` (or auto) sends through
    // it too. The transport itself is left to the user: SMTP stays the default.
    MAILGATE_GRAPH_ENDPOINT: emulator.graph,
    // Mailgate's own extra-CA variable: unlike NODE_EXTRA_CA_CERTS it also works from an env
    // file, and it widens trust for Mailgate only, not for every Node program of the shell.
    MAILGATE_CA_FILE: emulator.caFile,
  };
  if (client) {
    env.MAILGATE_TENANT_ID = client.tenantId;
    env.MAILGATE_CLIENT_ID = client.clientId;
    if (client.clientSecret !== undefined) env.MAILGATE_CLIENT_SECRET = client.clientSecret;
    env.MAILGATE_AUTHORIZED_FROM = client.authorizedFrom;
    if (client.scope !== undefined) env.MAILGATE_SCOPE = client.scope;
    if (client.useModernAuth !== undefined) env.MAILGATE_USE_MODERN_AUTH = String(client.useModernAuth);
    if (client.smtpUsername !== undefined) env.MAILGATE_SMTP_USERNAME = client.smtpUsername;
    if (client.smtpPassword !== undefined) env.MAILGATE_SMTP_PASSWORD = client.smtpPassword;
  }
  // Lets `mailgate doctor` ask the emulator what Exchange Online PowerShell would show.
  env.MAILGATE_EMULATOR_ADMIN = emulator.admin;
  return env;
}

function printScenarios(): void {
  const list = listScenarios();
  const width = Math.max(...list.map((s) => s.name.length));
  for (const s of list) {
    const fails = s.check ? `fails: ${s.check}${s.client ? ', client-side' : ''}` : 'no failure';
    process.stdout.write(`${s.name.padEnd(width)}  [${fails}]  ${s.description}\n`);
  }
}

/** The most a `--state` file may hold (a tenant's state is a few KB). */
const MAX_STATE_FILE_BYTES = 1024 * 1024;

async function readStateFile(file: string): Promise<EmulatorStateInput> {
  const text = (await readBoundedFile(file, MAX_STATE_FILE_BYTES)).toString('utf8');
  try {
    return JSON.parse(text) as EmulatorStateInput;
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description('Run a local Microsoft 365 emulator (Entra ID token endpoint + Exchange Online SMTP AUTH) and print one JSON ready line')
    .option('--state <file>', 'tenant state JSON (default: a demo tenant where everything is set up correctly)')
    .option('--smtp-port <n>', `SMTP port (0 = any free port)`, (v) => portArg(v), DEFAULT_CLI_SMTP_PORT)
    .option('--https-port <n>', `HTTPS port for Entra endpoints and the admin API (0 = any free port)`, (v) => portArg(v), DEFAULT_CLI_HTTPS_PORT)
    .option('--data-dir <dir>', 'where ca.pem and received messages are written (default: a temporary directory, messages kept in memory)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--token-lifetime <seconds>', 'expires_in of issued access tokens (default 3599)', (v) => nonNegativeIntArg(v))
    .option('--no-limits', 'lift Exchange limits (connections, message rate, recipients, size): a fast sink')
    .option('--greeting-delay <ms>', 'delay before the SMTP greeting (default 0)', (v) => nonNegativeIntArg(v))
    .option('--scenario <name>', 'start with one broken set-up (see --list-scenarios; change it later with PUT /_emulator/scenario/NAME)')
    .option('--list-scenarios', 'list the named scenarios and exit')
    .option('--env-file <file>', 'also write the MAILGATE_* settings for this emulator to FILE (mode 0600), for `mailgate send/doctor --settings-file FILE`')
    // Node 20 itself intercepts `--env-file` with a file that does not exist yet anywhere on the
    // command line (it exits with "node: FILE: not found" before Mailgate runs): this spelling
    // always reaches us.
    .option('--write-env-file <file>', 'the same as --env-file; use it on Node 20 when FILE does not exist yet')
    .addHelpText('after', '\nThe settings that point `mailgate send` and `mailgate doctor` at the emulator are printed on stderr as export lines.\nAdmin API: {admin}/state, /faults, /scenario/NAME, /scenarios, /messages, /log, /stats (see README, "The Microsoft 365 emulator").')
    .action(async (opts: EmulatorCommandOptions) => {
      if (opts.listScenarios) {
        printScenarios();
        return;
      }
      if (opts.scenario !== undefined && !scenarioInfo(opts.scenario)) {
        process.stderr.write(`mailgate emulator: unknown scenario "${opts.scenario}"; known: ${listScenarios().map((s) => s.name).join(', ')}\n`);
        process.exitCode = 2;
        return;
      }
      // From here on the emulator runs until stopped: a ready line nobody reads is not fatal.
      keepRunningThroughLostOutput();
      if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(opts.host)) {
        // Its admin API has no authentication: it serves the tenant state (secrets included)
        // and the received messages to whoever can reach it.
        process.stderr.write(`mailgate emulator: warning: listening on ${opts.host}, not loopback: anyone who can reach it can read the tenant's secrets and the received mail through the admin API.\n`);
      }
      const state = opts.state ? await readStateFile(opts.state) : undefined;
      const emulator = await startEmulator(state, {
        host: opts.host,
        smtpPort: opts.smtpPort,
        httpsPort: opts.httpsPort,
        dataDir: opts.dataDir,
        tokenLifetimeSeconds: opts.tokenLifetime,
        limits: opts.limits ? undefined : false,
        greetingDelayMs: opts.greetingDelay,
        scenario: opts.scenario,
        onLog: (line) => process.stderr.write(`mailgate emulator: ${line}\n`),
      });
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`mailgate emulator: ${signal} received, stopping\n`);
        emulator.stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.once('SIGINT', () => shutdown('SIGINT'));
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      const envFile = opts.writeEnvFile ?? opts.envFile;
      const applied = emulator.scenario();
      const env = emulatorEnv(emulator, applied.client);
      if (envFile) {
        try {
          writeEnvFile(envFile, formatEnvFile(env, [`mailgate emulator settings (${applied.info.name}); use: mailgate send --settings-file ${envFile}`]));
        } catch (err) {
          process.stderr.write(`mailgate emulator: cannot write ${envFile}: ${err instanceof Error ? err.message : String(err)}\n`);
          await emulator.stop();
          process.exitCode = 1;
          return;
        }
      }
      const about = applied.info.name === 'healthy'
        ? '# Point mailgate send / mailgate doctor at this emulator: paste these lines into your shell'
        : `# Scenario ${applied.info.name} (${applied.info.description})\n# Point mailgate send / mailgate doctor at this emulator: paste these lines into your shell`;
      process.stderr.write(`${about}${envFile ? ` (or use --settings-file ${envFile})` : ''}:\n${formatEnvFile(env)}`);
      // Printed last: once a caller sees the ready line, the emulator serves and can be stopped.
      process.stdout.write(`${emulator.readyLine()}\n`);
    });
}
