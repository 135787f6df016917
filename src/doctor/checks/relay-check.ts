/**
 * The doctor's `relay` check (issue 14), run only when the SMTP relay is on
 * (MAILGATE_RELAY_PORT): the relay answers on its port with a 220 greeting, offers STARTTLS and
 * does not offer AUTH before it, the TLS handshake works (also on the implicit-TLS port when one
 * is set), the certificate is valid now and not expiring within 30 days, and at least one relay
 * client exists.
 *
 * Why: a printer that "cannot send" after the switch usually meets one of these; the relay's
 * own view (the port it listens on, the certificate it really presents) is what the device
 * sees, so the check connects like a device would instead of reading files.
 *
 * Decisions where the issue is silent: an expired or not-yet-valid certificate, no STARTTLS,
 * or AUTH offered in clear are failures; a certificate expiring within 30 days and a relay
 * without any client are warnings (mail from existing set-ups still flows; the fix says what
 * to do). The certificate is not checked against a CA: devices are pointed at a self-signed
 * one by design; its SHA-256 fingerprint is reported so an administrator can pin it.
 *
 * Imports: node:net, node:tls, ../types.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { CheckResult } from '../types.js';

export interface RelayDoctorInput {
  /** MAILGATE_RELAY_HOST (a wildcard is probed on loopback). */
  host: string;
  /** MAILGATE_RELAY_PORT (STARTTLS). */
  port: number;
  /** MAILGATE_RELAY_TLS_PORT (implicit TLS), when set. */
  tlsPort?: number;
  /** Active relay clients, or undefined when they cannot be counted (no data dir). */
  clients?: number;
  /** The Authorized from Address, for the `relay-client create` command in a fix. */
  authorizedFrom?: string;
}

/** A certificate expiring sooner than this is a warning. */
export const RELAY_CERT_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

export interface PresentedCertificate {
  subject: string;
  fingerprint256: string;
  validFrom: number;
  validTo: number;
}

export type RelayEndpointObservation =
  | { ok: true; greeting: string; tlsVersion: string; certificate?: PresentedCertificate; authBeforeTls?: boolean }
  | { ok: false; stage: 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'handshake'; error: string; authBeforeTls?: boolean };

export interface RelayObservation {
  input: RelayDoctorInput;
  probedHost: string;
  starttls: RelayEndpointObservation;
  implicitTls?: RelayEndpointObservation;
}

/** Where to connect for a listener bound to `host`. */
export function probeHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host.replace(/^\[(.*)\]$/, '$1');
}

/** Reads SMTP replies (multi-line aware) from a socket. */
class ReplyReader {
  #buf = '';
  #waiters: ((reply: string | Error) => void)[] = [];
  #replies: (string | Error)[] = [];

  constructor(socket: net.Socket) {
    const onData = (d: Buffer) => {
      this.#buf += d.toString('latin1');
      if (this.#buf.length > 65_536) return this.#push(new Error('the reply is longer than 64 KB'));
      for (;;) {
        const lines = this.#buf.split('\r\n');
        let end = -1;
        for (let i = 0; i < lines.length - 1; i++) {
          if (/^\d{3}(?: |$)/.test(lines[i]!)) {
            end = i;
            break;
          }
        }
        if (end < 0) return;
        this.#push(lines.slice(0, end + 1).join('\n'));
        this.#buf = lines.slice(end + 1).join('\r\n');
      }
    };
    socket.on('data', onData);
    socket.on('error', (e) => this.#push(e));
    socket.on('close', () => this.#push(new Error('the connection was closed')));
  }

  #push(r: string | Error): void {
    const w = this.#waiters.shift();
    if (w) w(r);
    else this.#replies.push(r);
  }

  next(timeoutMs: number): Promise<string> {
    const ready = this.#replies.shift();
    if (ready !== undefined) return ready instanceof Error ? Promise.reject(ready) : Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: string | Error) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.#waiters.push(waiter);
    });
  }
}

