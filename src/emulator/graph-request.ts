/**
 * What every request to the emulated Graph goes through (graph-routes.ts, graph-draft-routes.ts):
 * its `request-id` / `client-request-id` and log entry, Graph's error answer, the body read with
 * the 4 MB limit checked first, the token → permission → mailbox → grant → concurrency chain of a
 * `/v1.0/users/{id}/...` request with the delay and drop faults around the work, and acceptance
 * of a message into the store (recipients, SendAs, MaxSendSize), marked `transport: 'graph'`.
 *
 * Order of a `/v1.0/users/...` request: 4 MB body limit (413) → scripted `graphError` fault →
 * token (401) → permission anywhere (403) → mailbox (404) → grant on the mailbox (403) → the
 * 4-concurrent-requests limit per app and mailbox (429 `MailboxConcurrency`, `Retry-After: 1`)
 * → scripted delay/drop → the request's own checks (400/403/413) → answer.
 *
 * Why it exists: the routes then read as what each Graph operation does; the shared rules are
 * written (and reviewed) once.
 *
 * Imports: hono (types), zod, node:http (types), ./access-token.ts, ./activity-log.ts (types),
 * ./faults.ts (types), ./graph-access.ts, ./graph-drafts.ts, ./graph-errors.ts, ./graph-mime.ts,
 * ./http-runtime.ts (types), ./ids.ts, ./send-rules.ts, ./state.ts (types).
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { verifyAccessToken, type AccessTokenClaims } from './access-token.js';
import type { GraphLogEntry } from './activity-log.js';
import type { GraphEndpoint } from './faults.js';
import { bearerToken, decideGraphToken, decideMailboxAccess, holdsPermission, resolveGraphMailbox, type GraphPermission, type GraphRefusal } from './graph-access.js';
import { draftToMime } from './graph-drafts.js';
import { faultError, GRAPH_ERRORS, graphErrorBody, type GraphErrorSpec } from './graph-errors.js';
import { decodeAttachments, decodeBase64Mime, graphMessageSchema, parseMime, storedCopy, type GraphMessage } from './graph-mime.js';
import type { HttpRuntime } from './http-runtime.js';
import { newGuid, newShortId } from './ids.js';
import { decideSendAs } from './send-rules.js';
import type { MailboxState, TenantState } from './state.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const GRAPH_APP_FOR_WWW_AUTHENTICATE = '00000003-0000-0000-c000-000000000000';

export interface RequestCtx {
  c: Context;
  endpoint: GraphEndpoint | 'other';
  requestId: string;
  clientRequestId: string;
  entry: GraphLogEntry;
}

export interface Authorized {
  claims: AccessTokenClaims;
  tenant: TenantState;
  mailbox: MailboxState;
  body: Buffer;
}

/** The node response behind a Hono context (to drop the connection for the `graphDrop` fault). */
export const nodeOf = (c: Context): { incoming?: IncomingMessage; outgoing?: ServerResponse } => (c.env ?? {}) as { incoming?: IncomingMessage; outgoing?: ServerResponse };

export function dropConnection(c: Context): Response {
  const { incoming, outgoing } = nodeOf(c);
  (outgoing?.socket ?? incoming?.socket)?.destroy();
  return new Response(null, { status: 500 });
}

/** Reads the body up to `max` bytes (Content-Length checked first, before anything is read). */
export async function readBody(c: Context, max: number): Promise<Buffer | 'too-large'> {
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > max) return 'too-large';
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return 'too-large';
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

export const invalidRequest = (message: string): GraphErrorSpec => ({ status: 400, code: 'ErrorInvalidRequest', message });

