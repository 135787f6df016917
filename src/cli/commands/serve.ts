/** Placeholder for `mailgate serve`, `mailgate dev`, `mailgate apikey` and `mailgate admin`; replaced by the service issue. */
import type { Command } from 'commander';

export function registerServeCommands(program: Command): void {
  for (const name of ['serve', 'dev']) {
    program.command(name).description('(not built yet)').action(() => {
      process.stderr.write(`mailgate ${name}: not built yet\n`);
      process.exit(2);
    });
  }
}
