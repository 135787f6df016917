/**
 * The interop harness: runs real Postfix 3.7 and Dovecot 2.3 (Debian's packages) on loopback
 * ports, from the config templates in test/interop/templates, for the interop suite.
 *
 * It installs nothing (scripts/install-interop-deps.sh does, in CI). It:
 * - locates the binaries and the system users they need (`locateServers`), and says exactly
 *   what is missing otherwise, so the suite can skip loudly;
 * - writes everything into one temp dir: a test CA and a server certificate (openssl, SAN
 *   localhost + 127.0.0.1), Dovecot's and Postfix's configs, the JWT validation keys (from the
 *   emulator's JWKS, as PEM), the mailbox→service-principal map and the password file;
 * - starts an SMTP sink (./sink.ts), Dovecot (`dovecot -F`) and Postfix (`master -d`), each a
 *   child process in its own process group, and waits for their SMTP greetings;
 * - stops them all (SIGTERM to the group, SIGKILL after a grace period; also on process exit
 *   and on SIGINT/SIGTERM), and removes the temp dir unless MAILGATE_INTEROP_KEEP=1.
 *
 * Traps it handles (docs/dependencies.md §4): the temp dir must be traversable by
 * the postfix and dovecot users (mkdtemp makes it 0700); Postfix's data dir must belong to
 * postfix; `postfix check` (which creates the queue dirs) prints errors only on a tty, so it
 * runs under `script -qec`; the userdb uid must be ≥ 500 (nobody).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSink, type Sink } from './sink.js';

export interface ServerBinaries {
  dovecot: string;
  postfix: string;
  postfixMaster: string;
  openssl: string;
  script: string;
  versions: { dovecot: string; postfix: string };
}

export type Located = { ok: true; bins: ServerBinaries } | { ok: false; reason: string };

const INSTALL_HINT = 'run `bash scripts/install-interop-deps.sh` (as root) to install them';

function firstExecutable(candidates: string[]): string | undefined {
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

function namesIn(file: string): Set<string> {
  try {
    return new Set(readFileSync(file, 'utf8').split('\n').map((l) => l.split(':')[0]).filter(Boolean));
  } catch {
    return new Set();
  }
}

/** Find Postfix, Dovecot (with its submission service), openssl and script(1); explain what is missing. */
export function locateServers(): Located {
  const missing: string[] = [];
  if (process.platform !== 'linux') return { ok: false, reason: `the interop servers run on Linux only (this is ${process.platform})` };
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: 'not running as root: Postfix\'s master and Dovecot must start as root to drop privileges to their own users' };
  }
  const dovecot = firstExecutable(['/usr/sbin/dovecot']);
  const postfix = firstExecutable(['/usr/sbin/postfix']);
  const openssl = firstExecutable(['/usr/bin/openssl']);
  const script = firstExecutable(['/usr/bin/script']);
  if (!dovecot) missing.push('/usr/sbin/dovecot (package dovecot-core)');
  if (!postfix) missing.push('/usr/sbin/postfix (package postfix)');
  if (!openssl) missing.push('/usr/bin/openssl (package openssl)');
  if (!script) missing.push('/usr/bin/script (package bsdutils)');
  const libexec = ['/usr/lib/dovecot', '/usr/libexec/dovecot'].find((d) => existsSync(path.join(d, 'auth')));
  if (dovecot && !(libexec && firstExecutable([path.join(libexec, 'submission-login')]) && firstExecutable([path.join(libexec, 'submission')]))) {
    missing.push('Dovecot\'s submission service (package dovecot-submissiond)');
  }
  let postfixMaster: string | undefined;
  if (postfix) {
    try {
      const daemonDir = execFileSync('/usr/sbin/postconf', ['-h', '-d', 'daemon_directory'], { encoding: 'utf8' }).trim();
      postfixMaster = firstExecutable([path.join(daemonDir, 'master')]);
    } catch {
      /* reported below */
    }
    if (!postfixMaster) missing.push('Postfix\'s master daemon (postconf -d daemon_directory)');
  }
  const users = namesIn('/etc/passwd');
  const groups = namesIn('/etc/group');
  for (const u of ['postfix', 'dovecot', 'dovenull', 'nobody']) if (!users.has(u)) missing.push(`system user ${u}`);
  for (const g of ['postfix', 'postdrop', 'nogroup']) if (!groups.has(g)) missing.push(`system group ${g}`);
  if (missing.length || !dovecot || !postfix || !postfixMaster || !openssl || !script) {
    return { ok: false, reason: `missing: ${missing.join(', ')}; ${INSTALL_HINT}` };
  }
  let dv = 'unknown';
  let pv = 'unknown';
  try {
    dv = execFileSync(dovecot, ['--version'], { encoding: 'utf8' }).trim();
    pv = execFileSync('/usr/sbin/postconf', ['-h', '-d', 'mail_version'], { encoding: 'utf8' }).trim();
  } catch {
    /* versions are informative only */
  }
  return { ok: true, bins: { dovecot, postfix, postfixMaster, openssl, script, versions: { dovecot: dv, postfix: pv } } };
}

