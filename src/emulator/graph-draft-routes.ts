/**
 * The emulated Graph's path for messages over its 4 MB request limit (docs/m365.md §6.2):
 *  - `POST /v1.0/users/{id}/messages` (a draft, JSON or base64 MIME; needs Mail.ReadWrite) → 201;
 *  - `POST /v1.0/users/{id}/messages/{draft}/attachments` (a small file attachment) → 201;
 *  - `POST /v1.0/users/{id}/messages/{draft}/attachments/createUploadSession` (3–150 MB) → 201 with `uploadUrl`;
 *  - `PUT {uploadUrl}` with `Content-Range: bytes a-b/total`, ≤ 4 MB, no Authorization → 200, the last 201;
 *  - `POST /v1.0/users/{id}/messages/{draft}/send` (needs Mail.Send) → 202.
 * The upload URL is on this listener (`/api/v2.0/Users('...')/Messages('...')/AttachmentSessions('...')?authtoken=`),
 * where Microsoft 365 uses Outlook's host; the authtoken is the credential and is never logged.
 *
 * Why it exists: the product's Graph transport sends large messages this way and must be tested on it.
 *
 * Imports: hono, zod, ./graph-request.ts, ./graph-drafts.ts, ./graph-errors.ts, ./graph-mime.ts,
 * ./http-runtime.ts (types), ./ids.ts, ./state.ts (types).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { draftSize, draftToMime, type Draft } from './graph-drafts.js';
import { GRAPH_ERRORS } from './graph-errors.js';
import { decodeAttachments, fileAttachmentSchema, parseMime, recipientsJson } from './graph-mime.js';
import { dropConnection, invalidRequest, readBody, sleep, type Authorized, type GraphRequestKit, type RequestCtx } from './graph-request.js';
import type { HttpRuntime } from './http-runtime.js';
import { newShortId } from './ids.js';
import type { MailboxState } from './state.js';

/** Outlook's minimum for an upload session (smaller attachments go inline), and its maximum. */
const MIN_UPLOAD_SESSION_BYTES = 3 * 1024 * 1024;
const MAX_UPLOAD_SESSION_BYTES = 150 * 1024 * 1024;
const UPLOAD_CHUNK_LIMIT = 4 * 1024 * 1024;

export function graphDraftRoutes(rt: HttpRuntime, kit: GraphRequestKit): Hono {
  const app = new Hono();
  const graphBase = () => rt.authorityHost;
  const { begin, baseHeaders, fail, faultAnswer, userRequest, newMessageId, accept, jsonBody, messageInput, jsonAttachments } = kit;

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

  return app;
}
