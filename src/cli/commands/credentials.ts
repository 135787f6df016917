/**
 * `mailgate credentials list|add|test|promote|remove` (issue 17 item 3): the rotation of a
 * credential without downtime from the command line, on the same data dir (or
 * MAILGATE_DATABASE_URL) as the service, through the same rotation service as the API and the
 * admin page (service/settings/credential-rotation-service.ts): every step audited (actor
 * `cli`), a running service picks the change up with its settings poll.
 *
 *   mailgate credentials list [--json]
 *   mailgate credentials add NAME (--secret-stdin | --secret-file F | --certificate F) [--expires DATE] [--json]
 *   mailgate credentials test NAME [--slot primary|secondary] [--json]   (exit 1 when the test fails)
 *   mailgate credentials promote NAME [--force] [--json]
 *   mailgate credentials remove NAME [--json]                            (removes the secondary)
 *
 * A secret is never taken as an argument value (argv is visible to every user of the machine
 * and lands in shell histories): it comes from stdin or a file (a bounded regular file).
 */
import { Option, type Command } from 'commander';
import { readBoundedFile } from '../../config/bounded-file.js';
import { diagnose } from '../../core/diagnosis/index.js';
import { testCredentialToken } from '../../mailer.js';
import { loadConfigFile } from '../../app/service.js';
import { CredentialRotationService, rotationFailure, type CredentialRotationView, type CredentialSlotView } from '../../service/settings/credential-rotation-service.js';
import { SendersService } from '../../service/settings/senders-service.js';
import { loadMasterKey } from '../../service/settings/secret-box.js';
import { SettingsService } from '../../service/settings/settings-store.js';
import { cliEnvironmentFor } from '../cli-env.js';
import { DATA_DIR_HELP, withStore } from './store-option.js';

/** The largest secret read from stdin or a file. */
const SECRET_LIMIT = 16 * 1024;

async function withRotation<T>(opts: { dataDir?: string }, fn: (rotation: CredentialRotationService) => Promise<T>): Promise<T> {
  const { env, ca } = cliEnvironmentFor({});
  const { file, settingsEnv } = await loadConfigFile(env);
  return withStore(opts, async (store, dataDir) => {
    const key = loadMasterKey(env.MAILGATE_MASTER_KEY, dataDir).key;
    const settings = await SettingsService.open({ store, masterKey: key, env: settingsEnv });
    const senders = await SendersService.open({ store, settings, masterKey: key, env, ...(file ? { file } : {}) });
    const rotation = await CredentialRotationService.open({
      settings, senders, store, masterKey: key,
      testToken: (s) => testCredentialToken(s, { ...(ca ? { ca } : {}) }),
      diagnose: (error) => diagnose(error),
    });
    return fn(rotation);
  });
}

function slotText(s: CredentialSlotView | null): string {
  if (!s) return '-';
  const parts = [s.kind === 'certificate' ? `certificate${s.thumbprint ? ` ${s.thumbprint}` : ''}` : `secret${s.hint ? ` ${s.hint}…` : ''}`];
  if (s.expires) parts.push(`expires ${s.expires.slice(0, 10)}`);
  if (s.lastTest) parts.push(`test ${s.lastTest.ok ? 'ok' : `failed${s.lastTest.code ? ` ${s.lastTest.code}` : ''}`} ${s.lastTest.at.slice(0, 16)}`);
  return parts.join(', ');
}

