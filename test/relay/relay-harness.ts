/**
 * The relay interop harness: `mailgate serve` (a child process, real SQLite, real sockets) with
 * the SMTP relay on, in front of the Microsoft 365 emulator, plus the real SMTP clients the
 * relay's users point at it (swaks, msmtp, curl, Python's smtplib, nodemailer, and a throwaway
 * Postfix instance relaying through it with `relayhost` + a SASL password map).
 *
 * Why it exists: the relay's promise is "send to Mailgate exactly as you sent to
 * smtp.office365.com". Only the real clients show whether their STARTTLS, AUTH PLAIN/LOGIN,
 * dot-stuffing and line endings reach Exchange byte for byte (test/relay/clients.test.ts).
 *
 * It installs nothing (scripts/install-system-deps.sh does). `relayAvailability()` and
 * `locateClient()` say exactly what is missing so the suite skips loudly, naming the reason.
 *
 * Imports: node built-ins, nodemailer (as a client), the emulator, the interop harness's
 * generic helpers (free ports, greetings), test helpers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Emulator } from '../../src/emulator/index.js';
import type { StoredMessageSummary } from '../../src/emulator/message-store.js';
import type { SmtpSessionLogEntry } from '../../src/emulator/activity-log.js';
import { freePort, tail, waitForGreeting } from '../interop/harness.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** dist/ (this file is dist/test/relay/relay-harness.js). */
const DIST = path.resolve(HERE, '..', '..');
export const MAIN = path.join(DIST, 'src', 'cli', 'main.js');

export const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

// ---------------------------------------------------------------------------------------------
// What is available

/**
 * Whether this build has the relay (the listener under service/intake/relay and the
 * `relay-client` command). `undefined` when it has; otherwise the reason to skip.
 */
export function relayUnavailableReason(): string | undefined {
  const missing: string[] = [];
  if (!existsSync(path.join(DIST, 'src', 'service', 'intake', 'relay'))) missing.push('the SMTP relay listener (src/service/intake/relay/) is not in this build yet');
  if (!existsSync(path.join(DIST, 'src', 'cli', 'commands', 'relay-client.js'))) missing.push('the `mailgate relay-client` command is not in this build yet');
  return missing.length ? missing.join('; ') : undefined;
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** An executable on PATH (or at an absolute path), or undefined. */
export function which(name: string): string | undefined {
  if (name.startsWith('/')) return executable(name) ? name : undefined;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', name);
    if (executable(p)) return p;
  }
  return undefined;
}

export type ClientName = 'swaks' | 'msmtp' | 'curl' | 'python3' | 'postfix';

/** The binary of a client, or the reason it is unusable (with the package to install). */
export function locateClient(name: ClientName): { ok: true; bin: string } | { ok: false; reason: string } {
  const hint = 'run `bash scripts/install-system-deps.sh` as root';
  switch (name) {
    case 'swaks': {
      const bin = which('swaks');
      if (!bin) return { ok: false, reason: `swaks is not installed (Debian package swaks; ${hint})` };
      const support = spawnText(bin, ['--support']);
      if (!/=== TLS supported/.test(support)) return { ok: false, reason: `swaks has no TLS support (Debian packages libnet-ssleay-perl libio-socket-ssl-perl; ${hint})` };
      return { ok: true, bin };
    }
    case 'msmtp': {
      const bin = which('msmtp');
      return bin ? { ok: true, bin } : { ok: false, reason: `msmtp is not installed (Debian package msmtp; ${hint})` };
    }
    case 'curl': {
      const bin = which('curl');
      if (!bin) return { ok: false, reason: `curl is not installed (Debian package curl; ${hint})` };
      if (!/\bsmtp\b/.test(spawnText(bin, ['--version']))) return { ok: false, reason: 'this curl was built without SMTP' };
      return { ok: true, bin };
    }
    case 'python3': {
      // Debian's python3 first: the pyenv shim on PATH may point at a build without ssl.
      const bin = which('/usr/bin/python3') ?? which('python3');
      if (!bin) return { ok: false, reason: `python3 is not installed (Debian package python3; ${hint})` };
      if (!spawnText(bin, ['-c', 'import smtplib, ssl; print("ok")']).includes('ok')) return { ok: false, reason: `${bin} cannot import smtplib/ssl` };
      return { ok: true, bin };
    }
    case 'postfix': {
      if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root: Postfix\'s master must start as root to drop privileges' };
      const bin = which('/usr/sbin/postfix');
      if (!bin) return { ok: false, reason: `Postfix is not installed (Debian package postfix; ${hint})` };
      if (!which('/usr/bin/script')) return { ok: false, reason: 'script(1) is missing (Debian package bsdutils)' };
      try {
        const mechs = execFileSync('/usr/sbin/postconf', ['-A'], { encoding: 'utf8' });
        if (!/cyrus/.test(mechs)) return { ok: false, reason: 'this Postfix has no SASL client (postconf -A lists no cyrus)' };
      } catch (e) {
        return { ok: false, reason: `postconf -A failed: ${(e as Error).message}` };
      }
      const plugins = ['/usr/lib/x86_64-linux-gnu/sasl2', '/usr/lib/aarch64-linux-gnu/sasl2', '/usr/lib/sasl2'];
      if (!plugins.some((d) => existsSync(path.join(d, 'libplain.so')) || existsSync(path.join(d, 'libplain.so.2')))) {
        return { ok: false, reason: `Cyrus SASL's PLAIN/LOGIN client plugins are missing (Debian package libsasl2-modules; ${hint})` };
      }
      return { ok: true, bin };
    }
  }
}