/** Where the config templates are: beside the sources (test/interop/templates), found from dist too. */
export function templatesDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'templates'), path.resolve(here, '../../../test/interop/templates')];
  const found = candidates.find((d) => existsSync(path.join(d, 'dovecot.conf')));
  if (!found) throw new Error(`interop templates not found in ${candidates.join(' or ')}`);
  return found;
}

/** Replace every `{{NAME}}`; an unknown name is an error (a typo must not reach a server). */
export function renderTemplate(text: string, vars: Record<string, string | number>): string {
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (_m, name: string) => {
    if (!(name in vars)) throw new Error(`template variable {{${name}}} has no value`);
    return String(vars[name]);
  });
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; closed again before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Connect to port and wait for a 220 greeting; retries until the deadline. */
export async function waitForGreeting(port: number, timeoutMs: number, alive: () => string | undefined): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const dead = alive();
    if (dead) throw new Error(dead);
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const sock = net.connect({ host: '127.0.0.1', port });
        let buf = '';
        const timer = setTimeout(() => {
          sock.destroy();
          reject(new Error('no greeting'));
        }, 2000);
        sock.on('data', (d) => {
          buf += d.toString('latin1');
          if (buf.includes('\r\n')) {
            clearTimeout(timer);
            sock.end('QUIT\r\n');
            resolve(buf.split('\r\n')[0]);
          }
        });
        sock.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
      });
      if (line.startsWith('220')) return line;
      last = line;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no 220 greeting on 127.0.0.1:${port} within ${timeoutMs} ms (last: ${last})`);
}

/** A JWK from the emulator's JWKS (`{authorityHost}/{tenant}/discovery/v2.0/keys`). */
export interface JwksKey extends JsonWebKey {
  kid?: string;
}

export interface InteropServerOptions {
  /** Keys Dovecot trusts for RS256 tokens, by kid (from the emulator's JWKS). */
  jwks: JwksKey[];
  /** Accepted `iss` values (e.g. `https://sts.windows.net/<tenant id>/`). */
  issuers: string[];
  /** Mailbox → the service principal object id (token `oid`) that may send as it (FullAccess). */
  mailboxAccess: { mailbox: string; objectId: string }[];
  /** Users for basic auth (AUTH PLAIN/LOGIN). */
  passwordUsers: { user: string; password: string }[];
}

export interface Ports {
  sink: number;
  dovecotSubmission: number;
  /** Postfix submission, STARTTLS required, all mechanisms. */
  postfixTls: number;
  /** Postfix submission, STARTTLS required, AUTH LOGIN only. */
  postfixLoginOnly: number;
  /** Postfix submission WITHOUT TLS (AUTH offered in clear). */
  postfixCleartext: number;
}

interface Managed {
  name: string;
  child: ChildProcess;
  output: string[];
  exited?: string;
}

const live = new Set<InteropServers>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const s of live) s.killNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const s of live) s.killNow();
      process.exit(130);
    });
  }
}

export class InteropServers {
  readonly dir: string;
  readonly ports: Ports;
  readonly sink: Sink;
  /** The PEM of the CA that signed the servers' certificate. */
  readonly caPem: string;
  readonly versions: ServerBinaries['versions'];
  readonly #procs: Managed[] = [];
  #stopped = false;

  private constructor(dir: string, ports: Ports, sink: Sink, caPem: string, versions: ServerBinaries['versions']) {
    this.dir = dir;
    this.ports = ports;
    this.sink = sink;
    this.caPem = caPem;
    this.versions = versions;
  }

