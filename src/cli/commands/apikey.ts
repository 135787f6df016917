/**
 * `mailgate apikey create NAME [--scope send|admin] [--json]`, `apikey list [--json]`,
 * `apikey revoke NAME`.
 *
 * Output: `create` prints the key once (`--json`: `{"name","scope","key"}` on one line);
 * only its SHA-256 hash is stored. `list` prints a table (or a JSON array) without keys.
 */
import { Option, type Command } from 'commander';
import { ApiKeyError, API_KEY_SCOPES, createApiKey, revokeApiKey } from '../../service/access/api-keys.js';
import type { ApiKeyScope } from '../../service/outbox/store.js';
import { DATA_DIR_HELP, exitWith, withStore } from './store-option.js';

const iso = (t?: number) => (t === undefined ? '' : new Date(t).toISOString());

export function registerApiKeyCommands(program: Command): void {
  const apikey = program.command('apikey').description('Manage the API keys applications use (Authorization: Bearer <key>)');

  apikey
    .command('create <name>')
    .description('Create an API key and print it once')
    .addOption(new Option('--scope <scope>', 'send (submit and read messages) or admin (everything)').choices([...API_KEY_SCOPES]).default('send'))
    .option('--sender <address...>', 'limit the key to these senders (From addresses); default: every sender')
    .option('--json', 'print {"name","scope","key"} as JSON')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (name: string, opts: { scope: ApiKeyScope; sender?: string[]; json?: boolean; dataDir?: string }) => {
      try {
        const { created, dataDir } = await withStore(opts, async (store, dataDir) => ({ created: await createApiKey(store, name, opts.scope, { now: Date.now(), actor: 'cli', ...(opts.sender ? { senders: opts.sender } : {}) }), dataDir }));
        if (opts.json) process.stdout.write(`${JSON.stringify(created)}\n`);
        else process.stdout.write(`Created API key "${created.name}" (scope ${created.scope}) for the service on the data dir ${dataDir}. It is shown only now; store it safely:\n${created.key}\n`);
      } catch (error) {
        exitWith('apikey create', error);
      }
    });

  apikey
    .command('list')
    .description('List API keys (names, scopes, prefixes; never the keys)')
    .option('--json', 'print a JSON array')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (opts: { json?: boolean; dataDir?: string }) => {
      try {
        const keys = await withStore(opts, (store) => store.listApiKeys());
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(keys.map((k) => ({ name: k.name, scope: k.scope, prefix: k.prefix, createdAt: iso(k.createdAt), revokedAt: k.revokedAt === undefined ? null : iso(k.revokedAt), senders: k.senders ?? null })))}\n`);
          return;
        }
        if (!keys.length) {
          process.stdout.write('No API keys. Create one with: mailgate apikey create NAME --scope send\n');
          return;
        }
        const rows = [['NAME', 'SCOPE', 'PREFIX', 'CREATED', 'REVOKED'], ...keys.map((k) => [k.name, k.scope, `${k.prefix}…`, iso(k.createdAt), iso(k.revokedAt)])];
        const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
        for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
      } catch (error) {
        exitWith('apikey list', error);
      }
    });

  apikey
    .command('revoke <name>')
    .description('Revoke the active API key with this name')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (name: string, opts: { dataDir?: string }) => {
      try {
        const done = await withStore(opts, (store) => revokeApiKey(store, name, { now: Date.now(), actor: 'cli' }));
        if (!done) throw new ApiKeyError(`No active API key is named "${name}" (see: mailgate apikey list).`);
        process.stdout.write(`Revoked API key "${name}".\n`);
      } catch (error) {
        exitWith('apikey revoke', error);
      }
    });
}
