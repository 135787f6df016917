/**
 * `mailgate config check [FILE]`, `mailgate config export`, `mailgate config import FILE`
 * (issue 16): the configuration of credentials and senders as code.
 *
 * - check: validates a file (default MAILGATE_CONFIG) without starting anything: the schema
 *   (every problem at once, each naming its path, e.g. `senders[1].credential`) and every
 *   secret reference resolvable here (env: set, file: a bounded regular file). Exit 1 on problems.
 * - export: writes the stored configuration as YAML (or --json): secrets as references, or
 *   omitted with a note on stderr when they are stored encrypted; never a secret value.
 * - import: checks a file and stores it (references kept as references). With empty Email
 *   Settings, the first credential and sender become them (the default sender).
 *
 * Imports: commander, yaml, config/, service/ (settings and senders services), ./store-option.
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { checkConfigFile, resolveCredential } from '../../config/mailgate-config.js';
import { DEFAULT_CREDENTIAL, type SendersConfig } from '../../core/senders.js';
import { loadMasterKey } from '../../service/settings/secret-box.js';
import { SendersService } from '../../service/settings/senders-service.js';
import { SettingsService } from '../../service/settings/settings-store.js';
import type { AnyStore } from '../../service/outbox/open-store.js';
import { DATA_DIR_HELP, exitWith, withStore } from './store-option.js';

async function open(store: AnyStore, dataDir: string) {
  const masterKey = loadMasterKey(process.env.MAILGATE_MASTER_KEY, dataDir);
  const settings = await SettingsService.open({ store, masterKey: masterKey.key, env: process.env });
  const senders = await SendersService.open({ store, settings, masterKey: masterKey.key, env: process.env });
  return { settings, senders };
}

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('The credentials and senders as a file (MAILGATE_CONFIG): check, export, import');

  config
    .command('check [file]')
    .description('Check a configuration file (default: MAILGATE_CONFIG) without starting: every problem at once, each with its path')
    .option('--json', 'print {"ok","problems","credentials","senders"}')
    .action(async (file: string | undefined, opts: { json?: boolean }) => {
      const path = file ?? process.env.MAILGATE_CONFIG;
      if (!path) exitWith('config check', new Error('name the file (mailgate config check FILE) or set MAILGATE_CONFIG'));
      const r = await checkConfigFile(path, process.env);
      if (opts.json) process.stdout.write(`${JSON.stringify(r.ok ? { ok: true, problems: [], credentials: r.config.credentials.length, senders: r.config.senders.length } : { ok: false, problems: r.problems })}\n`);
      else if (r.ok) process.stdout.write(`${path}: ok (${r.config.credentials.length} credential(s), ${r.config.senders.length} sender(s); the default sender is ${r.config.senders[0].address})\n`);
      else process.stderr.write(`${path}: ${r.problems.length} problem(s):\n${r.problems.map((p) => `  ${p.message}\n`).join('')}`);
      if (!r.ok) process.exit(1);
    });

  config
    .command('export')
    .description('Print the stored credentials and senders as YAML (secrets as references or omitted, never their values)')
    .option('--json', 'print JSON instead of YAML')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (opts: { json?: boolean; dataDir?: string }) => {
      try {
        const out = await withStore(opts, async (store, dataDir) => (await open(store, dataDir)).senders.exportConfig());
        for (const o of out.omitted) process.stderr.write(`mailgate config export: ${o}\n`);
        const doc = { credentials: out.credentials, senders: out.senders };
        process.stdout.write(opts.json ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc));
      } catch (error) {
        exitWith('config export', error);
      }
    });

  config
    .command('import <file>')
    .description('Check a configuration file and store its credentials and senders (references kept as references)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .action(async (file: string, opts: { dataDir?: string }) => {
      try {
        const r = await checkConfigFile(file, process.env);
        if (!r.ok) throw new Error(`${file} has ${r.problems.length} problem(s):\n${r.problems.map((p) => `  ${p.message}`).join('\n')}`);
        const summary = await withStore(opts, async (store, dataDir) => {
          const { settings, senders } = await open(store, dataDir);
          if (!senders.defaultSender()) await writeDefault(settings, r.config);
          await senders.reload();
          const w = await senders.importConfig(r.config, 'cli');
          if (!w.ok) throw new Error(w.problems.map((p) => p.message).join('; '));
          return { senders: senders.list().length, credentials: senders.credentials().length, default: senders.defaultSender()?.address };
        });
        process.stdout.write(`Imported ${file}: ${summary.senders} sender(s) on ${summary.credentials} credential(s); the default sender is ${summary.default ?? '(none)'}.\n`);
      } catch (error) {
        exitWith('config import', error);
      }
    });
}

/** Empty Email Settings: the file's first credential and sender become them (the default sender). */
async function writeDefault(settings: SettingsService, config: SendersConfig): Promise<void> {
  const first = config.senders[0];
  const i = config.credentials.findIndex((c) => c.name.toLowerCase() === first.credential.toLowerCase());
  if (i < 0 || first.credential.toLowerCase() === DEFAULT_CREDENTIAL) return;
  const c = config.credentials[i];
  const resolved = await resolveCredential(c, process.env, `credentials[${i}]`);
  if (!resolved.credential) throw new Error(resolved.problems.map((p) => p.message).join('; '));
  const patch: Record<string, unknown> = {
    cloud: c.cloud ?? 'global',
    tenantId: c.tenantId,
    clientId: c.clientId,
    authorizedFrom: first.signInAs ?? first.address,
    ...(first.transport ? { transport: first.transport } : {}),
    ...(c.authorityHost ? { authorityHost: c.authorityHost } : {}),
    ...(c.smtpHost ? { smtpHost: c.smtpHost } : {}),
    ...(c.smtpPort ? { smtpPort: c.smtpPort } : {}),
    ...(c.graphEndpoint ? { graphEndpoint: c.graphEndpoint } : {}),
  };
  if (c.clientCertificate?.startsWith('file:')) patch.clientCertificatePath = c.clientCertificate.slice(5);
  else if (resolved.credential.clientCertificatePem) patch.clientCertificatePem = resolved.credential.clientCertificatePem;
  if (resolved.credential.clientSecret) patch.clientSecret = resolved.credential.clientSecret;
  // Its secondary (rotation, issue 17) goes with it, as the Email Settings' secondary.
  const sec = resolved.credential.secondary;
  if (c.secondary?.clientCertificate?.startsWith('file:')) patch.clientCertificatePathSecondary = c.secondary.clientCertificate.slice(5);
  else if (sec?.clientCertificatePem) patch.clientCertificatePemSecondary = sec.clientCertificatePem;
  if (sec?.clientSecret) patch.clientSecretSecondary = sec.clientSecret;
  if (sec?.clientSecretExpires) patch.clientSecretExpiresSecondary = sec.clientSecretExpires;
  const u = await settings.update(patch, 'cli', sec ? { rotation: true } : {});
  if (!u.ok) throw new Error(`the Email Settings (the default sender) cannot take the first sender: ${u.problems.map((p) => p.message).join('; ')}`);
}
