/** Placeholder for the `mailgate send` command; replaced by its issue's implementation. */
import type { Command } from 'commander';

export function registerSendCommand(program: Command): void {
  program.command('send').description('(not built yet)').action(() => {
    process.stderr.write('mailgate send: not built yet\n');
    process.exit(2);
  });
}
