/**
 * Microsoft Graph's mail-sending surface as the emulator serves it, on the same HTTPS listener as
 * Entra (the ready line's `graph` is the root, like `https://graph.microsoft.com`):
 *  - `POST /v1.0/users/{id | userPrincipalName}/sendMail`: base64 MIME (`Content-Type: text/plain`)
 *    or JSON (`{"message": ..., "saveToSentItems": ...}`) → `202 Accepted`, empty body;
 *  - `POST /v1.0/users/{id}/messages` (a draft, JSON or MIME; needs Mail.ReadWrite) → 201;
 *  - `POST /v1.0/users/{id}/messages/{draft}/attachments` (a small file attachment) → 201;
 *  - `POST /v1.0/users/{id}/messages/{draft}/attachments/createUploadSession` → 201 with `uploadUrl`;
 *  - `PUT {uploadUrl}` with `Content-Range: bytes a-b/total` and no Authorization → 200, the last 201;
 *  - `POST /v1.0/users/{id}/messages/{draft}/send` (needs Mail.Send) → 202.
 * Every answer carries `request-id` and `client-request-id` (the client's, else the request id).
 *
 * Order of a `/v1.0/users/...` request: 4 MB body limit (413) → scripted `graphError` fault →
 * token (401) → permission anywhere (403) → mailbox (404) → grant on the mailbox (403) → the
 * 4-concurrent-requests limit per app and mailbox (429 `MailboxConcurrency`, `Retry-After: 1`)
 * → scripted delay/drop → the request's own checks (400/403/413) → answer. The decisions live in
 * graph-access.ts; error texts in graph-errors.ts.
 *
 * Why it exists: the product's Graph transport must be tested over real HTTPS against answers
 * shaped like Graph's, with the tenant state deciding, like the SMTP side.
 *
 * Imports: hono, ./http-runtime.ts, ./graph-*.ts, ./access-token.ts, ./send-rules.ts, ./ids.ts.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { verifyAccessToken, type AccessTokenClaims } from './access-token.js';
import type { GraphLogEntry } from './activity-log.js';
import type { GraphEndpoint } from './faults.js';
import { bearerToken, decideGraphToken, decideMailboxAccess, holdsPermission, resolveGraphMailbox, type GraphPermission, type GraphRefusal } from './graph-access.js';
import { draftSize, draftToMime, type Draft } from './graph-drafts.js';
import { faultError, GRAPH_ERRORS, graphErrorBody, type GraphErrorSpec } from './graph-errors.js';
import { decodeAttachments, decodeBase64Mime, fileAttachmentSchema, graphMessageSchema, parseMime, recipientsJson, storedCopy, type GraphMessage } from './graph-mime.js';
import type { HttpRuntime } from './http-runtime.js';
import { newGuid, newShortId } from './ids.js';
import { decideSendAs } from './send-rules.js';
import type { MailboxState, TenantState } from './state.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const GRAPH_APP_FOR_WWW_AUTHENTICATE = '00000003-0000-0000-c000-000000000000';
/** Outlook's minimum for an upload session (smaller attachments go inline), and its maximum. */
const MIN_UPLOAD_SESSION_BYTES = 3 * 1024 * 1024;
const MAX_UPLOAD_SESSION_BYTES = 150 * 1024 * 1024;
const UPLOAD_CHUNK_LIMIT = 4 * 1024 * 1024;

interface RequestCtx {
  c: Context;
  endpoint: GraphEndpoint | 'other';
  requestId: string;
  clientRequestId: string;
  entry: GraphLogEntry;
}

interface Authorized {
  claims: AccessTokenClaims;
  tenant: TenantState;
  mailbox: MailboxState;
  body: Buffer;
}

/** The node response behind a Hono context (to drop the connection for the `graphDrop` fault). */
const nodeOf = (c: Context): { incoming?: IncomingMessage; outgoing?: ServerResponse } => (c.env ?? {}) as { incoming?: IncomingMessage; outgoing?: ServerResponse };

function dropConnection(c: Context): Response {
  const { incoming, outgoing } = nodeOf(c);
  (outgoing?.socket ?? incoming?.socket)?.destroy();
  return new Response(null, { status: 500 });
}

