/**
 * Turn a failed token request into a MailgateError, whatever the library did internally.
 *
 * Why: MSAL collapses some failures (e.g. discovery) into opaque codes, and its ServerError
 * carries only part of Entra's answer. Mailgate's network module records the raw HTTP
 * response, so the error is built from what Entra actually sent: HTTP status, `error`,
 * `error_codes` (AADSTS numbers), description, trace and correlation ids, Retry-After.
 * Transient answers (5xx, 429, network) are retryable TOKEN_UNAVAILABLE; the rest are
 * TOKEN_REJECTED, diagnosed from the AADSTS table.
 */
import { MailgateError, type TokenEndpointReply } from '../core/errors.js';
import { scrubText } from '../core/secret.js';
import type { HttpsResponse } from './https-request.js';

export interface TokenRequestContext {
  tenantId: string;
  clientId: string;
  tokenEndpoint: string;
  secrets: string[];
}

function retryAfterSeconds(h: Record<string, string>): number | undefined {
  const v = h['retry-after'];
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** Parse an Entra error response body into the safe fields. */
function parseTokenEndpointReply(res: HttpsResponse, secrets: string[] = []): TokenEndpointReply {
  const reply: TokenEndpointReply = { status: res.status, retryAfterSeconds: retryAfterSeconds(res.headers) };
  try {
    const body = JSON.parse(res.body) as Record<string, unknown>;
    if (typeof body.error === 'string') reply.error = body.error;
    if (typeof body.error_description === 'string') {
      // Keep the first line (AADSTSnnnn: text); trace/correlation ids are kept separately.
      reply.description = scrubText(body.error_description.split(/\r?\n/)[0].trim(), secrets);
    }
    if (Array.isArray(body.error_codes)) reply.aadsts = body.error_codes.filter((n): n is number => typeof n === 'number');
    if (!reply.aadsts?.length && reply.description) {
      const m = /AADSTS(\d+)/.exec(reply.description);
      if (m) reply.aadsts = [Number(m[1])];
    }
    if (typeof body.trace_id === 'string') reply.traceId = body.trace_id;
    if (typeof body.correlation_id === 'string') reply.correlationId = body.correlation_id;
  } catch {
    if (res.body) reply.description = scrubText(res.body.slice(0, 300), secrets);
  }
  return reply;
}

const TRANSIENT_AADSTS = new Set([50196, 90055, 90033]);

/** Build the error for an HTTP error answer from the token endpoint. */
export function tokenErrorFromResponse(res: HttpsResponse, ctx: TokenRequestContext): MailgateError {
  const token = parseTokenEndpointReply(res, ctx.secrets);
  const transient =
    res.status >= 500 || res.status === 429 || token.error === 'temporarily_unavailable' ||
    (token.aadsts ?? []).some((c) => TRANSIENT_AADSTS.has(c));
  const code = transient ? 'TOKEN_UNAVAILABLE' : 'TOKEN_REJECTED';
  const aad = token.aadsts?.length ? `AADSTS${token.aadsts[0]}` : `HTTP ${res.status}`;
  return new MailgateError({
    code,
    phase: 'token',
    retryable: transient,
    message: `Token request to ${new URL(ctx.tokenEndpoint).host} failed: ${token.description ?? aad}`,
    token,
    context: { tenantId: ctx.tenantId, clientId: ctx.clientId, tokenEndpoint: ctx.tokenEndpoint },
  });
}

/** Build the error for a token request that got no HTTP answer (DNS, refused, TLS, timeout). */
export function tokenErrorFromNetwork(err: unknown, ctx: TokenRequestContext): MailgateError {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const sysCode = e?.code ?? e?.cause?.code ?? 'ERROR';
  const host = new URL(ctx.tokenEndpoint).host;
  const tlsProblem = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|TLS|SSL/i.test(sysCode);
  return new MailgateError({
    code: 'TOKEN_UNAVAILABLE',
    phase: 'token',
    // A certificate problem will not fix itself by retrying.
    retryable: !tlsProblem,
    message: `Token endpoint ${host} could not be reached: ${scrubText(String(e?.message ?? err), ctx.secrets)} (${sysCode})`,
    context: { tenantId: ctx.tenantId, clientId: ctx.clientId, tokenEndpoint: ctx.tokenEndpoint, errno: sysCode },
    cause: err,
  });
}