function printView(v: CredentialRotationView, json?: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(v)}\n`);
    return;
  }
  process.stdout.write(`${v.name} (${v.source}${v.readOnly ? ', read-only' : ''}), using the ${v.active}${v.failover ? ` since a failover at ${v.failover.at} (${v.failover.code})` : ''}\n  primary:   ${slotText(v.primary)}\n  secondary: ${slotText(v.secondary)}\n`);
}

function fail(command: string, error: unknown): never {
  const f = rotationFailure(error);
  const detail = f ? `${f.detail}${f.problems?.length ? `\n  ${f.problems.map((p) => p.message).join('\n  ')}` : ''}` : error instanceof Error ? error.message : String(error);
  process.stderr.write(`mailgate credentials ${command}: ${detail}\n`);
  process.exit(1);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    if (size > SECRET_LIMIT) throw new Error(`the secret on stdin is larger than ${SECRET_LIMIT} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function registerCredentialCommands(program: Command): void {
  const credentials = program.command('credentials').description('Rotate a credential without downtime: two live credentials (primary, secondary), add → test → promote → remove');

  credentials.command('list')
    .description('Every credential with its primary and secondary (kind, expiry, last test; never a secret) and the slot in use')
    .option('--json', 'print a JSON array of rotation views')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (opts: { json?: boolean; dataDir?: string }) => {
      try {
        const list = await withRotation(opts, async (r) => r.list());
        if (opts.json) process.stdout.write(`${JSON.stringify(list)}\n`);
        else if (!list.length) process.stdout.write('No credentials (set the Email Settings first).\n');
        else for (const v of list) printView(v);
      } catch (error) {
        fail('list', error);
      }
    });

  credentials.command('add <name>')
    .description('Add the new credential as the secondary (step 1); the secret from stdin or a file, never an argument')
    .option('--secret-stdin', 'read the client secret\'s Value from stdin')
    .option('--secret-file <file>', 'read the client secret\'s Value from a file')
    .option('--certificate <file>', 'a PEM file with the certificate and its private key (e.g. client.pem of mailgate cert create)')
    .option('--expires <date>', 'when the client secret expires (YYYY-MM-DD, the Expires column in Certificates & secrets)')
    .option('--json', 'print the rotation view as JSON')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (name: string, opts: { secretStdin?: boolean; secretFile?: string; certificate?: string; expires?: string; json?: boolean; dataDir?: string }) => {
      try {
        const given = [opts.secretStdin, opts.secretFile, opts.certificate].filter((x) => x !== undefined && x !== false).length;
        if (given !== 1) throw new Error('give exactly one of --secret-stdin, --secret-file FILE or --certificate FILE (a secret is never taken as an argument)');
        const input: { clientSecret?: string; clientCertificate?: string; clientSecretExpires?: string } = {};
        if (opts.secretStdin) input.clientSecret = (await readStdin()).trim();
        if (opts.secretFile) input.clientSecret = (await readBoundedFile(opts.secretFile, SECRET_LIMIT)).toString('utf8').trim();
        if (opts.certificate) input.clientCertificate = (await readBoundedFile(opts.certificate)).toString('utf8');
        if (opts.expires !== undefined) input.clientSecretExpires = opts.expires;
        const v = await withRotation(opts, (r) => r.addSecondary(name, input, 'cli'));
        printView(v, opts.json);
        if (!opts.json) process.stdout.write(`Next: mailgate credentials test ${v.name}\n`);
      } catch (error) {
        fail('add', error);
      }
    });

  credentials.command('test <name>')
    .description('A real, uncached token request with one slot alone (default: the secondary when there is one); exit 1 when Entra refuses it')
    .addOption(new Option('--slot <slot>', 'primary or secondary').choices(['primary', 'secondary']))
    .option('--json', 'print {slot, ok, code, summary, fixes}')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (name: string, opts: { slot?: 'primary' | 'secondary'; json?: boolean; dataDir?: string }) => {
      let ok = false;
      try {
        const out = await withRotation(opts, async (r) => {
          const slot = opts.slot ?? (r.get(name)?.secondary ? 'secondary' : 'primary');
          return { slot, ...(await r.test(name, slot, 'cli')) };
        });
        ok = out.ok;
        if (opts.json) process.stdout.write(`${JSON.stringify(out)}\n`);
        else {
          process.stdout.write(`${out.ok ? 'ok' : 'FAILED'}: the ${out.slot} credential of ${name}${out.code ? ` (${out.code})` : ''}: ${out.summary ?? ''}\n`);
          for (const f of out.fixes ?? []) process.stdout.write(`  - ${f}\n`);
          if (out.ok && out.slot === 'secondary') process.stdout.write(`Next: mailgate credentials promote ${name}\n`);
        }
      } catch (error) {
        fail('test', error);
      }
      if (!ok) process.exit(1);
    });

  credentials.command('promote <name>')
    .description('Make the secondary primary (swap); needs a passed test of the secondary unless --force')
    .option('--force', 'promote a secondary that was not tested or whose test failed')
    .option('--json', 'print the rotation view as JSON')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (name: string, opts: { force?: boolean; json?: boolean; dataDir?: string }) => {
      try {
        const v = await withRotation(opts, (r) => r.promote(name, 'cli', opts.force ? { force: true } : {}));
        printView(v, opts.json);
        if (!opts.json) process.stdout.write(`Next: remove the old credential with mailgate credentials remove ${v.name}, then delete it in Entra (Certificates & secrets)\n`);
      } catch (error) {
        fail('promote', error);
      }
    });

  credentials.command('remove <name>')
    .description('Remove the secondary (the old credential after promote)')
    .option('--json', 'print the rotation view as JSON')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (name: string, opts: { json?: boolean; dataDir?: string }) => {
      try {
        printView(await withRotation(opts, (r) => r.removeSecondary(name, 'cli')), opts.json);
      } catch (error) {
        fail('remove', error);
      }
    });
}
