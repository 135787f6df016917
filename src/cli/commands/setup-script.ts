/** Placeholder for the `mailgate setup-script` command; replaced by its issue's implementation. */
import type { Command } from 'commander';

export function registerSetupScriptCommand(program: Command): void {
  program.command('setup-script').description('(not built yet)').action(() => {
    process.stderr.write('mailgate setup-script: not built yet\n');
    process.exit(2);
  });
}
