#!/usr/bin/env node
/**
 * The `mailgate` command line: the composition root for one-shot commands.
 * Each command lives in its own file under ./commands and registers itself on the program;
 * this file only wires them and maps uncaught failures to exit code 1.
 */
import { Command, CommanderError } from 'commander';
import { EXIT } from './exit-codes.js';
import { holdOutputErrors } from './lost-output.js';
import { registerSendCommand } from './commands/send.js';
import { registerEmulatorCommand } from './commands/emulator.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerSetupScriptCommand } from './commands/setup-script.js';
import { registerServeCommands } from './commands/serve.js';
import { registerRelayClientCommands } from './commands/relay-client.js';
import { registerCertCommands } from './commands/cert.js';
import { registerCredentialCommands } from './commands/credentials.js';
import { VERSION } from '../version.js';

// Output nobody reads any more (`mailgate emulator | head -1`) or that cannot be written (a full
// disk) is never fatal; a one-shot command whose stdout failed exits 1 (./lost-output.ts).
holdOutputErrors(EXIT.FAILED);

const program = new Command();
program
  .name('mailgate')
  .description('Send application email through Microsoft 365 with OAuth2 (SMTP XOAUTH2), and explain every failure.')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride();

registerSendCommand(program);
registerDoctorCommand(program);
registerSetupScriptCommand(program);
registerEmulatorCommand(program);
registerServeCommands(program);
registerRelayClientCommands(program);
registerCertCommands(program);
registerCredentialCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Help and version are not failures; every other parse error means unusable arguments.
    const benign = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code);
    process.exit(benign ? EXIT.OK : EXIT.INVALID);
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`mailgate: ${message}\n`);
  process.exit(EXIT.FAILED);
});
