/**
 * `mailgate serve`, `mailgate dev`, `mailgate apikey create|list|revoke`,
 * `mailgate admin set-password` and `mailgate backup`: the service's command line.
 *
 * Output contract:
 * - serve: warnings on stderr; on stdout one line `mailgate: listening on <url>` once ready,
 *   preceded by `Admin password (generated; shown once): <pw>` on the very first start.
 *   Logs go to stderr: pino JSON, or short lines with MAILGATE_LOG_FORMAT=pretty. Exit 0 after SIGTERM/SIGINT, 1 when start-up fails (the
 *   message names the variable or path to fix).
 * - dev: the banner of ../../app/dev.ts (URLs, admin password, API key, a curl example);
 *   logs as short readable lines on stderr (MAILGATE_LOG_FORMAT=json for JSON).
 *
 * The emulator is imported lazily, only by `dev`.
 */
import type { Command } from 'commander';
import { portArg } from '../arg-parsers.js';
import { createLogger, logFormat } from '../../log/logger.js';
import { applyHeapPolicy } from '../../app/heap-policy.js';
import { startService, type RunningService } from '../../app/service.js';
import { registerAdminCommands } from './admin-password.js';
import { registerApiKeyCommands } from './apikey.js';
import { registerBackupCommand } from './backup.js';
import { registerConfigCommands } from './config.js';
import { registerDatabaseCommands } from './database.js';
import { keepRunningThroughLostOutput } from '../lost-output.js';

function fail(command: string, error: unknown): never {
  process.stderr.write(`mailgate ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

/**
 * Stop cleanly on SIGTERM/SIGINT; a second signal exits at once. One Ctrl-C under `npm run dev`
 * arrives twice (the terminal signals the whole process group, and npm forwards its own copy to
 * its child), so a repeat within DUPLICATE_SIGNAL_MS of the first is the same keypress, not a
 * request to abandon the clean stop (which would leave `--temp` data behind).
 */
export const DUPLICATE_SIGNAL_MS = 1000;
export function onShutdownSignal(stop: () => Promise<void>): void {
  let stoppingSince: number | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < DUPLICATE_SIGNAL_MS) return;
      process.exit(130);
    }
    stoppingSince = Date.now();
    process.stderr.write(`mailgate: ${signal} received, shutting down\n`);
    stop().then(
      () => process.exit(0),
      (error: unknown) => fail('serve', error),
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the HTTP API, the delivery worker and the store (settings from MAILGATE_* variables and the stored Email Settings)')
    .option('--data-dir <dir>', 'data directory (default MAILGATE_DATA_DIR or ./data)')
    .option('--host <host>', 'HTTP address (default MAILGATE_HTTP_HOST or 127.0.0.1)')
    .option('--port <port>', 'HTTP port (default MAILGATE_HTTP_PORT or 8025)', portArg)
    .action(async (opts: { dataDir?: string; host?: string; port?: number }) => {
      applyHeapPolicy();
      keepRunningThroughLostOutput();
      let logger;
      try {
        logger = createLogger();
      } catch (error) {
        fail('serve', error);
      }
      let svc;
      try {
        svc = await startService({
          logger,
          config: { dataDir: opts.dataDir, httpHost: opts.host, httpPort: opts.port },
        });
      } catch (error) {
        fail('serve', error);
      }
      for (const w of svc.warnings()) process.stderr.write(`mailgate: warning: ${w}\n`);
      if (svc.adminPassword.generated) {
        process.stdout.write(`Admin password (generated; shown once; change it with mailgate admin set-password): ${svc.adminPassword.generated}\n`);
      }
      // Handlers first: a supervisor may signal as soon as it reads the ready line.
      onShutdownSignal(() => svc.stop());
      if (svc.relay) process.stdout.write(relayLine(svc.config.relayHost, svc.relay));
      process.stdout.write(`mailgate: listening on ${svc.url} (admin page: ${svc.url}/admin)\n`);
    });
}

function registerDev(program: Command): void {
  program
    .command('dev')
    .description('Run the service against the built-in Microsoft 365 emulator (demo tenant, no Microsoft 365 needed)')
    .option('--temp', 'use a temporary data directory (removed on exit) instead of ./data/dev')
    .option('--data-dir <dir>', 'data directory (default ./data/dev)')
    .option('--port <port>', 'HTTP port (default 8025)', portArg)
    .option('--host <host>', 'HTTP address (default 127.0.0.1)')
    .action(async (opts: { temp?: boolean; dataDir?: string; port?: number; host?: string }) => {
      applyHeapPolicy();
      keepRunningThroughLostOutput();
      const { startDev, devBanner } = await import('../../app/dev.js');
      let dev;
      try {
        // Readable lines next to the banner; MAILGATE_LOG_FORMAT=json still gives JSON.
        const logger = createLogger({ format: logFormat(process.env.MAILGATE_LOG_FORMAT, 'pretty') });
        dev = await startDev({ temp: opts.temp, dataDir: opts.dataDir, host: opts.host, port: opts.port, logger });
      } catch (error) {
        fail('dev', error);
      }
      for (const w of dev.service.warnings()) process.stderr.write(`mailgate: warning: ${w}\n`);
      onShutdownSignal(() => dev.stop());
      process.stdout.write(devBanner(dev, true));
    });
}

export function registerServeCommands(program: Command): void {
  registerServe(program);
  registerDev(program);
  registerApiKeyCommands(program);
  registerAdminCommands(program);
  registerDatabaseCommands(program);
  registerBackupCommand(program);
  registerConfigCommands(program);
}

/** One stdout line about the SMTP relay: where, and the certificate a device may pin. */
export function relayLine(host: string, relay: NonNullable<RunningService['relay']>): string {
  const c = relay.certificate;
  return `mailgate: SMTP relay on ${host}:${relay.port} (STARTTLS)${relay.tlsPort !== undefined ? ` and ${host}:${relay.tlsPort} (TLS)` : ''}; certificate ${c.source === 'generated' ? 'self-signed ' : ''}SHA-256 ${c.fingerprint256}, expires ${new Date(c.expiresAt).toISOString().slice(0, 10)}\n`;
}