function spawnText(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Certificates

export interface TestPki {
  dir: string;
  caFile: string;
  caPem: string;
  certFile: string;
  keyFile: string;
}

/** A test CA and a relay certificate for localhost / 127.0.0.1 signed by it (openssl); valid 400 days, so the doctor's 30-day warning stays quiet. */
export function makeRelayPki(dir: string): TestPki {
  const certs = path.join(dir, 'certs');
  mkdirSync(certs, { recursive: true });
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: ['ignore', 'pipe', 'pipe'] });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '400', '-subj', '/CN=Mailgate Relay Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'relay.key', '-out', 'relay.csr', '-subj', '/CN=localhost']);
  writeFileSync(path.join(certs, 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', 'relay.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'relay.crt', '-days', '400', '-extfile', 'ext.cnf']);
  chmodSync(path.join(certs, 'relay.key'), 0o600);
  chmodSync(path.join(certs, 'ca.crt'), 0o644);
  return {
    dir: certs,
    caFile: path.join(certs, 'ca.crt'),
    caPem: readFileSync(path.join(certs, 'ca.crt'), 'utf8'),
    certFile: path.join(certs, 'relay.crt'),
    keyFile: path.join(certs, 'relay.key'),
  };
}

// ---------------------------------------------------------------------------------------------
// The service with the relay on

export interface RelayService {
  proc: ChildProcess;
  url: string;
  /** STARTTLS submission port. */
  port: number;
  /** Implicit TLS port (465 style). */
  tlsPort: number;
  env: Record<string, string>;
  output(): string;
  stop(): Promise<void>;
}

/** The environment of `mailgate serve` for the emulator's demo tenant, with the relay on. */
export function relayEnv(emulator: Emulator, dataDir: string, pki: TestPki, ports: { port: number; tlsPort: number }): Record<string, string> {
  const demo = emulator.demo!;
  return {
    MAILGATE_DATA_DIR: dataDir,
    MAILGATE_MASTER_KEY: MASTER_KEY,
    MAILGATE_HTTP_PORT: '0',
    MAILGATE_CA_FILE: emulator.caFile,
    MAILGATE_POLL_INTERVAL_MS: '50',
    MAILGATE_LOG_LEVEL: 'info',
    MAILGATE_SMTP_HOST: emulator.smtp.host,
    MAILGATE_SMTP_PORT: String(emulator.smtp.port),
    MAILGATE_AUTHORITY_HOST: emulator.authorityHost,
    MAILGATE_TENANT_ID: demo.tenantId,
    MAILGATE_CLIENT_ID: demo.clientId,
    MAILGATE_CLIENT_SECRET: demo.clientSecret,
    MAILGATE_AUTHORIZED_FROM: demo.authorizedFrom,
    MAILGATE_RELAY_HOST: '127.0.0.1',
    MAILGATE_RELAY_PORT: String(ports.port),
    MAILGATE_RELAY_TLS_PORT: String(ports.tlsPort),
    MAILGATE_RELAY_TLS_CERT: pki.certFile,
    MAILGATE_RELAY_TLS_KEY: pki.keyFile,
  };
}

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k]) base[k] = process.env[k]!;
  return { ...base, ...env };
}

