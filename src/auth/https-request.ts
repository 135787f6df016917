/**
 * The token request's HTTPS client, used as MSAL's network module: a thin caller of
 * net/https-exchange.ts (Mailgate's one capped HTTPS client) with the token endpoint's limits.
 *
 * Why not MSAL's default (global fetch): fetch cannot take a per-request CA (the emulator's CA
 * in tests and `mailgate dev`) or a hard timeout, and hides the response headers we need
 * (Retry-After). This client returns status, lowercase headers and the body text.
 *
 * What answers it, up to connect time, is only as trustworthy as the authority host setting
 * (an emulator, a proxy, a wrong host): the body is capped at 1 MB and the whole request has a
 * deadline (by default the idle timeout itself), so a server that streams a huge body or
 * trickles bytes slowly cannot hold memory or a delivery for ever. A token is requested about
 * once an hour: each request opens its own connection (no kept-alive socket to go stale).
 */
import { httpsExchange } from '../net/https-exchange.js';

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

/** The largest response body read (a token response is a few KB; an error page some more). */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export function httpsRequest(url: string, options: HttpsRequestOptions): Promise<HttpsResponse> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return httpsExchange(url, {
    method: options.method,
    headers: options.headers,
    body: options.body,
    ca: options.ca,
    timeoutMs,
    deadlineMs: options.deadlineMs ?? timeoutMs,
    maxResponseBytes: options.maxResponseBytes ?? MAX_RESPONSE_BYTES,
    keepAlive: false,
  });
}
