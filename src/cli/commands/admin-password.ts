/**
 * `mailgate admin set-password [--password <pw> | --stdin]`: set the admin page's password
 * (stored as a scrypt hash). Without a flag the password is read from standard input (first
 * line), so it does not appear in the shell history or the process list.
 */
import type { Command } from 'commander';
import { setAdminPassword } from '../../service/access/admin-password.js';
import { DATA_DIR_HELP, exitWith, withStore } from './store-option.js';

async function readFirstLine(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('New admin password (at least 12 characters), then Enter: ');
  let data = '';
  for await (const chunk of process.stdin) {
    data += String(chunk);
    if (data.includes('\n')) break;
  }
  return data.split(/\r?\n/)[0];
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('Administer the admin page');
  admin
    .command('set-password')
    .description('Set the admin password (read from stdin unless --password is given; MAILGATE_ADMIN_PASSWORD overrides it)')
    .option('--password <password>', 'the new password (prefer stdin: flags end up in the shell history)')
    .option('--stdin', 'read the password from the first line of standard input (the default)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (opts: { password?: string; stdin?: boolean; dataDir?: string }) => {
      try {
        const password = opts.password ?? (await readFirstLine());
        await withStore(opts, (store) => setAdminPassword(store, password, { now: Date.now(), actor: 'cli' }));
        process.stdout.write('Admin password updated.\n');
        if (process.env.MAILGATE_ADMIN_PASSWORD) process.stderr.write('mailgate: note: MAILGATE_ADMIN_PASSWORD is set and takes precedence while it is.\n');
      } catch (error) {
        exitWith('admin set-password', error);
      }
    });
}