/** Start `mailgate serve`; resolves once HTTP says it is listening and both relay ports greet. */
export async function startRelayService(env: Record<string, string>): Promise<RelayService> {
  const proc = spawn(process.execPath, [MAIN, 'serve'], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += String(d)));
  proc.stderr!.on('data', (d) => (out += String(d)));
  let exited: string | undefined;
  proc.once('exit', (code, signal) => (exited = `mailgate serve exited (code ${code}, signal ${signal})`));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(t);
  };
  try {
    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    while (!url) {
      if (exited) throw new Error(`${exited} before it was ready:\n${tail(out, 40)}`);
      if (Date.now() > deadline) throw new Error(`mailgate serve did not say it was listening within 30 s:\n${tail(out, 40)}`);
      url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 50));
    }
    const port = Number(env.MAILGATE_RELAY_PORT);
    const tlsPort = Number(env.MAILGATE_RELAY_TLS_PORT);
    const dead = () => (exited ? `${exited}\n${tail(out, 40)}` : undefined);
    await waitForGreeting(port, 20_000, dead);
    // The implicit-TLS port greets only after the handshake: check that it accepts connections.
    await waitForTlsGreeting(tlsPort, 20_000, dead);
    return { proc, url, port, tlsPort, env, output: () => out, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function waitForTlsGreeting(port: number, timeoutMs: number, dead: () => string | undefined): Promise<void> {
  const tls = await import('node:tls');
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const d = dead();
    if (d) throw new Error(d);
    const line = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
      let buf = '';
      const timer = setTimeout(() => {
        s.destroy();
        resolve('no greeting');
      }, 3000);
      s.on('data', (b) => {
        buf += b.toString('latin1');
        if (buf.includes('\r\n')) {
          clearTimeout(timer);
          s.end('QUIT\r\n');
          resolve(buf.split('\r\n')[0]);
        }
      });
      s.on('error', (e) => {
        clearTimeout(timer);
        resolve(e.message);
      });
    });
    if (line.startsWith('220')) return;
    last = line;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no 220 greeting over TLS on 127.0.0.1:${port} within ${timeoutMs} ms (last: ${last})`);
}

export interface CreatedRelayClient {
  name: string;
  username: string;
  password: string;
  allowFrom: string[];
  allowIp: string[];
}

/** `mailgate relay-client create NAME ... --json` on the service's data dir. */
export function createRelayClientCli(env: Record<string, string>, name: string, args: string[]): CreatedRelayClient {
  const out = execFileSync(process.execPath, [MAIN, 'relay-client', 'create', name, ...args, '--json'], { env: childEnv(env), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim()) as CreatedRelayClient;
}

export { freePort };

// ---------------------------------------------------------------------------------------------
// Messages and what arrives

/**
 * A message exercising what relays break: a folded header, 8-bit UTF-8 text, trailing
 * whitespace, a body line starting with a dot (dot-stuffing), a long line, a base64 attachment,
 * CRLF line endings throughout. It carries its own Message-ID and Date (so the relay adds
 * neither) and no Bcc, so what arrives must be exactly these bytes after the added `Received:`.
 */
export function buildMessage(opts: { from: string; to: string; tag: string }): { raw: Buffer; messageId: string; subject: string } {
  const messageId = `<relay-${opts.tag}-${process.pid}-${Date.now()}@clients.test>`;
  const subject = `Relay interop ${opts.tag}`;
  const boundary = `=_mg_${opts.tag}_boundary`;
  const attachment = Buffer.from(Array.from({ length: 600 }, (_, i) => i % 256)).toString('base64').replace(/.{76}/g, '$&\r\n');
  const lines = [
    `From: "Scanner Room 2" <${opts.from}>`,
    `To: ${opts.to}`,
    `Subject: ${subject}`,
    `Date: Thu, 03 Dec 2026 19:30:00 +0000`,
    `Message-ID: ${messageId}`,
    'X-Folded-Header: first part',
    '\tsecond part after a tab fold',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    'This is a multi-part message in MIME format.',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Grüße aus dem Drucker – scan attached.',
    'A line with trailing spaces   ',
    '.a line that starts with a dot',
    '..two dots',
    '.',
    'x'.repeat(900),
    '',
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="scan.bin"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="scan.bin"',
    '',
    attachment.replace(/\r\n$/, ''),
    `--${boundary}--`,
    '',
  ];
  return { raw: Buffer.from(lines.join('\r\n'), 'utf8'), messageId, subject };
}

/** Wait until the emulator's mailbox holds the message with this Message-ID. */
export async function waitForArrival(emulator: Emulator, messageId: string, timeoutMs: number, explain: () => string): Promise<StoredMessageSummary> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = emulator.messages().find((x) => x.messageId === messageId);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`the message ${messageId} did not arrive at the emulator within ${timeoutMs} ms\n${explain()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The names of the header fields of a header block (unfolded). */
export function headerNames(header: Buffer): string[] {
  const names: string[] = [];
  for (const line of header.toString('latin1').split('\r\n')) {
    if (!line || line.startsWith(' ') || line.startsWith('\t')) continue;
    names.push(line.slice(0, line.indexOf(':')).toLowerCase());
  }
  return names;
}

/**
 * Byte-faithful check: the received message is `<prefix><original>` where the prefix is only
 * whole header fields the relay (or a relaying Postfix) may add at the top: Received.
 * Returns the problem, or undefined.
 */
export function byteFaithfulProblem(received: Buffer, original: Buffer): string | undefined {
  const withCrlf = (b: Buffer) => (b.subarray(-2).toString() === '\r\n' ? b : Buffer.concat([b, Buffer.from('\r\n')]));
  const got = withCrlf(received);
  const want = withCrlf(original);
  if (got.length < want.length) return `received ${got.length} bytes, fewer than the ${want.length} sent`;
  const suffix = got.subarray(got.length - want.length);
  if (!suffix.equals(want)) {
    const at = firstDifference(suffix, want);
    return `the original bytes are not intact at the end of the received message: first difference at byte ${at} of the original\n` +
      `sent:     ${JSON.stringify(want.subarray(Math.max(0, at - 40), at + 40).toString('latin1'))}\n` +
      `received: ${JSON.stringify(suffix.subarray(Math.max(0, at - 40), at + 40).toString('latin1'))}`;
  }
  const prefix = got.subarray(0, got.length - want.length);
  if (prefix.length && prefix.subarray(-2).toString() !== '\r\n') return 'the added prefix does not end with CRLF';
  const added = headerNames(prefix);
  const unexpected = added.filter((n) => n !== 'received');
  if (unexpected.length) return `header fields added besides Received: ${unexpected.join(', ')}\n${prefix.toString('latin1')}`;
  if (!added.length) return 'no Received: line was added';
  return undefined;
}

function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** The emulator's SMTP session that carried this stored message (to check it used XOAUTH2). */
export function sessionOf(emulator: Emulator, storedId: string): SmtpSessionLogEntry | undefined {
  return emulator.log().find((e): e is SmtpSessionLogEntry => e.kind === 'smtp' && e.messages.includes(storedId));
}

// ---------------------------------------------------------------------------------------------
// Running a client

export interface ClientRun {
  code: number | null;
  output: string;
}

/** Run a client binary with a timeout; stdin optional. */
export function runClient(bin: string, args: string[], opts: { input?: Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += String(d)));
    child.stderr.on('data', (d) => (output += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.stdin.end(opts.input ?? Buffer.alloc(0));
  });
}

export function scratchDir(prefix: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, 0o755); // the postfix user must traverse it
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