/** The shared request machinery, bound to one emulator's runtime. */
export function graphRequestKit(rt: HttpRuntime) {
  function begin(c: Context, endpoint: GraphEndpoint | 'other'): RequestCtx {
    const requestId = newGuid();
    const sent = c.req.header('client-request-id');
    // A client-request-id is echoed only when it is a plain token (it goes back into a header).
    const clientRequestId = sent && /^[\w.:-]{1,128}$/.test(sent) ? sent : requestId;
    rt.stats.graphRequests++;
    const entry = rt.log.add<GraphLogEntry>({
      kind: 'graph', at: new Date().toISOString(), method: c.req.method, path: new URL(c.req.url).pathname,
      endpoint, requestId, clientRequestId, status: 0,
    });
    return { c, endpoint, requestId, clientRequestId, entry };
  }

  const baseHeaders = (ctx: RequestCtx): Record<string, string> => ({
    'request-id': ctx.requestId,
    'client-request-id': ctx.clientRequestId,
    'x-ms-ags-diagnostic': JSON.stringify({ ServerInfo: { DataCenter: 'Emulator', Slice: 'E', Ring: '5', ScaleUnit: '000', RoleInstance: 'EMULATOR' } }),
    'Strict-Transport-Security': 'max-age=31536000',
    'Cache-Control': 'no-cache',
  });

  function fail(ctx: RequestCtx, error: GraphErrorSpec, reason: string, message?: string, headers: Record<string, string> = {}): Response {
    Object.assign(ctx.entry, { status: error.status, error: error.code, reason });
    rt.stats.graphRequestsFailed++;
    rt.say(`graph ${ctx.endpoint}: ${error.status} ${error.code}${ctx.entry.mailbox ? ` for ${ctx.entry.mailbox}` : ''} (${reason})`);
    const all = { ...baseHeaders(ctx), ...headers };
    if (error.status === 401) {
      all['WWW-Authenticate'] = `Bearer realm="", authorization_uri="${rt.authorityHost}/common/oauth2/authorize", client_id="${GRAPH_APP_FOR_WWW_AUTHENTICATE}"`;
    }
    return ctx.c.json(graphErrorBody(error, ctx, new Date(), message), error.status as ContentfulStatusCode, all);
  }

  const refused = (ctx: RequestCtx, r: GraphRefusal) => fail(ctx, r.error, r.reason, r.message);

  function faultAnswer(ctx: RequestCtx, endpoint: GraphEndpoint): Response | undefined {
    const fault = rt.faults.takeGraphError(endpoint);
    if (!fault) return undefined;
    const headers: Record<string, string> = fault.retryAfterSeconds > 0 ? { 'Retry-After': String(fault.retryAfterSeconds) } : {};
    return fail(ctx, faultError(fault.status), `fault graphError: ${fault.status}`, undefined, headers);
  }

  /**
   * Runs the common part of a `/v1.0/users/{id}/...` request, then `work` while holding one of
   * the app's concurrency slots on the mailbox; applies the delay and drop faults around it.
   */
  async function userRequest(c: Context, endpoint: GraphEndpoint, permission: GraphPermission, work: (ctx: RequestCtx, a: Authorized) => Promise<Response>): Promise<Response> {
    const ctx = begin(c, endpoint);
    const user = c.req.param('user') ?? '';
    ctx.entry.mailbox = user;
    const body = await readBody(c, rt.limits.maxGraphRequestBytes);
    if (body === 'too-large') return fail(ctx, GRAPH_ERRORS.requestTooLarge, `the request body exceeds ${rt.limits.maxGraphRequestBytes} bytes`, undefined, { Connection: 'close' });
    const faulted = faultAnswer(ctx, endpoint);
    if (faulted) return faulted;
    const token = bearerToken(c.req.header('authorization'));
    const verified = token ? verifyAccessToken(token, rt.signingKey, Math.floor(Date.now() / 1000)) : undefined;
    const auth = decideGraphToken(rt.getState(), token, verified);
    if (verified?.ok) ctx.entry.token = { aud: verified.claims.aud, tid: verified.claims.tid, oid: verified.claims.oid, appid: verified.claims.appid, roles: verified.claims.roles };
    if (!auth.ok) return refused(ctx, auth);
    const held = holdsPermission(auth.tenant, auth.claims, permission);
    if (!held.ok) return refused(ctx, held);
    const resolved = resolveGraphMailbox(auth.tenant, user);
    if (!resolved.ok) return refused(ctx, resolved);
    const mailbox = resolved.mailbox;
    ctx.entry.mailbox = mailbox.address;
    const access = decideMailboxAccess(auth.tenant, auth.claims, mailbox, permission);
    if (!access.ok) return refused(ctx, access);

    const key = `${auth.claims.appid} ${mailbox.address}`;
    const max = rt.limits.maxGraphConcurrentRequests;
    if (!rt.graphConcurrency.tryAcquire(key, ctx.requestId, max)) {
      return fail(ctx, GRAPH_ERRORS.mailboxConcurrency, `${max} requests of app ${auth.claims.appid} on ${mailbox.address} are already in flight`, undefined, { 'Retry-After': '1' });
    }
    try {
      const delay = rt.faults.takeGraphDelay(endpoint);
      if (delay > 0) {
        await sleep(delay);
        if (c.req.raw.signal.aborted || nodeOf(c).outgoing?.socket?.destroyed) {
          Object.assign(ctx.entry, { reason: `fault graphDelay: the client left during the ${delay} ms delay; the request was not processed` });
          return new Response(null, { status: 499 });
        }
      }
      const drop = rt.faults.takeGraphDrop(endpoint);
      if (drop && !drop.accepted) {
        Object.assign(ctx.entry, { reason: 'fault graphDrop: connection closed after the request, nothing was processed' });
        return dropConnection(c);
      }
      const response = await work(ctx, { claims: auth.claims, tenant: auth.tenant, mailbox, body });
      if (drop) {
        ctx.entry.reason = `fault graphDrop: the request was processed (status ${ctx.entry.status}) and the connection closed before the answer`;
        return dropConnection(c);
      }
      return response;
    } finally {
      rt.graphConcurrency.release(key, ctx.requestId);
    }
  }

  const newMessageId = () => `<${newShortId()}${newShortId()}@${rt.messageIdHost}>`;

  /** Accepts a raw message for the mailbox: recipients, SendAs, size, then the store. */
  async function accept(ctx: RequestCtx, a: Authorized, raw: Buffer, via: 'sendMail-mime' | 'sendMail-json' | 'draft', saveToSentItems: boolean): Promise<Response> {
    const parsed = parseMime(raw);
    if (!parsed) return fail(ctx, GRAPH_ERRORS.invalidMime, 'the MIME message has no header fields');
    const recipients = [...parsed.to, ...parsed.cc, ...parsed.bcc];
    if (!recipients.length) return fail(ctx, GRAPH_ERRORS.noRecipients, 'the message names no To, Cc or Bcc recipient');
    const bad = recipients.find((r) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(r));
    if (bad) {
      return fail(ctx, { ...GRAPH_ERRORS.noRecipients }, `recipient ${bad} is not an address`,
        `At least one recipient is not valid., Recipient '${bad}' is not resolved. All recipients must be resolved before a message can be submitted.`);
    }
    const sendAs = decideSendAs(rt.getState(), { authenticatedMailbox: a.mailbox.address, oid: a.claims.oid, envelopeFrom: a.mailbox.address, headerFrom: parsed.from });
    if (!sendAs.ok) return fail(ctx, GRAPH_ERRORS.sendAsDenied, sendAs.reason);
    if (raw.length > rt.limits.maxMessageSize) return fail(ctx, GRAPH_ERRORS.messageTooLarge, `${raw.length} bytes exceed the mailbox's MaxSendSize of ${rt.limits.maxMessageSize}`);
    const copy = storedCopy(raw, newMessageId);
    const id = newShortId();
    await rt.store.add({
      // As the mailbox shows it: the From header (a Send As address once SendAs allowed it).
      id, from: parsed.from[0] ?? a.mailbox.address, to: recipients, raw: copy.raw, messageId: copy.messageId, authenticatedAs: a.mailbox.address,
      transport: 'graph', graph: { requestId: ctx.requestId, clientRequestId: ctx.clientRequestId, via, saveToSentItems },
    });
    rt.stats.messagesAccepted++;
    rt.stats.graphMessagesAccepted++;
    Object.assign(ctx.entry, { status: 202, messageId: id });
    rt.say(`graph ${ctx.endpoint}: message ${id} accepted from ${a.mailbox.address} to ${recipients.length} recipient(s), ${copy.raw.length} bytes`);
    return ctx.c.body(null, 202, baseHeaders(ctx));
  }

  /** A JSON body: `undefined` and an answer when it is empty or not JSON. */
  function jsonBody(ctx: RequestCtx, body: Buffer): { ok: true; value: unknown } | { ok: false; response: Response } {
    const text = body.toString('utf8').trim();
    if (!text) return { ok: false, response: fail(ctx, GRAPH_ERRORS.emptyPayload, 'the JSON body is empty') };
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      return { ok: false, response: fail(ctx, GRAPH_ERRORS.invalidJson, 'the body is not JSON') };
    }
  }

  type MessageInput = { ok: true; kind: 'mime'; raw: Buffer } | { ok: true; kind: 'json'; message: GraphMessage; saveToSentItems: boolean } | { ok: false; response: Response };

  /** Reads a message body as sendMail and draft creation take it: base64 MIME or JSON (`wrapped`: `{message: ...}`). */
  function messageInput(ctx: RequestCtx, body: Buffer, wrapped: boolean): MessageInput {
    const type = (ctx.c.req.header('content-type') ?? '').toLowerCase();
    if (type.startsWith('text/plain')) {
      const raw = decodeBase64Mime(body.toString('latin1'));
      if (!raw) return { ok: false, response: fail(ctx, GRAPH_ERRORS.invalidBase64, 'the text/plain body is not base64') };
      if (!parseMime(raw)) return { ok: false, response: fail(ctx, GRAPH_ERRORS.invalidMime, 'the decoded MIME message has no header fields') };
      return { ok: true, kind: 'mime', raw };
    }
    if (!type.startsWith('application/json')) return { ok: false, response: fail(ctx, GRAPH_ERRORS.unsupportedMediaType, `Content-Type ${type || '(none)'}`) };
    const json = jsonBody(ctx, body);
    if (!json.ok) return json;
    const schema = wrapped ? z.object({ message: graphMessageSchema, saveToSentItems: z.boolean().optional() }) : graphMessageSchema.transform((message) => ({ message, saveToSentItems: true }));
    const parsed = schema.safeParse(json.value);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      return { ok: false, response: fail(ctx, invalidRequest(`The request body is not a valid ${wrapped ? 'sendMail request' : 'message'}: ${problems}`), problems) };
    }
    const header = parsed.data.message.internetMessageHeaders?.find((h) => !/^x-/i.test(h.name));
    if (header) {
      return { ok: false, response: fail(ctx, { status: 400, code: 'InvalidInternetMessageHeader', message: '' }, `header ${header.name} is not an x- header`,
        `The internet message header name '${header.name}' should start with 'x-' or 'X-'.`) };
    }
    return { ok: true, kind: 'json', message: parsed.data.message, saveToSentItems: parsed.data.saveToSentItems ?? true };
  }

  function jsonAttachments(ctx: RequestCtx, message: GraphMessage) {
    const attachments = decodeAttachments(message.attachments);
    return attachments ? { ok: true as const, attachments } : { ok: false as const, response: fail(ctx, invalidRequest('An attachment\'s contentBytes is not base64.'), 'contentBytes is not base64') };
  }

  const composeJson = (message: GraphMessage, from: string, attachments: ReturnType<typeof decodeAttachments> & object) =>
    draftToMime({ id: '', mailbox: from, createdAt: '', changeKey: '', source: { kind: 'json', message, attachments }, attachments: [], messageId: newMessageId() }, from, new Date());

  return { begin, baseHeaders, fail, refused, faultAnswer, userRequest, newMessageId, accept, jsonBody, messageInput, jsonAttachments, composeJson };
}

export type GraphRequestKit = ReturnType<typeof graphRequestKit>;
