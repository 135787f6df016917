/**
 * `mailgate emulator`: runs the Microsoft 365 emulator (Entra token endpoint + Exchange Online
 * SMTP AUTH) until SIGINT/SIGTERM. Prints exactly one JSON ready line on stdout
 * (`{"smtp":{"host","port"},"authorityHost","graph","caFile","admin"[,"demo"]}`); everything else
 * goes to stderr. Default ports are fixed (SMTP 2587, HTTPS 8443) so a dev set-up can rely on
 * them; `0` picks free ports.
 *
 * Imports: commander, the emulator's public entry (src/emulator/index.ts) only.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { nonNegativeIntArg, portArg } from '../arg-parsers.js';
import { DEFAULT_CLI_HTTPS_PORT, DEFAULT_CLI_SMTP_PORT, startEmulator, type EmulatorStateInput } from '../../emulator/index.js';

interface EmulatorCommandOptions {
  state?: string;
  smtpPort: number;
  httpsPort: number;
  dataDir?: string;
  host: string;
  tokenLifetime?: number;
  limits: boolean;
  greetingDelay?: number;
}

async function readStateFile(file: string): Promise<EmulatorStateInput> {
  const text = await readFile(file, 'utf8');
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
    .action(async (opts: EmulatorCommandOptions) => {
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
      // Printed last: once a caller sees the ready line, the emulator serves and can be stopped.
      process.stdout.write(`${emulator.readyLine()}\n`);
    });
}
