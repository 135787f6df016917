/** Placeholder for the `mailgate doctor` command; replaced by its issue's implementation. */
import type { Command } from 'commander';

export function registerDoctorCommand(program: Command): void {
  program.command('doctor').description('(not built yet)').action(() => {
    process.stderr.write('mailgate doctor: not built yet\n');
    process.exit(2);
  });
}
