/**
 * A throwaway Postfix 3.7 instance used as a *client* of the Mailgate relay: the set-up an
 * administrator writes on a Linux host whose cron, monitoring or `sendmail` must keep sending
 * after Microsoft turns Basic authentication off:
 *
 *   relayhost = [127.0.0.1]:PORT
 *   smtp_sasl_auth_enable = yes
 *   smtp_sasl_password_maps = texthash:<dir>/sasl_passwd   ([127.0.0.1]:PORT user:password)
 *   smtp_tls_security_level = encrypt
 *
 * It accepts mail on its own loopback smtpd port (what the local apps would use) and relays it
 * to Mailgate. Everything lives in one temp dir; `master -d` runs as a child in its own process
 * group and is stopped with it. Same traps as test/interop/harness.ts (docs/dependencies.md §4b):
 * the dir must be traversable by postfix, the data dir owned by postfix, `postfix check` under
 * script(1) to see its errors.
 *
 * Imports: node built-ins, the interop harness's helpers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, tail, waitForGreeting } from '../interop/harness.js';

export interface PostfixClientOptions {
  /** A temp dir traversable by the postfix user. */
  dir: string;
  relayPort: number;
  username: string;
  password: string;
  /** The CA the relay's certificate chains to (Postfix checks nothing with `encrypt`, but logs it). */
  caFile: string;
  /** Which SASL mechanism Postfix may use towards Mailgate. */
  mechanism: 'plain' | 'login';
}

export class PostfixClient {
  readonly #child: ChildProcess;
  readonly dir: string;
  /** Postfix's own smtpd (where local apps submit). */
  readonly submitPort: number;
  #exited: string | undefined;
  readonly #output: string[] = [];

  private constructor(child: ChildProcess, dir: string, submitPort: number) {
    this.#child = child;
    this.dir = dir;
    this.submitPort = submitPort;
    child.stdout?.on('data', (d) => this.#output.push(String(d)));
    child.stderr?.on('data', (d) => this.#output.push(String(d)));
    child.on('exit', (code, signal) => (this.#exited = `postfix master exited (code ${code}, signal ${signal})`));
  }

  static async start(o: PostfixClientOptions): Promise<PostfixClient> {
    const submitPort = await freePort();
    const etc = path.join(o.dir, 'etc');
    for (const d of ['etc', 'spool', 'data']) mkdirSync(path.join(o.dir, d), { recursive: true });
    const pfUid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim());
    const pfGid = Number(execFileSync('id', ['-g', 'postfix'], { encoding: 'utf8' }).trim());
    chownSync(path.join(o.dir, 'data'), pfUid, pfGid);
    // The password map: what `postmap` would compile; texthash reads the text file directly.
    const sasl = path.join(etc, 'sasl_passwd');
    writeFileSync(sasl, `[127.0.0.1]:${o.relayPort} ${o.username}:${o.password}\n`, { mode: 0o600 });
    writeFileSync(path.join(etc, 'main.cf'), [
      '# Throwaway Postfix relaying through Mailgate (test/relay/postfix-client.ts)',
      'compatibility_level = 3.6',
      `queue_directory = ${o.dir}/spool`,
      `data_directory = ${o.dir}/data`,
      `maillog_file = ${o.dir}/postfix.log`,
      `maillog_file_prefixes = /var, /dev/stdout, ${o.dir}`,
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = printers.relay-client.test',
      'mydomain = relay-client.test',
      'myorigin = $mydomain',
      'mydestination =',
      'local_recipient_maps =',
      'mynetworks = 127.0.0.1/32',
      'biff = no',
      'smtputf8_enable = no',
      // Leave the submitted headers alone (no address rewriting of a remote client's headers).
      'local_header_rewrite_clients =',
      'disable_mime_output_conversion = yes',
      // --- the part an administrator writes to relay through Mailgate ---
      `relayhost = [127.0.0.1]:${o.relayPort}`,
      'smtp_sasl_auth_enable = yes',
      `smtp_sasl_password_maps = texthash:${sasl}`,
      'smtp_sasl_security_options = noanonymous',
      'smtp_sasl_tls_security_options = noanonymous',
      `smtp_sasl_mechanism_filter = ${o.mechanism}`,
      'smtp_tls_security_level = encrypt',
      'smtp_tls_mandatory_protocols = >=TLSv1.2',
      `smtp_tls_CAfile = ${o.caFile}`,
      'smtp_tls_loglevel = 1',
      // A test must see a failure at once, not after Postfix's retry schedule.
      'maximal_queue_lifetime = 0',
      'bounce_queue_lifetime = 0',
      '',
    ].join('\n'));
    writeFileSync(path.join(etc, 'master.cf'), [
      `127.0.0.1:${submitPort} inet n - n - - smtpd`,
      ...MASTER_UNIX_SERVICES,
      '',
    ].join('\n'));
    try {
      execFileSync('/usr/bin/script', ['-qec', `/usr/sbin/postfix -c ${etc} check`, '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`postfix check failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    }
    const daemonDir = execFileSync('/usr/sbin/postconf', ['-h', '-d', 'daemon_directory'], { encoding: 'utf8' }).trim();
    const child = spawn(path.join(daemonDir, 'master'), ['-d', '-c', etc], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pf = new PostfixClient(child, o.dir, submitPort);
    try {
      await waitForGreeting(submitPort, 20_000, () => (pf.#exited ? `${pf.#exited}\n${pf.#output.join('')}\n${tail(pf.log(), 30)}` : undefined));
    } catch (e) {
      await pf.stop();
      throw e;
    }
    return pf;
  }

  log(): string {
    try {
      return readFileSync(path.join(this.dir, 'postfix.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    const pid = this.#child.pid;
    if (this.#exited || pid === undefined) return;
    const gone = new Promise((r) => this.#child.once('exit', r));
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, 5000);
    await gone;
    clearTimeout(t);
    try {
      process.kill(-pid, 'SIGKILL'); // children that outlived master
    } catch {
      /* none left */
    }
  }
}

// Debian's unix services, chroot off (paths are in a temp dir).
const MASTER_UNIX_SERVICES = [
  'pickup    unix  n       -       n       60      1       pickup',
  'cleanup   unix  n       -       n       -       0       cleanup',
  'qmgr      unix  n       -       n       300     1       qmgr',
  'tlsmgr    unix  -       -       n       1000?   1       tlsmgr',
  'rewrite   unix  -       -       n       -       -       trivial-rewrite',
  'bounce    unix  -       -       n       -       0       bounce',
  'defer     unix  -       -       n       -       0       bounce',
  'trace     unix  -       -       n       -       0       bounce',
  'verify    unix  -       -       n       -       1       verify',
  'flush     unix  n       -       n       1000?   0       flush',
  'proxymap  unix  -       -       n       -       -       proxymap',
  'proxywrite unix -       -       n       -       1       proxymap',
  'smtp      unix  -       -       n       -       -       smtp',
  'relay     unix  -       -       n       -       -       smtp',
  'showq     unix  n       -       n       -       -       showq',
  'error     unix  -       -       n       -       -       error',
  'retry     unix  -       -       n       -       -       error',
  'discard   unix  -       -       n       -       -       discard',
  'anvil     unix  -       -       n       -       1       anvil',
  'scache    unix  -       -       n       -       1       scache',
  'postlog   unix-dgram n  -       n       -       1       postlogd',
];
