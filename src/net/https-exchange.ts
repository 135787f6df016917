/**
 * One HTTPS request/response on node:https, Mailgate's one capped HTTPS client: Microsoft Graph
 * calls, and (through auth/https-request.ts) token requests. The response body is capped
 * (Content-Length checked first, then counted; the connection is closed past the cap), the whole
 * exchange has a deadline besides the idle timeout (a server trickling a byte at a time never
 * trips the idle timeout), TLS 1.2 at least, and an extra trusted CA gets an agent of its own. Connections are kept alive (one
 * agent per CA), since a burst of sendMail requests to one host would otherwise pay a TLS
 * handshake each.
 *
 * Why in net/: transport/ (Graph) may not import auth/, and this is the shared, Node-only helper
 * both use.
 *
 * What a failure tells: `requestSent` on the error says whether the request could have reached
 * the server (a TLS session was up when it failed). Before that (DNS, refused, TLS handshake)
 * nothing was sent, and the caller may try elsewhere; after it, the outcome is unknown.
 *
 * Imports: node:https, ./trust.
 */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { secureContextFor } from './trust.js';

export interface HttpsExchangeOptions {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** An extra trusted CA certificate (PEM), trusted in addition to the default roots. */
  ca?: string | Buffer;
  /** No data for this long fails the request. Default 60 000. */
  timeoutMs?: number;
  /** The whole exchange, connect to last byte. Default 2 × timeoutMs. */
  deadlineMs?: number;
  /** The largest response body read. Default 64 KB (API answers and error bodies are small). */
  maxResponseBytes?: number;
  /**
   * Keep the connection for the next request (default true: a burst of Graph requests). False
   * for a rare request (a token every hour), which then opens and closes its own connection.
   */
  keepAlive?: boolean;
}

export interface HttpsExchangeResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
}

/** A failed exchange: `requestSent` false means nothing can have reached the server. */
export type HttpsExchangeError = Error & { code?: string; requestSent: boolean };

export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

const agents = new Map<string, https.Agent>();

/**
 * One agent per (extra CA, keep-alive): a connection verified under an extra CA is never reused
 * by a request that trusts less.
 */
function agentFor(ca: string | Buffer | undefined, keepAlive: boolean): https.Agent {
  const key = `${keepAlive ? 'keep' : 'close'}\n${ca ? ca.toString() : ''}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new https.Agent({
      keepAlive,
      maxSockets: 16,
      maxFreeSockets: 8,
      // Close idle sockets before a server would (Azure front ends close after ~4 minutes).
      timeout: 60_000,
      ...(ca ? { secureContext: secureContextFor(ca) } : {}),
    } as https.AgentOptions);
    agents.set(key, agent);
  }
  return agent;
}

function failure(message: string, code: string | undefined, requestSent: boolean, cause?: unknown): HttpsExchangeError {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code, requestSent });
}

export function httpsExchange(url: string, o: HttpsExchangeOptions): Promise<HttpsExchangeResponse> {
  const host = new URL(url).host;
  const idleMs = o.timeoutMs ?? 60_000;
  const deadlineMs = o.deadlineMs ?? idleMs * 2;
  const maxBytes = o.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const body = o.body === undefined ? undefined : Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body, 'utf8');
  return new Promise((resolve, reject) => {
    let settled = false;
    // Set once a TLS session to the server is up: from then on, the request may have reached it.
    let sent = false;
    let res: import('node:http').IncomingMessage | undefined;
    // The whole answer, once read: from then on nothing can fail the exchange (see 'end').
    let answer: HttpsExchangeResponse | undefined;
    const finish = (error: HttpsExchangeError | undefined, value?: HttpsExchangeResponse) => {
      if (settled) return;
      if (error && answer) return finish(undefined, answer);
      settled = true;
      clearTimeout(deadline);
      if (error) {
        res?.destroy();
        req.destroy();
        reject(error);
      } else resolve(value!);
    };
    const deadline = setTimeout(
      () => finish(failure(`Request to ${host} did not complete within ${Math.round(deadlineMs / 1000)} s`, 'ETIMEDOUT', sent)),
      deadlineMs,
    );
    const req = https.request(url, {
      method: o.method,
      headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...o.headers },
      agent: agentFor(o.ca, o.keepAlive ?? true),
      minVersion: 'TLSv1.2',
      timeout: idleMs,
    }, (response) => {
      sent = true;
      res = response;
      const tooLarge = () => failure(`The response from ${host} is larger than ${maxBytes} bytes; it was not read further`, 'ERESPONSETOOLARGE', true);
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) return finish(tooLarge());
      const chunks: Buffer[] = [];
      let received = 0;
      response.on('data', (c: Buffer) => {
        received += c.length;
        if (received > maxBytes) return finish(tooLarge());
        chunks.push(c);
      });
      response.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(response.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        answer = { status: response.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') };
        // The answer can be read before our own request's last bytes are flushed (a loaded
        // event loop handles the read before the write's completion); Node hands the socket
        // back to the agent only at the request's 'finish'. Resolving earlier let the next
        // request (the Graph gate passes its slot on at once) open a new connection: 8 TLS
        // connections for 4 requests in flight in the bench. A failure after the answer (the
        // server closing while we still write) resolves with the answer (finish above).
        if (req.writableFinished || req.destroyed) finish(undefined, answer);
        else {
          req.once('finish', () => finish(undefined, answer));
          req.once('close', () => finish(undefined, answer));
        }
      });
      response.on('error', (e) => finish(failure(e.message, (e as { code?: string }).code, true, e)));
      response.on('aborted', () => finish(failure(`The connection to ${host} closed before the response was complete`, 'ECONNRESET', true)));
    });
    req.on('socket', (socket) => {
      // The idle timeout of THIS request, on every socket, new or kept alive. Node does not
      // re-arm it on a reused socket when the request's timeout equals the agent's, and the
      // agent shortened the socket's timeout to the server's `Keep-Alive: timeout=N` hint minus
      // 1 s when it went idle (a Node server sends 5: 4 s). A request on that socket then got
      // 'timeout' after 4 s of server think time, reported as "no data for 60 s"
      // (test/net/https-exchange.test.ts pins it).
      socket.setTimeout(idleMs);
      const tlsSocket = socket as TLSSocket;
      // A kept-alive socket is already connected; a new one is once its handshake is done.
      if (!tlsSocket.connecting && tlsSocket.encrypted && !tlsSocket.destroyed && (tlsSocket as { authorized?: boolean }).authorized !== false) sent = true;
      else tlsSocket.once('secureConnect', () => { sent = true; });
    });
    req.on('timeout', () => finish(failure(`Request to ${host} timed out (no data for ${Math.round(idleMs / 1000)} s)`, 'ETIMEDOUT', sent)));
    req.on('error', (e) => finish(failure(e.message, (e as { code?: string }).code, sent, e)));
    if (body) req.write(body);
    req.end();
  });
}
