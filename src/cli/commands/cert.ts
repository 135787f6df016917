/**
 * `mailgate cert create [--days 365] [--out DIR] [--client-id ID] [--cn NAME]`: make the key and
 * self-signed certificate of a certificate credential (RSA 2048, SHA-256), as Microsoft
 * recommends over client secrets (issue 17). Writes `DIR/key.pem` (0600), `DIR/cert.pem` (what
 * is uploaded to the app registration) and `DIR/client.pem` (certificate + key, 0600: what the
 * Client certificate setting takes), then prints the SHA-1 thumbprint as Entra shows it and the
 * exact upload commands with the app's client ID (from --client-id or MAILGATE_CLIENT_ID).
 *
 * Existing files are never overwritten (created with `wx`): a key in use must not be replaced by
 * accident; choose another --out. The private key is never printed.
 * Exit codes: 0 written, 2 invalid arguments or the files exist.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createSelfSignedRsa } from '../../net/self-signed-rsa.js';
import { isGuid } from '../../core/settings.js';
import { formatExpiry } from '../../core/credential-expiry.js';
import { EXIT } from '../exit-codes.js';

interface CertFlags {
  days: string;
  out: string;
  clientId?: string;
  cn?: string;
}

/** Bounds of --days: Entra accepts certificates of any validity; more than 3 years is refused here (rotate). */
const MAX_DAYS = 3 * 365;

function fail(message: string): number {
  process.stderr.write(`mailgate cert create: ${message}\n`);
  return EXIT.INVALID;
}

export async function runCertCreate(flags: CertFlags, env: Record<string, string | undefined> = process.env, out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  if (!/^\d{1,4}$/.test(flags.days) || Number(flags.days) < 1 || Number(flags.days) > MAX_DAYS) return fail(`--days must be a whole number of days between 1 and ${MAX_DAYS} (got ${JSON.stringify(flags.days.slice(0, 20))})`);
  const clientId = (flags.clientId ?? env.MAILGATE_CLIENT_ID)?.trim() || undefined;
  if (clientId !== undefined && !isGuid(clientId)) return fail('--client-id (or MAILGATE_CLIENT_ID) must be the Application (client) ID, a GUID');
  const cn = flags.cn ?? 'Mailgate';
  if (!/^[\w .@-]{1,64}$/.test(cn)) return fail('--cn must be 1 to 64 letters, digits, spaces or . @ - _');
  const dir = resolve(flags.out);
  const now = Date.now();
  const made = await createSelfSignedRsa({ commonName: cn, notBefore: new Date(now - 5 * 60_000), notAfter: new Date(now + Number(flags.days) * 86_400_000) });
  const files = { key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem'), client: join(dir, 'client.pem') };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Exclusive creation: never overwrite (or follow a planted symlink to) an existing file.
    writeFileSync(files.key, made.privateKeyPem, { mode: 0o600, flag: 'wx' });
    writeFileSync(files.cert, made.certPem, { mode: 0o644, flag: 'wx' });
    writeFileSync(files.client, made.certPem + made.privateKeyPem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return fail(e.code === 'EEXIST' ? `${e.path ?? dir} already exists; choose another --out (an existing key is never overwritten)` : `cannot write to ${dir}: ${e.message}`);
  }
  const id = clientId ?? '<Application (client) ID>';
  out([
    `Wrote ${files.key} (private key, mode 0600)`,
    `      ${files.cert} (certificate: upload this one to Entra ID)`,
    `      ${files.client} (certificate + key, mode 0600: the Client certificate setting)`,
    '',
    `Thumbprint (SHA-1, as Entra shows it): ${made.thumbprintSha1}`,
    `Expires: ${formatExpiry(made.notAfter.getTime())}`,
    '',
    'Upload the certificate to the app registration (--append keeps the current credentials):',
    `  az ad app credential reset --id ${id} --cert @${files.cert} --append`,
    `or in the portal: Entra admin center → Identity → Applications → App registrations → (the app ${id}) → Certificates & secrets → Certificates → Upload certificate → ${files.cert}`,
    '',
    'Then give Mailgate the certificate, and check that Entra ID accepts it:',
    `  MAILGATE_CLIENT_CERTIFICATE_PATH=${files.client}   (or paste client.pem as "Client certificate (PEM)" on the Email Settings page)`,
    '  mailgate doctor',
    '',
    // Replacing a credential that works (a secret, or a certificate about to expire): the rotation
    // keeps mail flowing, the new certificate tested before it is used (issue 17).
    'Or, to replace a credential that works now without a gap (rotation: the new certificate as the secondary, tested, then made primary):',
    `  mailgate credentials add default --certificate ${files.client}`,
    '  mailgate credentials test default && mailgate credentials promote default',
    '',
  ].join('\n'));
  return EXIT.OK;
}

export function registerCertCommands(program: Command): void {
  const cert = program.command('cert').description('Certificate credentials for the app registration (Microsoft recommends them over client secrets).');
  cert
    .command('create')
    .description('Create a key and a self-signed certificate (RSA 2048, SHA-256): key.pem, cert.pem (upload to Entra ID) and client.pem (the Client certificate setting).')
    .option('--days <n>', 'validity in days', '365')
    .option('--out <dir>', 'directory to write key.pem, cert.pem and client.pem into', '.')
    .option('--client-id <guid>', 'the Application (client) ID for the printed upload commands (default: MAILGATE_CLIENT_ID)')
    .option('--cn <name>', 'the certificate subject\'s common name', 'Mailgate')
    .action(async (flags: CertFlags) => {
      process.exitCode = await runCertCreate(flags);
    });
}