function certificateOf(socket: tls.TLSSocket): PresentedCertificate | undefined {
  const c = socket.getPeerCertificate();
  if (!c || !c.valid_to) return undefined;
  const subject = typeof c.subject?.CN === 'string' ? `CN=${c.subject.CN}` : Object.entries(c.subject ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  return { subject, fingerprint256: c.fingerprint256, validFrom: Date.parse(c.valid_from), validTo: Date.parse(c.valid_to) };
}

function connect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function handshake(options: tls.ConnectionOptions, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // Not verified on purpose: a relay's certificate is often self-signed (see the header).
    const s = tls.connect({ ...options, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const CLIENT_NAME = 'mailgate-doctor.invalid';

/** Connects like a device: greeting, EHLO, STARTTLS, handshake, EHLO; then QUIT. */
export async function observeStarttlsEndpoint(host: string, port: number, timeoutMs: number): Promise<RelayEndpointObservation> {
  let socket: net.Socket;
  try {
    socket = await connect(host, port, timeoutMs);
  } catch (e) {
    return { ok: false, stage: 'connect', error: (e as Error).message };
  }
  let secure: tls.TLSSocket | undefined;
  let stage: 'greeting' | 'ehlo' | 'starttls' | 'handshake' = 'greeting';
  let authBeforeTls: boolean | undefined;
  try {
    const reader = new ReplyReader(socket);
    const greeting = await reader.next(timeoutMs);
    if (!greeting.startsWith('220')) return { ok: false, stage, error: `the greeting was "${greeting.slice(0, 200)}"` };
    stage = 'ehlo';
    socket.write(`EHLO ${CLIENT_NAME}\r\n`);
    const ehlo = await reader.next(timeoutMs);
    if (!ehlo.startsWith('250')) return { ok: false, stage, error: `EHLO was answered "${ehlo.slice(0, 200)}"` };
    authBeforeTls = /^250[- ]AUTH\b/im.test(ehlo);
    stage = 'starttls';
    if (!/^250[- ]STARTTLS\b/im.test(ehlo)) return { ok: false, stage, error: 'STARTTLS is not offered', authBeforeTls };
    socket.write('STARTTLS\r\n');
    const go = await reader.next(timeoutMs);
    if (!go.startsWith('220')) return { ok: false, stage, error: `STARTTLS was answered "${go.slice(0, 200)}"`, authBeforeTls };
    stage = 'handshake';
    socket.removeAllListeners('data');
    secure = await handshake({ socket, servername: net.isIP(host) ? undefined : host }, timeoutMs);
    const certificate = certificateOf(secure);
    secure.end('QUIT\r\n');
    return { ok: true, greeting, tlsVersion: secure.getProtocol() ?? 'unknown', certificate, authBeforeTls };
  } catch (e) {
    return { ok: false, stage, error: (e as Error).message, authBeforeTls };
  } finally {
    // After QUIT has had a moment to go out.
    setTimeout(() => {
      secure?.destroy();
      socket.destroy();
    }, 1000).unref();
  }
}

/** Connects to an implicit-TLS port: handshake, then the greeting. */
export async function observeImplicitTlsEndpoint(host: string, port: number, timeoutMs: number): Promise<RelayEndpointObservation> {
  let secure: tls.TLSSocket;
  try {
    secure = await handshake({ host, port, servername: net.isIP(host) ? undefined : host }, timeoutMs);
  } catch (e) {
    const m = (e as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'connect' : 'handshake';
    return { ok: false, stage: m, error: (e as Error).message };
  }
  try {
    const reader = new ReplyReader(secure);
    const greeting = await reader.next(timeoutMs);
    if (!greeting.startsWith('220')) return { ok: false, stage: 'greeting', error: `the greeting was "${greeting.slice(0, 200)}"` };
    secure.end('QUIT\r\n');
    return { ok: true, greeting, tlsVersion: secure.getProtocol() ?? 'unknown', certificate: certificateOf(secure) };
  } catch (e) {
    return { ok: false, stage: 'greeting', error: (e as Error).message };
  } finally {
    setTimeout(() => secure.destroy(), 1000).unref();
  }
}

export async function observeRelay(input: RelayDoctorInput, timeoutMs: number): Promise<RelayObservation> {
  const probedHost = probeHost(input.host);
  const [starttls, implicitTls] = await Promise.all([
    observeStarttlsEndpoint(probedHost, input.port, timeoutMs),
    input.tlsPort !== undefined ? observeImplicitTlsEndpoint(probedHost, input.tlsPort, timeoutMs) : Promise.resolve(undefined),
  ]);
  return { input, probedHost, starttls, ...(implicitTls ? { implicitTls } : {}) };
}

const day = (t: number) => new Date(t).toISOString().slice(0, 10);

function endpointFailure(name: string, where: string, o: RelayEndpointObservation & { ok: false }, input: RelayDoctorInput): { summary: string; fix: string } {
  switch (o.stage) {
    case 'connect':
      return {
        summary: `Nothing accepts connections on the relay's ${name} port ${where} (${o.error}).`,
        fix: `Start the service (mailgate serve) with the relay on, and check MAILGATE_RELAY_HOST=${input.host} and the port variable (${name === 'implicit TLS' ? 'MAILGATE_RELAY_TLS_PORT' : 'MAILGATE_RELAY_PORT'}): another program may hold the port, or the service could not bind it (its log says why).`,
      };
    case 'handshake':
      return {
        summary: `The TLS handshake with the relay on ${where} failed: ${o.error}.`,
        fix: 'Check the certificate and key the relay uses (MAILGATE_RELAY_TLS_CERT / MAILGATE_RELAY_TLS_KEY: PEM files that belong together), or unset both to use the generated certificate.',
      };
    default:
      return {
        summary: `The relay on ${where} does not speak SMTP as a device expects (${o.stage}): ${o.error}.`,
        fix: 'Check that MAILGATE_RELAY_PORT is the relay\'s port and not another service\'s; the service log shows the relay\'s start-up.',
      };
  }
}

/** The check's verdict. `now`: epoch ms. */
export function decideRelay(o: RelayObservation, now: number): CheckResult {
  const { input } = o;
  const where = `${o.probedHost}:${input.port}`;
  const details: Record<string, unknown> = { host: input.host, port: input.port, ...(input.tlsPort !== undefined ? { tlsPort: input.tlsPort } : {}), clients: input.clients ?? null };
  const problems: { summary: string; fix: string }[] = [];
  const warnings: { summary: string; fix: string; commands?: string[] }[] = [];

  if (o.starttls.authBeforeTls) {
    problems.push({
      summary: `The relay on ${where} offers AUTH before STARTTLS: a device could send its password in clear.`,
      fix: 'This must not happen with Mailgate\'s relay; check that MAILGATE_RELAY_PORT is Mailgate\'s port and report it if it is.',
    });
  }
  if (!o.starttls.ok) problems.push(endpointFailure('STARTTLS', where, o.starttls, input));
  if (o.implicitTls && !o.implicitTls.ok) problems.push(endpointFailure('implicit TLS', `${o.probedHost}:${input.tlsPort}`, o.implicitTls, input));

  const cert = (o.starttls.ok ? o.starttls.certificate : undefined) ?? (o.implicitTls?.ok ? o.implicitTls.certificate : undefined);
  if (o.starttls.ok) details.tlsVersion = o.starttls.tlsVersion;
  if (cert) {
    Object.assign(details, { certificateSubject: cert.subject, fingerprint256: cert.fingerprint256, validFrom: new Date(cert.validFrom).toISOString(), expiresAt: new Date(cert.validTo).toISOString() });
    const renew = 'Replace the files named by MAILGATE_RELAY_TLS_CERT / MAILGATE_RELAY_TLS_KEY with a renewed certificate (the relay reloads them when they change); devices that pin the fingerprint need the new one.';
    if (Number.isFinite(cert.validTo) && cert.validTo <= now) {
      problems.push({ summary: `The relay's certificate (${cert.subject}) expired on ${day(cert.validTo)}: devices that check it refuse to send.`, fix: renew });
    } else if (Number.isFinite(cert.validFrom) && cert.validFrom > now) {
      problems.push({ summary: `The relay's certificate (${cert.subject}) is valid only from ${day(cert.validFrom)}: check the server's clock or the certificate.`, fix: renew });
    } else if (cert.validTo - now < RELAY_CERT_WARN_DAYS * DAY_MS) {
      const days = Math.max(0, Math.floor((cert.validTo - now) / DAY_MS));
      warnings.push({ summary: `The relay's certificate (${cert.subject}) expires on ${day(cert.validTo)}, in ${days} day${days === 1 ? '' : 's'}.`, fix: renew });
    }
  } else if (o.starttls.ok) {
    problems.push({ summary: `The relay on ${where} presented no certificate.`, fix: 'Check MAILGATE_RELAY_TLS_CERT / MAILGATE_RELAY_TLS_KEY.' });
  }

  if (input.clients === 0) {
    const from = input.authorizedFrom ?? 'ADDRESS';
    warnings.push({
      summary: 'No relay client exists yet, so no device or application can send through the relay.',
      fix: 'Create one client per device or application (the admin page\'s Relay clients tab, or the command below) and enter its username and password in the device.',
      commands: [`mailgate relay-client create scanner --allow-from ${from}`],
    });
  } else if (input.clients === undefined) {
    warnings.push({ summary: 'The relay clients could not be counted (no data dir with a database was found).', fix: 'Run the doctor with --data-dir set to the service\'s MAILGATE_DATA_DIR.' });
  }

  if (problems.length) {
    return { id: 'relay', status: 'fail', summary: problems.map((p) => p.summary).join(' '), fix: problems.map((p) => p.fix).join('\n'), details };
  }
  const ok = `The SMTP relay answers on ${where}${input.tlsPort !== undefined ? ` (and implicit TLS on ${o.probedHost}:${input.tlsPort})` : ''} with STARTTLS (${o.starttls.ok ? o.starttls.tlsVersion : ''}), certificate ${cert!.subject}, SHA-256 ${cert!.fingerprint256}, valid until ${day(cert!.validTo)}; ${input.clients === undefined ? 'clients unknown' : `${input.clients} active client${input.clients === 1 ? '' : 's'}`}.`;
  if (warnings.length) {
    const commands = warnings.flatMap((w) => w.commands ?? []);
    return { id: 'relay', status: 'warn', summary: `${warnings.map((w) => w.summary).join(' ')} ${ok}`, fix: warnings.map((w) => w.fix).join('\n'), ...(commands.length ? { commands } : {}), details };
  }
  return { id: 'relay', status: 'pass', summary: ok, details };
}
