/**
 * A minimal HTTPS client on node:https, used as MSAL's network module.
 *
 * Why not MSAL's default (global fetch): fetch cannot take a per-request CA (the emulator's CA
 * in tests and `mailgate dev`) or a hard timeout, and hides the response headers we need
 * (Retry-After). This client returns status, lowercase headers and the body text.
 *
 * What answers it, up to connect time, is only as trustworthy as the authority host setting
 * (an emulator, a proxy, a wrong host): the body is capped at 1 MB (Content-Length checked
 * first, then counted while reading; the connection is closed past the cap) and the whole
 * request has a deadline, not only an idle timeout, so a server that streams a huge body or
 * trickles bytes slowly cannot hold memory or a delivery for ever.
 */
import https from 'node:https';
import { secureContextFor } from '../net/trust.js';

export interface HttpsResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface HttpsRequestOptions {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** An extra trusted CA certificate (PEM), trusted in addition to the default roots. */
  ca?: string | Buffer;
  /** Idle timeout: no data for this long fails the request. Default 30 000. */
  timeoutMs?: number;
  /** Overall deadline for the whole exchange (connect to last byte). Default: timeoutMs. */
  deadlineMs?: number;
  /** The largest response body accepted (bytes). Default MAX_RESPONSE_BYTES (1 MB). */
  maxResponseBytes?: number;
}

const agents = new Map<string, https.Agent>();

function agentFor(extra: string | Buffer): https.Agent {
  const key = extra.toString();
  let agent = agents.get(key);
  if (!agent) {
    agent = new https.Agent({ keepAlive: false, secureContext: secureContextFor(extra) } as https.AgentOptions);
    agents.set(key, agent);
  }
  return agent;
}


/** The largest response body read (a token response is a few KB; an error page some more). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

function requestError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

export function httpsRequest(url: string, options: HttpsRequestOptions): Promise<HttpsResponse> {
  const host = new URL(url).host;
  const maxBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const idleMs = options.timeoutMs ?? 30000;
  const deadlineMs = options.deadlineMs ?? idleMs;
  return new Promise((resolve, reject) => {
    let settled = false;
    let res: import('node:http').IncomingMessage | undefined;
    const finish = (error: Error | undefined, value?: HttpsResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      if (error) {
        // Stop reading and close the connection: nothing more of this answer is wanted.
        res?.destroy();
        req.destroy();
        reject(error);
      } else resolve(value!);
    };
    // The socket timeout only fires when the connection is idle; a server trickling one byte
    // at a time would keep it alive for ever. The deadline bounds the whole exchange.
    const deadline = setTimeout(
      () => finish(requestError(`Request to ${host} did not complete within ${Math.round(deadlineMs / 1000)} s`, 'ETIMEDOUT')),
      deadlineMs,
    );
    const req = https.request(
      url,
      {
        method: options.method,
        headers: {
          ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}),
          ...options.headers,
        },
        // A request trusting an extra CA goes through that CA's own agent, so a kept-alive
        // connection verified under it is never reused by a request that trusts less.
        ...(options.ca ? { agent: agentFor(options.ca) } : {}),
        minVersion: 'TLSv1.2',
        timeout: idleMs,
      },
      (response) => {
        res = response;
        const tooLarge = () => requestError(`The response from ${host} is larger than ${maxBytes} bytes (a token response is a few KB); it was not read further`, 'ERESPONSETOOLARGE');
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
          for (const [k, v] of Object.entries(response.headers)) {
            if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
          }
          finish(undefined, { status: response.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', (e) => finish(e));
        response.on('aborted', () => finish(requestError(`The connection to ${host} closed before the response was complete`, 'ECONNRESET')));
      },
    );
    req.on('timeout', () => finish(requestError(`Request to ${host} timed out (no data for ${Math.round(idleMs / 1000)} s)`, 'ETIMEDOUT')));
    req.on('error', (e) => finish(e));
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}