/** Reads the body up to `max` bytes (Content-Length checked first, before anything is read). */
async function readBody(c: Context, max: number): Promise<Buffer | 'too-large'> {
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

const CANONICAL_SEGMENTS = new Map(['v1.0', 'users', 'me', 'sendMail', 'messages', 'attachments', 'createUploadSession', 'send'].map((x) => [x.toLowerCase(), x]));

/**
 * Graph's paths are case-insensitive (`/sendmail` works like `/sendMail`); the router is not, so
 * the fixed segments of a `/v1.0/` path are put in canonical case (ids and addresses untouched).
 */
export function canonicalGraphPath(path: string): string {
  if (!/^\/v1\.0\//i.test(path)) return path;
  return path.split('/').map((segment, i, all) => {
    const canonical = CANONICAL_SEGMENTS.get(segment.toLowerCase());
    // Position 3 is the user (`/v1.0/users/{id}`) and 5 the message id: never rewritten.
    return canonical && !(all[2]?.toLowerCase() === 'users' && (i === 3 || i === 5)) ? canonical : segment;
  }).join('/');
}

const invalidRequest = (message: string): GraphErrorSpec => ({ status: 400, code: 'ErrorInvalidRequest', message });

export function graphRoutes(rt: HttpRuntime): Hono {
  const app = new Hono();
  const graphBase = () => rt.authorityHost;

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
      id, from: a.mailbox.address, to: recipients, raw: copy.raw, messageId: copy.messageId, authenticatedAs: a.mailbox.address,
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

  // ---- sendMail -------------------------------------------------------------------------------
  app.post('/v1.0/users/:user/sendMail', (c) => userRequest(c, 'sendMail', 'Mail.Send', async (ctx, a) => {
    const input = messageInput(ctx, a.body, true);
    if (!input.ok) return input.response;
    if (input.kind === 'mime') return accept(ctx, a, input.raw, 'sendMail-mime', true);
    const atts = jsonAttachments(ctx, input.message);
    if (!atts.ok) return atts.response;
    const raw = composeJson(input.message, a.mailbox.address, atts.attachments);
    return accept(ctx, a, raw, 'sendMail-json', input.saveToSentItems);
  }));

  const composeJson = (message: GraphMessage, from: string, attachments: ReturnType<typeof decodeAttachments> & object) =>
    draftToMime({ id: '', mailbox: from, createdAt: '', changeKey: '', source: { kind: 'json', message, attachments }, attachments: [], messageId: newMessageId() }, from, new Date());

  // ---- drafts and attachments -----------------------------------------------------------------
  function draftJson(draft: Draft, mailbox: MailboxState) {
    const parsed = parseMime(draftToMime(draft, mailbox.address, new Date(draft.createdAt)))!;
    const sender = recipientsJson(parsed.from.length ? parsed.from : [mailbox.address])[0];
    return {
      '@odata.context': `${graphBase()}/v1.0/$metadata#users('${encodeURIComponent(mailbox.address)}')/messages/$entity`,
      '@odata.etag': `W/"${draft.changeKey}"`,
      id: draft.id,
      createdDateTime: draft.createdAt,
      lastModifiedDateTime: new Date().toISOString(),
      changeKey: draft.changeKey,
      hasAttachments: draft.attachments.length > 0 || (draft.source.kind === 'json' && draft.source.attachments.length > 0),
      internetMessageId: parsed.messageId ?? draft.messageId,
      subject: parsed.subject ?? '',
      isDraft: true,
      isRead: true,
      sender: sender,
      from: sender,
      toRecipients: recipientsJson(parsed.to),
      ccRecipients: recipientsJson(parsed.cc),
      bccRecipients: recipientsJson(parsed.bcc),
    };
  }

  const findDraft = (ctx: RequestCtx, a: Authorized): Draft | Response =>
    rt.drafts.get(a.mailbox.address, ctx.c.req.param('message') ?? '') ?? fail(ctx, GRAPH_ERRORS.itemNotFound, `no draft ${String(ctx.c.req.param('message')).slice(0, 24)}... in ${a.mailbox.address}`);

  app.post('/v1.0/users/:user/messages', (c) => userRequest(c, 'createMessage', 'Mail.ReadWrite', async (ctx, a) => {
    const input = messageInput(ctx, a.body, false);
    if (!input.ok) return input.response;
    let draft: Draft;
    if (input.kind === 'mime') {
      draft = rt.drafts.create({ mailbox: a.mailbox.address.toLowerCase(), source: { kind: 'mime', raw: input.raw }, messageId: newMessageId() });
    } else {
      const atts = jsonAttachments(ctx, input.message);
      if (!atts.ok) return atts.response;
      draft = rt.drafts.create({ mailbox: a.mailbox.address.toLowerCase(), source: { kind: 'json', message: input.message, attachments: atts.attachments }, messageId: newMessageId() });
    }
    ctx.entry.status = 201;
    return c.json(draftJson(draft, a.mailbox), 201, { ...baseHeaders(ctx), Location: `${graphBase()}/v1.0/users/${encodeURIComponent(a.mailbox.address)}/messages/${draft.id}` });
  }));

  app.post('/v1.0/users/:user/messages/:message/attachments', (c) => userRequest(c, 'addAttachment', 'Mail.ReadWrite', async (ctx, a) => {
    const draft = findDraft(ctx, a);
    if (draft instanceof Response) return draft;
    if (!(ctx.c.req.header('content-type') ?? '').toLowerCase().startsWith('application/json')) return fail(ctx, GRAPH_ERRORS.unsupportedMediaType, 'an attachment is JSON');
    const json = jsonBody(ctx, a.body);
    if (!json.ok) return json.response;
    const parsed = fileAttachmentSchema.safeParse(json.value);
    const decoded = parsed.success ? decodeAttachments([parsed.data]) : undefined;
    if (!parsed.success || !decoded) return fail(ctx, invalidRequest('The request body is not a valid fileAttachment.'), 'not a fileAttachment with base64 contentBytes');
    const attachment = { ...decoded[0]!, id: `AAMkAG${newShortId()}${newShortId()}=` };
    draft.attachments.push(attachment);
    ctx.entry.status = 201;
    return c.json({
      '@odata.context': `${graphBase()}/v1.0/$metadata#users('${encodeURIComponent(a.mailbox.address)}')/messages('${draft.id}')/attachments/$entity`,
      '@odata.type': '#microsoft.graph.fileAttachment', id: attachment.id, lastModifiedDateTime: new Date().toISOString(),
      name: attachment.name, contentType: attachment.contentType, size: attachment.bytes.length, isInline: attachment.isInline,
    }, 201, baseHeaders(ctx));
  }));

  const uploadSessionRequest = z.object({
    AttachmentItem: z.object({
      attachmentType: z.literal('file').optional(),
      name: z.string().min(1).max(255),
      size: z.number().int().nonnegative(),
      contentType: z.string().max(255).optional(),
      isInline: z.boolean().optional(),
      contentId: z.string().max(255).optional(),
    }),
  });

  app.post('/v1.0/users/:user/messages/:message/attachments/createUploadSession', (c) => userRequest(c, 'createUploadSession', 'Mail.ReadWrite', async (ctx, a) => {
    const draft = findDraft(ctx, a);
    if (draft instanceof Response) return draft;
    const json = jsonBody(ctx, a.body);
    if (!json.ok) return json.response;
    const parsed = uploadSessionRequest.safeParse(json.value);
    if (!parsed.success) return fail(ctx, invalidRequest('The request body must be {"AttachmentItem": {"attachmentType": "file", "name", "size"}}.'), 'not an AttachmentItem');
    const item = parsed.data.AttachmentItem;
    if (item.size < MIN_UPLOAD_SESSION_BYTES) return fail(ctx, GRAPH_ERRORS.attachmentTooSmall, `${item.size} bytes: attachments under 3 MB are added inline`);
    if (item.size > MAX_UPLOAD_SESSION_BYTES) return fail(ctx, GRAPH_ERRORS.messageTooLarge, `${item.size} bytes exceed the upload session maximum of 150 MB`);
    const session = rt.drafts.openSession(draft, {
      name: item.name, size: item.size, contentType: item.contentType ?? 'application/octet-stream', isInline: item.isInline ?? false,
      ...(item.contentId ? { contentId: item.contentId } : {}),
    });
    ctx.entry.status = 201;
    const uploadUrl = `${graphBase()}/api/v2.0/Users('${a.claims.oid}@${a.tenant.id}')/Messages('${draft.id}')/AttachmentSessions('${session.id}')?authtoken=${session.authtoken}`;
    return c.json({
      '@odata.context': `${graphBase()}/v1.0/$metadata#microsoft.graph.uploadSession`,
      uploadUrl,
      expirationDateTime: new Date(session.expires).toISOString(),
      nextExpectedRanges: ['0-'],
    }, 201, baseHeaders(ctx));
  }));

  // The pre-authenticated upload URL (Outlook's host in Microsoft 365; this listener here).
  app.put('/api/v2.0/*', async (c) => {
    const ctx = begin(c, 'upload');
    const path = decodeURIComponent(new URL(c.req.url).pathname);
    const sessionId = /AttachmentSessions\('([^']+)'\)$/.exec(path)?.[1] ?? '';
    const faulted = faultAnswer(ctx, 'upload');
    if (faulted) return faulted;
    if (c.req.header('authorization')) return fail(ctx, GRAPH_ERRORS.uploadHasAuthorization, 'an Authorization header was sent to the pre-authenticated upload URL');
    const session = rt.drafts.session(sessionId, c.req.query('authtoken') ?? '');
    if (!session) return fail(ctx, GRAPH_ERRORS.itemNotFound, 'no live upload session with this id and authtoken');
    ctx.entry.mailbox = session.mailbox;
    const body = await readBody(c, UPLOAD_CHUNK_LIMIT);
    if (body === 'too-large') return fail(ctx, GRAPH_ERRORS.requestTooLarge, `a chunk over ${UPLOAD_CHUNK_LIMIT} bytes`, undefined, { Connection: 'close' });
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(c.req.header('content-range') ?? '');
    const [start, end, total] = range ? [Number(range[1]), Number(range[2]), Number(range[3])] : [NaN, NaN, NaN];
    if (!range || start !== session.receivedBytes || end - start + 1 !== body.length || total !== session.size || end >= total) {
      return fail(ctx, GRAPH_ERRORS.invalidRange, `Content-Range ${c.req.header('content-range') ?? '(none)'} with ${body.length} bytes; expected to start at ${session.receivedBytes} of ${session.size}`);
    }
    const delay = rt.faults.takeGraphDelay('upload');
    if (delay > 0) await sleep(delay);
    const drop = rt.faults.takeGraphDrop('upload');
    if (drop && !drop.accepted) {
      ctx.entry.reason = 'fault graphDrop: connection closed after the chunk, nothing was stored';
      return dropConnection(c);
    }
    session.received.push(body);
    session.receivedBytes += body.length;
    let response: Response;
    if (session.receivedBytes < session.size) {
      ctx.entry.status = 200;
      response = c.json({
        '@odata.context': `${graphBase()}/api/v2.0/$metadata#Microsoft.OutlookServices.UploadSession`,
        ExpirationDateTime: new Date(session.expires).toISOString(),
        NextExpectedRanges: [String(session.receivedBytes)],
      }, 200, baseHeaders(ctx));
    } else {
      rt.drafts.closeSession(session.id);
      const draft = rt.drafts.get(session.mailbox, session.draftId);
      const id = `AAMkAG${newShortId()}${newShortId()}=`;
      draft?.attachments.push({ id, name: session.name, contentType: session.contentType, bytes: Buffer.concat(session.received), isInline: session.isInline, ...(session.contentId ? { contentId: session.contentId } : {}) });
      ctx.entry.status = 201;
      response = c.body(null, 201, { ...baseHeaders(ctx), Location: `${graphBase()}/api/v2.0/Users('${session.mailbox}')/Messages('${session.draftId}')/Attachments('${id}')` });
    }
    if (drop) {
      ctx.entry.reason = 'fault graphDrop: the chunk was stored and the connection closed before the answer';
      return dropConnection(c);
    }
    return response;
  });

  app.post('/v1.0/users/:user/messages/:message/send', (c) => userRequest(c, 'send', 'Mail.Send', async (ctx, a) => {
    const draft = findDraft(ctx, a);
    if (draft instanceof Response) return draft;
    if (draftSize(draft) > rt.limits.maxMessageSize) return fail(ctx, GRAPH_ERRORS.messageTooLarge, `the draft's ${draftSize(draft)} bytes exceed MaxSendSize ${rt.limits.maxMessageSize}`);
    const response = await accept(ctx, a, draftToMime(draft, a.mailbox.address, new Date()), 'draft', true);
    if (response.status === 202) rt.drafts.remove(draft.id);
    return response;
  }));

  // ---- what app-only callers get wrong --------------------------------------------------------
  app.post('/v1.0/me/*', async (c) => {
    const ctx = begin(c, 'other');
    const token = bearerToken(c.req.header('authorization'));
    const verified = token ? verifyAccessToken(token, rt.signingKey, Math.floor(Date.now() / 1000)) : undefined;
    const auth = decideGraphToken(rt.getState(), token, verified);
    if (!auth.ok) return refused(ctx, auth);
    return fail(ctx, GRAPH_ERRORS.meWithAppToken, '/me with an app-only token (use /users/{Authorized from Address})');
  });

  app.all('/v1.0/*', (c) => {
    const ctx = begin(c, 'other');
    const segment = new URL(c.req.url).pathname.split('/').filter(Boolean).at(-1) ?? '';
    return fail(ctx, { status: 400, code: 'BadRequest', message: '' }, `no emulated Graph endpoint at ${c.req.method} ${new URL(c.req.url).pathname}`,
      `Resource not found for the segment '${segment}'.`);
  });

  return app;
}
