/**
 * Independent clients for driving the emulator in tests: an HTTPS helper that trusts the
 * emulator's CA (Node's fetch cannot take a CA), a client-credentials token request, a raw
 * line-based SMTP client (plain TCP with STARTTLS) for byte-exact replies, the XOAUTH2 SASL
 * string, hand-made client assertions, and an MSAL `INetworkModule` over node:https.
 *
 * These deliberately share no code with src/emulator: they are the "other side" of the wire.
 */
import { createHash, createPrivateKey, randomUUID, sign, constants } from 'node:crypto';
import { request } from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = any>(): T;
}

/** An HTTPS request trusting `ca`. */
export function httpsRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer; ca: string }): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, ca: init.ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}

export interface EmulatorEndpoints {
  authorityHost: string;
  caPem: string;
}

/** POSTs a form to `{authorityHost}/{tenant}/oauth2/v2.0/token`. */
export function postTokenForm(emulator: EmulatorEndpoints, tenant: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpsResponse> {
  return httpsRequest(`${emulator.authorityHost}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
    ca: emulator.caPem,
  });
}

/** Client-credentials with a secret; resolves the access token or throws with the response body. */
export async function fetchToken(emulator: EmulatorEndpoints, tenant: string, clientId: string, clientSecret: string, scope = 'https://outlook.office365.com/.default'): Promise<string> {
  const res = await postTokenForm(emulator, tenant, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope });
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${res.body}`);
  return res.json<{ access_token: string }>().access_token;
}

/** Decodes a JWT's payload (no verification). */
export function jwtPayload(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
}

export function jwtHeader(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'));
}

/** `base64("user=" + user + "\x01auth=Bearer " + token + "\x01\x01")` (docs/m365.md §3.3). */
export function xoauth2(user: string, token: string): string {
  return Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
}

/** Builds a client assertion by hand (PS256 + x5t#S256 like MSAL, or RS256 + x5t like older libraries). */
export function clientAssertion(input: {
  certPem: string; privateKeyPem: string; clientId: string; audience: string;
  alg?: 'PS256' | 'RS256'; nbf?: number; exp?: number; iss?: string; sub?: string;
}): string {
  const der = Buffer.from(input.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const alg = input.alg ?? 'PS256';
  const header = alg === 'PS256'
    ? { alg, typ: 'JWT', 'x5t#S256': createHash('sha256').update(der).digest('base64url') }
    : { alg, typ: 'JWT', x5t: createHash('sha1').update(der).digest('base64url') };
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    aud: input.audience, iss: input.iss ?? input.clientId, sub: input.sub ?? input.clientId, jti: randomUUID(),
    nbf: input.nbf ?? now, iat: input.nbf ?? now, exp: input.exp ?? now + 600,
  };
  const signingInput = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const key = createPrivateKey(input.privateKeyPem);
  const signature = sign('sha256', Buffer.from(signingInput), alg === 'PS256'
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
    : { key, padding: constants.RSA_PKCS1_PADDING });
  return `${signingInput}.${signature.toString('base64url')}`;
}

/** A raw SMTP client: one reply per `send`, multi-line replies joined with "\n". */
export class RawSmtpClient {
  #socket: net.Socket;
  #buffer = '';
  #lines: string[] = [];
  #waiter: (() => void) | undefined;
  #closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.closedPromise = new Promise((resolve) => this.#attach(socket, resolve));
  }

  #attach(socket: net.Socket, onClose?: () => void): void {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer += chunk.toString('utf8');
      let index: number;
      while ((index = this.#buffer.indexOf('\r\n')) !== -1) {
        this.#lines.push(this.#buffer.slice(0, index));
        this.#buffer = this.#buffer.slice(index + 2);
      }
      this.#waiter?.();
    });
    socket.on('error', () => undefined);
    if (onClose) {
      socket.on('close', () => {
        this.#closed = true;
        this.#waiter?.();
        onClose();
      });
    }
  }

  /** Connects; does not read the greeting (call `readReply()`). */
  static connect(port: number, host = '127.0.0.1'): Promise<RawSmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => {
        socket.off('error', reject);
        resolve(new RawSmtpClient(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits for one complete reply (all its lines); rejects on timeout or close. */
  async readReply(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = this.#lines.findIndex((l) => /^\d{3}(?: |$)/.test(l));
      if (end !== -1) return this.#lines.splice(0, end + 1).join('\n');
      if (this.#closed) throw new Error(`connection closed (pending: ${JSON.stringify(this.#lines)})`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no reply within ${timeoutMs} ms (pending: ${JSON.stringify(this.#lines)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiter = () => {
          clearTimeout(timer);
          this.#waiter = undefined;
          resolve();
        };
      });
    }
  }

  write(data: string | Buffer): void {
    this.#socket.write(data);
  }

  /** Sends one line (CRLF added) and reads the reply. */
  async send(line: string, timeoutMs?: number): Promise<string> {
    this.#socket.write(`${line}\r\n`);
    return this.readReply(timeoutMs);
  }

  /** STARTTLS, then the TLS handshake trusting `ca`; returns the 220 reply. */
  async startTls(ca: string, servername = 'localhost'): Promise<string> {
    const reply = await this.send('STARTTLS');
    if (!reply.startsWith('220')) return reply;
    await this.tlsHandshake(ca, servername);
    return reply;
  }

  /** The TLS handshake on the current socket (after a 220 to STARTTLS read by the caller). */
  async tlsHandshake(ca: string, servername = 'localhost'): Promise<void> {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, ca, servername }, () => resolve(s));
      s.once('error', reject);
    });
    this.#socket = secure;
    this.#attach(secure);
  }

  /** Greeting, EHLO, STARTTLS, EHLO: ready for AUTH. */
  static async connectSecure(port: number, ca: string): Promise<RawSmtpClient> {
    const client = await RawSmtpClient.connect(port);
    await client.readReply();
    await client.send('EHLO client.example');
    await client.startTls(ca);
    await client.send('EHLO client.example');
    return client;
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** An MSAL network client over node:https trusting the emulator's CA (what the product's token code does). */
export function msalNetworkClient(ca: string): INetworkModule {
  const send = async <T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> => {
    const res = await httpsRequest(url, { method, headers: options?.headers, body: options?.body, ca });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.status, headers, body: JSON.parse(res.body) as T };
  };
  return {
    sendGetRequestAsync: (url, options) => send('GET', url, options),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

/** Polls `check` until it returns true (server-side bookkeeping runs after the client sees a close). */
export async function waitFor(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
