/**
 * `mailgate relay-client create NAME [--allow-from ADDR]... [--allow-ip CIDR]... [--no-auth]
 * [--force] [--from-policy reject|rewrite] [--json]`, `relay-client list [--json]`,
 * `relay-client revoke NAME`: the devices and applications that may submit mail to the SMTP
 * relay (issue 14).
 *
 * Why it exists: a printer's owner needs a username and password to type into the device;
 * they are generated here and the password is printed once (`--json`:
 * `{"name","username","password","allowFrom","allowIp"}` on one line, `password` null for a
 * `--no-auth` client) and stored only as a scrypt verifier. The rules (names, addresses, the
 * refusal of `--no-auth` for a public network) are service/access/relay-clients.ts's. The data
 * dir follows the one rule of service/data-dir.ts, like `apikey`; a running service picks the
 * change up within two seconds.
 */
import { Option, type Command } from 'commander';
import { createRelayClient, listRelayClients, revokeRelayClient } from '../../service/access/relay-clients.js';
import { relayClientView } from '../../service/access/relay-client-view.js';
import type { RelayFromPolicy } from '../../service/outbox/store.js';
import { DATA_DIR_HELP, exitWith, withStore } from './store-option.js';

const iso = (t?: number) => (t === undefined ? '' : new Date(t).toISOString());
const collect = (value: string, previous: string[]) => [...previous, value];

interface CreateOptions {
  allowFrom: string[];
  allowIp: string[];
  /** commander's `--no-auth`: false when given. */
  auth: boolean;
  force?: boolean;
  fromPolicy: RelayFromPolicy;
  json?: boolean;
  dataDir?: string;
}

export function registerRelayClientCommands(program: Command): void {
  const relay = program.command('relay-client').description('Manage the printers, scanners and applications that send through the SMTP relay');

  relay
    .command('create <name>')
    .description('Create a relay client and print its generated username and password once')
    .option('--allow-from <address>', 'an address it may send as (repeat; default: any address Mailgate may send as)', collect, [])
    .option('--allow-ip <cidr>', 'an address or network it may connect from (repeat; default: anywhere)', collect, [])
    .option('--no-auth', 'a device that cannot authenticate: recognised by its --allow-ip only (private networks only)')
    .option('--force', 'with --no-auth: accept a public network (anyone there could send as your mailbox)')
    .addOption(new Option('--from-policy <policy>', 'a header From it may not use: reject the message, or rewrite it to its first allowed address').choices(['reject', 'rewrite']).default('reject'))
    .option('--json', 'print {"name","username","password","allowFrom","allowIp"} as JSON')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (name: string, opts: CreateOptions) => {
      try {
        const noAuth = opts.auth === false;
        const { created, dataDir } = await withStore(opts, async (store, dataDir) => ({
          created: await createRelayClient(store, { name, allowFrom: opts.allowFrom, allowIp: opts.allowIp, noAuth, fromPolicy: opts.fromPolicy, force: opts.force === true }, { now: Date.now(), actor: 'cli' }),
          dataDir,
        }));
        if (opts.json) {
          const { name: n, username, password, allowFrom, allowIp } = created;
          process.stdout.write(`${JSON.stringify({ name: n, username, password, allowFrom, allowIp })}\n`);
          return;
        }
        const from = created.allowFrom.length ? created.allowFrom.join(', ') : 'any address Mailgate may send as';
        const ips = created.allowIp.length ? created.allowIp.join(', ') : 'anywhere';
        if (created.password === null) {
          process.stdout.write(
            `Created relay client "${created.name}" (no authentication) for the service on the data dir ${dataDir}.\n` +
              `It is recognised by its address only (${ips}) and may send as: ${from}.\n` +
              'Configure the device with the relay\'s server and port, and no username or password.\n',
          );
          return;
        }
        process.stdout.write(
          `Created relay client "${created.name}" for the service on the data dir ${dataDir}.\n` +
            `It may send as: ${from}; from: ${ips}.\n` +
            'The password is shown only now; type it into the device and store it safely:\n' +
            `  username: ${created.username}\n` +
            `  password: ${created.password}\n`,
        );
      } catch (error) {
        exitWith('relay-client create', error);
      }
    });

  relay
    .command('list')
    .description('List relay clients (names, usernames, rules, last used, messages sent/failed; never passwords)')
    .option('--json', 'print a JSON array')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (opts: { json?: boolean; dataDir?: string }) => {
      try {
        const clients = await withStore(opts, (store) => listRelayClients(store));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(clients.map(relayClientView))}\n`);
          return;
        }
        if (!clients.length) {
          process.stdout.write('No relay clients. Create one with: mailgate relay-client create NAME --allow-from ADDRESS\n');
          return;
        }
        const rows = [
          ['NAME', 'USERNAME', 'AUTH', 'ALLOW FROM', 'ALLOW IP', 'SENT', 'FAILED', 'LAST USED', 'REVOKED'],
          ...clients.map((c) => [
            c.name, c.username, c.noAuth ? 'none' : 'password', c.allowFrom.join(',') || '(any)', c.allowIp.join(',') || '(any)',
            String(c.messagesSent), String(c.messagesFailed), iso(c.lastUsedAt), iso(c.revokedAt),
          ]),
        ];
        const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
      } catch (error) {
        exitWith('relay-client list', error);
      }
    });

  relay
    .command('revoke <name>')
    .description('Revoke the active relay client with this name (a running relay refuses it within two seconds, also on open connections)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (name: string, opts: { dataDir?: string }) => {
      try {
        const done = await withStore(opts, (store) => revokeRelayClient(store, name, { now: Date.now(), actor: 'cli' }));
        if (!done) throw new Error(`No active relay client is named "${name}" (see: mailgate relay-client list).`);
        process.stdout.write(`Revoked relay client "${name}".\n`);
      } catch (error) {
        exitWith('relay-client revoke', error);
      }
    });
}
