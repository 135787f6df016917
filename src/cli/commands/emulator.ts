/** Placeholder for the `mailgate emulator` command; replaced by its issue's implementation. */
import type { Command } from 'commander';

export function registerEmulatorCommand(program: Command): void {
  program.command('emulator').description('(not built yet)').action(() => {
    process.stderr.write('mailgate emulator: not built yet\n');
    process.exit(2);
  });
}