  /** Start the sink, Dovecot and Postfix. Throws (after cleaning up) when a server cannot start. */
  static async start(bins: ServerBinaries, opts: InteropServerOptions): Promise<InteropServers> {
    installExitHooks();
    // Short path: Dovecot's and Postfix's unix sockets must fit in 108 bytes.
    const dir = mkdtempSync(path.join(tmpdir(), 'mg-interop-'));
    chmodSync(dir, 0o755); // the postfix and dovecot users must traverse it
    let sink: Sink | undefined;
    let servers: InteropServers | undefined;
    try {
      sink = await startSink();
      const ports: Ports = {
        sink: sink.port,
        dovecotSubmission: await freePort(),
        postfixTls: await freePort(),
        postfixLoginOnly: await freePort(),
        postfixCleartext: await freePort(),
      };
      const caPem = makeCertificates(bins.openssl, dir);
      writeConfigs(bins.openssl, dir, ports, opts);
      servers = new InteropServers(dir, ports, sink, caPem, bins.versions);
      live.add(servers);
      await servers.#startDovecot(bins);
      await servers.#startPostfix(bins);
      return servers;
    } catch (e) {
      if (servers) await servers.stop();
      else {
        await sink?.close();
        rmSync(dir, { recursive: true, force: true });
      }
      throw e;
    }
  }

  #spawn(name: string, cmd: string, args: string[]): Managed {
    // detached: its own process group, so one kill reaches every child it forks.
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const m: Managed = { name, child, output: [] };
    const keep = (d: Buffer) => {
      m.output.push(d.toString('utf8'));
      if (m.output.length > 200) m.output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('exit', (code, signal) => {
      m.exited = `${name} exited (code ${code}, signal ${signal})`;
    });
    child.on('error', (e) => {
      m.exited = `${name} could not be started: ${e.message}`;
    });
    this.#procs.push(m);
    return m;
  }

