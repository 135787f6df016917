/**
 * A minimal HTTPS client on node:https, used as MSAL's network module.
 *
 * Why not MSAL's default (global fetch): fetch cannot take a per-request CA (the emulator's CA
 * in tests and `mailgate dev`) or a hard timeout, and hides the response headers we need
 * (Retry-After). This client returns status, lowercase headers and the body text.
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
  timeoutMs?: number;
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


export function httpsRequest(url: string, options: HttpsRequestOptions): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
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
        timeout: options.timeoutMs ?? 30000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
          }
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error(`Request to ${new URL(url).host} timed out`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}