  #deadMessage(m: Managed, log: () => string): string | undefined {
    if (!m.exited) return undefined;
    return `${m.exited}\n--- output ---\n${m.output.join('')}\n--- log ---\n${tail(log(), 40)}`;
  }

  async #startDovecot(bins: ServerBinaries): Promise<void> {
    const m = this.#spawn('dovecot', bins.dovecot, ['-F', '-c', path.join(this.dir, 'dovecot', 'dovecot.conf')]);
    await waitForGreeting(this.ports.dovecotSubmission, 20_000, () => this.#deadMessage(m, () => this.dovecotLog()));
    // Postfix talks to the auth-postfix socket: wait for it too.
    const sock = path.join(this.dir, 'dovecot', 'run', 'auth-postfix');
    const deadline = Date.now() + 10_000;
    while (!existsSync(sock)) {
      if (Date.now() > deadline) throw new Error(`Dovecot did not create ${sock}\n${tail(this.dovecotLog(), 40)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async #startPostfix(bins: ServerBinaries): Promise<void> {
    const etc = path.join(this.dir, 'postfix-etc');
    // `postfix check` creates the queue directories with the right owners; it prints its
    // errors only to a tty, hence script(1). -e: script exits with the command's status.
    try {
      execFileSync(bins.script, ['-qec', `${bins.postfix} -c ${etc} check`, '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(`postfix check failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}\n${tail(this.postfixLog(), 40)}`);
    }
    // master -d: stay in the foreground, a child we can stop (no `postfix start` daemon).
    const m = this.#spawn('postfix', bins.postfixMaster, ['-d', '-c', etc]);
    for (const port of [this.ports.postfixTls, this.ports.postfixLoginOnly, this.ports.postfixCleartext]) {
      await waitForGreeting(port, 20_000, () => this.#deadMessage(m, () => this.postfixLog()));
    }
  }

  /** Dovecot's log so far (auth failures with their reason, logins, relayed messages). */
  dovecotLog(): string {
    return readOr(path.join(this.dir, 'dovecot', 'dovecot.log'));
  }

  /** Postfix's log so far (connections, SASL results, queue ids, deliveries to the sink). */
  postfixLog(): string {
    return readOr(path.join(this.dir, 'postfix.log'));
  }

  /** Process ids of the servers still running (for the no-leftovers check). */
  runningPids(): number[] {
    return this.#procs.filter((m) => !m.exited && m.child.pid !== undefined).map((m) => m.child.pid!);
  }

  /** Synchronous last-resort kill (process exit, signals): kill the process groups, remove the dir. */
  killNow(): void {
    for (const m of this.#procs) {
      if (m.exited || m.child.pid === undefined) continue;
      try {
        process.kill(-m.child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (!this.#stopped && process.env.MAILGATE_INTEROP_KEEP !== '1') {
      try {
        rmSync(this.dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  }

  /** Stop every server (SIGTERM to its process group, SIGKILL after 5 s), the sink, and remove the dir. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(
      this.#procs.map(async (m) => {
        if (m.exited || m.child.pid === undefined) return;
        const exited = new Promise<void>((r) => m.child.once('exit', () => r()));
        try {
          process.kill(-m.child.pid, 'SIGTERM');
        } catch {
          return;
        }
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
        if ((await Promise.race([exited, timer])) === 'timeout') {
          try {
            process.kill(-m.child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
          await exited;
        }
        // Children of the group that outlived their parent (they exit when the master's pipe closes).
        try {
          process.kill(-m.child.pid, 'SIGKILL');
        } catch {
          /* none left: the normal case */
        }
      }),
    );
    await this.sink.close();
    live.delete(this);
    if (process.env.MAILGATE_INTEROP_KEEP === '1') process.stderr.write(`interop: kept ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** A test CA and a server certificate for localhost / 127.0.0.1, signed by it. Returns the CA PEM. */
function makeCertificates(openssl: string, dir: string): string {
  const certs = path.join(dir, 'certs');
  mkdirSync(certs);
  const run = (args: string[]) => execFileSync(openssl, args, { cwd: certs, stdio: ['ignore', 'pipe', 'pipe'] });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Mailgate Interop Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(path.join(certs, 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
  chmodSync(path.join(certs, 'server.key'), 0o600);
  return readFileSync(path.join(certs, 'ca.crt'), 'utf8');
}

/** A JWK (RSA public) as SPKI PEM, the form Dovecot's local validation reads. */
export function jwkToPem(jwk: JwksKey): string {
  const { kty, n, e } = jwk;
  return createPublicKey({ key: { kty, n, e } as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
}

function writeConfigs(openssl: string, dir: string, ports: Ports, opts: InteropServerOptions): void {
  const tpl = templatesDir();
  const vars = {
    DIR: dir,
    INSTANCE: `mg-interop-${path.basename(dir).slice(-6)}`,
    SINK_PORT: ports.sink,
    DOVECOT_SUBMISSION_PORT: ports.dovecotSubmission,
    POSTFIX_TLS_PORT: ports.postfixTls,
    POSTFIX_LOGIN_PORT: ports.postfixLoginOnly,
    POSTFIX_PLAIN_PORT: ports.postfixCleartext,
    ISSUERS: opts.issuers.join(' '),
  };
  const render = (name: string) => renderTemplate(readFileSync(path.join(tpl, name), 'utf8'), vars);

  // Dovecot
  const dv = path.join(dir, 'dovecot');
  for (const d of ['run', 'state', 'home', 'keys/default/RS256']) mkdirSync(path.join(dv, d), { recursive: true });
  chmodSync(path.join(dv, 'home'), 0o1777);
  writeFileSync(path.join(dv, 'dovecot.conf'), render('dovecot.conf'));
  writeFileSync(path.join(dv, 'dovecot-oauth2.conf.ext'), render('dovecot-oauth2.conf.ext'));
  execFileSync(openssl, ['dhparam', '-dsaparam', '-out', path.join(dv, 'dh.pem'), '2048'], { stdio: ['ignore', 'pipe', 'pipe'] });
  for (const k of opts.jwks) {
    if (!k.kid || !/^[A-Za-z0-9_-]+$/.test(k.kid)) throw new Error(`JWKS key without a usable kid: ${JSON.stringify(k.kid)}`);
    writeFileSync(path.join(dv, 'keys', 'default', 'RS256', k.kid), jwkToPem(k));
  }
  const noColon = (s: string) => {
    if (/[:\n]/.test(s)) throw new Error(`passwd-file field must not contain ':' or a newline: ${s}`);
    return s;
  };
  writeFileSync(
    path.join(dv, 'mailbox-access'),
    opts.mailboxAccess.map((a) => `${noColon(a.mailbox)}:::::::user=${noColon(a.objectId)} noauthenticate\n`).join(''),
  );
  writeFileSync(
    path.join(dv, 'passwords'),
    opts.passwordUsers.map((u) => `${noColon(u.user)}:{PLAIN}${noColon(u.password)}\n`).join(''),
  );

  // Postfix
  const etc = path.join(dir, 'postfix-etc');
  mkdirSync(etc);
  mkdirSync(path.join(dir, 'postfix-spool'));
  mkdirSync(path.join(dir, 'postfix-data'));
  const pfUid = Number(execFileSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).trim());
  const pfGid = Number(execFileSync('id', ['-g', 'postfix'], { encoding: 'utf8' }).trim());
  chownSync(path.join(dir, 'postfix-data'), pfUid, pfGid);
  writeFileSync(path.join(etc, 'main.cf'), render('postfix-main.cf'));
  writeFileSync(path.join(etc, 'master.cf'), render('postfix-master.cf'));
}
