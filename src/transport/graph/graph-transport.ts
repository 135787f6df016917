/**
 * The Microsoft Graph transport: one composed MIME message → `POST {endpoint}/v1.0/users/
 * {Authorized from Address}/sendMail`, base64 with `Content-Type: text/plain` (docs/m365.md §6.1),
 * so the message, its Message-ID and its attachments are exactly those the SMTP path sends.
 *
 * - Our own `client-request-id` (a UUID) on every request; Graph's `202 Accepted` is the result,
 *   recorded with `request-id` and `client-request-id` (202 means accepted, not delivered).
 * - At most 4 requests in flight per app and mailbox, and Retry-After (429/503/504) holds every
 *   request of that mailbox (graph-gate.ts).
 * - A message whose base64 body exceeds Graph's 4 MB request limit goes as a draft (its MIME
 *   without the attachments, same Message-ID), its attachments (inline under 3 MB, by upload
 *   session above, in chunks to the pre-authenticated URL without our token), then `send`, when
 *   the token carries Mail.ReadWrite; otherwise it is not sent: GRAPH_TOO_LARGE, whose diagnosis
 *   names the ways out (SMTP or Automatic; grant Mail.ReadWrite).
 * - The token comes from the caller (`GraphAuthenticator`, wired in mailer.ts: transport/ never
 *   imports auth/). A 401 gets one fresh token and one more try, like SMTP's 535.
 *
 * Imports: src/core, src/net, this folder.
 */
import { randomUUID } from 'node:crypto';
import { MailgateError } from '../../core/errors.js';
import type { SendResult } from '../../core/ports.js';
import { httpsExchange, type HttpsExchangeResponse } from '../../net/https-exchange.js';
import { graphAnswerError, graphNetworkError, graphReplyOf } from './graph-errors.js';
import { graphGateFor, type GraphGate } from './graph-gate.js';

/** Graph's request limit (docs/m365.md §5.2): about 4 MB per request. */
export const GRAPH_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** The base64 length of `n` bytes. */
export const base64Length = (n: number): number => Math.ceil(n / 3) * 4;

export interface GraphAuthenticator {
  /** A Graph token (never an Outlook one: the caller asks its provider for the Graph scope). */
  token(fresh: boolean): Promise<string>;
  /** The `roles` of the last token handed out (Mail.ReadWrite allows the upload-session path). */
  roles?(): readonly string[] | undefined;
}

/** An attachment sent apart from the draft's MIME (upload-session path). */
export interface SeparateAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
  cid?: string;
}

export interface GraphTransportOptions {
  /** Scheme and host, e.g. https://graph.microsoft.com (no trailing slash, no path). */
  endpoint: string;
  /** The Authorized from Address: the mailbox in the URL. */
  mailbox: string;
  /** The app's client id (the concurrency limit is per app and mailbox). */
  clientId: string;
  ca?: string | Buffer;
  /** Idle timeout of a request (ms). Default 60 000. */
  timeoutMs?: number;
  /** Deadline of a whole request (ms). Default 120 000. */
  deadlineMs?: number;
  /** Wait at most this long for Graph's Retry-After before failing as transient. Default 30 000. */
  maxRetryAfterWaitMs?: number;
  /** A gate of its own (tests); default the process-wide one of this app and mailbox. */
  gate?: GraphGate;
  now?: () => number;
}

export interface GraphSendInput {
  raw: Buffer;
  messageId: string;
  /** The recipients (To, Cc, Bcc): reported as accepted on 202. */
  recipients: string[];
  /**
   * For a message over the request limit: the same message without its attachments (same
   * Message-ID) and the attachments, built on demand. With Mail.ReadWrite, Graph gets a draft
   * from that MIME, the attachments (inline under 3 MB, by upload session above), then `send`.
   */
  split?: () => Promise<{ raw: Buffer; attachments: SeparateAttachment[] }>;
}

/** Attachments of at least this size go by upload session (Graph: 3 MB to 150 MB). */
export const UPLOAD_SESSION_MIN_BYTES = 3 * 1024 * 1024;
/** Upload chunk size: a multiple of 320 KiB, under 4 MB (Graph's advice). */
export const UPLOAD_CHUNK_BYTES = 320 * 1024 * 10;

export class GraphTransport {
  readonly #o: GraphTransportOptions;
  readonly #auth: GraphAuthenticator;
  readonly #gate: GraphGate;
  readonly #url: string;
  readonly #host: string;
  readonly #now: () => number;
  #closed = false;

  constructor(options: GraphTransportOptions, auth: GraphAuthenticator) {
    this.#o = options;
    this.#auth = auth;
    this.#gate = options.gate ?? graphGateFor(options.clientId, options.mailbox);
    this.#url = `${options.endpoint.replace(/\/+$/, '')}/v1.0/users/${encodeURIComponent(options.mailbox)}/sendMail`;
    this.#host = new URL(options.endpoint).host;
    this.#now = options.now ?? Date.now;
  }

  /** The most requests ever in flight at once for this app and mailbox. */
  get peakConcurrent(): number {
    return this.#gate.peak;
  }

  get activeRequests(): number {
    return this.#gate.active;
  }

  async send(input: GraphSendInput): Promise<SendResult> {
    const context = { messageId: input.messageId, authorizedFrom: this.#o.mailbox, graphHost: this.#host, transport: 'graph' };
    if (this.#closed) {
      throw new MailgateError({ code: 'INTERRUPTED', phase: 'send', retryable: true, message: 'The Graph transport was closed (settings changed or the service is stopping); nothing was sent', context: { ...context, notSent: true } });
    }
    const bodyBytes = base64Length(input.raw.length);
    if (bodyBytes > GRAPH_MAX_REQUEST_BYTES && input.split) {
      // The upload-session path needs Mail.ReadWrite; the token's roles say whether it is there.
      await this.#auth.token(false);
      if (this.#auth.roles?.()?.includes('Mail.ReadWrite')) return this.#sendByUploadSession(input, await input.split(), context);
    }
    if (bodyBytes > GRAPH_MAX_REQUEST_BYTES) {
      throw new MailgateError({
        code: 'GRAPH_TOO_LARGE',
        phase: 'send',
        retryable: false,
        message: `The message is ${(input.raw.length / 1048576).toFixed(1)} MB (${(bodyBytes / 1048576).toFixed(1)} MB as the base64 body of sendMail), over Microsoft Graph's 4 MB request limit; nothing was sent`,
        context: { ...context, notSent: true, messageBytes: input.raw.length },
      });
    }
    const body = Buffer.from(input.raw.toString('base64'), 'latin1');
    const release = await this.#gate.acquire();
    try {
      let fresh = false;
      for (let attempt = 1; ; attempt++) {
        await this.#waitRetryAfter(context);
        const token = await this.#auth.token(fresh);
        const clientRequestId = randomUUID();
        let res: HttpsExchangeResponse;
        try {
          res = await httpsExchange(this.#url, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'text/plain',
              'client-request-id': clientRequestId,
              'return-client-request-id': 'true',
            },
            body,
            ca: this.#o.ca,
            timeoutMs: this.#o.timeoutMs ?? 60_000,
            deadlineMs: this.#o.deadlineMs ?? 120_000,
          });
        } catch (error) {
          throw graphNetworkError(error, this.#host, { ...context, clientRequestId });
        }
        if (res.status === 202) {
          const requestId = /^[A-Za-z0-9-]{1,80}$/.test(res.headers['request-id'] ?? '') ? res.headers['request-id'] : undefined;
          return {
            messageId: input.messageId,
            response: `202 Accepted${requestId ? ` request-id=${requestId}` : ''} client-request-id=${clientRequestId}`,
            accepted: input.recipients,
            rejected: [],
            transport: 'graph',
            requestId,
            clientRequestId,
          };
        }
        const reply = graphReplyOf(res.status, res.headers, res.body, clientRequestId);
        if ((res.status === 429 || res.status === 503 || res.status === 504) && reply.retryAfterSeconds !== undefined) {
          this.#gate.block(this.#now() + Math.min(reply.retryAfterSeconds, 3600) * 1000);
        }
        // One fresh token after a 401 (expired or revoked while cached), as SMTP does after 535.
        if (res.status === 401 && attempt === 1) {
          fresh = true;
          continue;
        }
        throw graphAnswerError(reply, context);
      }
    } finally {
      release();
    }
  }

  /**
   * One Graph API request under the gate (≤ 4 in flight, Retry-After), with one fresh token
   * after a 401. `bearer: false` for the pre-authenticated upload URL (no Authorization header).
   */
  async #request(url: string, method: 'POST' | 'PUT', body: Buffer, headers: Record<string, string>, context: Record<string, string | number | boolean | undefined>, bearer = true): Promise<{ res: HttpsExchangeResponse; clientRequestId: string }> {
    const release = await this.#gate.acquire();
    try {
      let fresh = false;
      for (let attempt = 1; ; attempt++) {
        await this.#waitRetryAfter(context);
        const clientRequestId = randomUUID();
        const auth: Record<string, string> = bearer ? { authorization: `Bearer ${await this.#auth.token(fresh)}` } : {};
        let res: HttpsExchangeResponse;
        try {
          res = await httpsExchange(url, { method, headers: { ...auth, ...headers, 'client-request-id': clientRequestId, 'return-client-request-id': 'true' }, body, ca: this.#o.ca, timeoutMs: this.#o.timeoutMs ?? 60_000, deadlineMs: this.#o.deadlineMs ?? 120_000 });
        } catch (error) {
          throw graphNetworkError(error, this.#host, { ...context, clientRequestId });
        }
        if (res.status < 300) return { res, clientRequestId };
        const reply = graphReplyOf(res.status, res.headers, res.body, clientRequestId);
        if ((res.status === 429 || res.status === 503 || res.status === 504) && reply.retryAfterSeconds !== undefined) this.#gate.block(this.#now() + Math.min(reply.retryAfterSeconds, 3600) * 1000);
        if (res.status === 401 && bearer && attempt === 1) {
          fresh = true;
          continue;
        }
        throw graphAnswerError(reply, context);
      }
    } finally {
      release();
    }
  }

  /**
   * Draft + attachments + send, for a message over the request limit (docs/m365.md §6.2). Every
   * step before `send` leaves nothing sent (a failure there is certainly not a delivery: the
   * error says notSent); only `send` itself can have an unknown outcome.
   */
  async #sendByUploadSession(input: GraphSendInput, split: { raw: Buffer; attachments: SeparateAttachment[] }, context: Record<string, string | number | boolean | undefined>): Promise<SendResult> {
    const base = `${this.#o.endpoint.replace(/\/+$/, '')}/v1.0/users/${encodeURIComponent(this.#o.mailbox)}/messages`;
    if (base64Length(split.raw.length) > GRAPH_MAX_REQUEST_BYTES) {
      throw new MailgateError({ code: 'GRAPH_TOO_LARGE', phase: 'send', retryable: false, message: 'The message without its attachments is still over Microsoft Graph\'s 4 MB request limit; nothing was sent', context: { ...context, notSent: true } });
    }
    const unsent = (e: unknown) => (e instanceof MailgateError ? new MailgateError({ code: e.code === 'GRAPH_OUTCOME_UNKNOWN' ? 'GRAPH_TRANSIENT' : e.code, phase: e.phase, message: `${e.message} (while preparing the draft; nothing was sent)`, retryable: e.code === 'GRAPH_OUTCOME_UNKNOWN' ? true : e.retryable, graph: e.graph, context: { ...e.context, notSent: true, uploadSession: true }, cause: e.cause }) : e);
    let draftId: string;
    try {
      const created = await this.#request(base, 'POST', Buffer.from(split.raw.toString('base64'), 'latin1'), { 'content-type': 'text/plain' }, context);
      draftId = String((JSON.parse(created.res.body) as { id?: unknown }).id ?? '');
      if (!/^[A-Za-z0-9_=+/-]{1,512}$/.test(draftId)) throw new MailgateError({ code: 'GRAPH_REJECTED', phase: 'send', message: 'Microsoft Graph created the draft without a usable id', context });
      const draftUrl = `${base}/${encodeURIComponent(draftId)}`;
      for (const a of split.attachments) {
        if (a.content.length < UPLOAD_SESSION_MIN_BYTES) {
          const json = JSON.stringify({ '@odata.type': '#microsoft.graph.fileAttachment', name: a.filename, contentType: a.contentType, contentBytes: a.content.toString('base64'), ...(a.cid ? { contentId: a.cid, isInline: true } : {}) });
          await this.#request(`${draftUrl}/attachments`, 'POST', Buffer.from(json), { 'content-type': 'application/json' }, context);
          continue;
        }
        const item = JSON.stringify({ AttachmentItem: { attachmentType: 'file', name: a.filename, size: a.content.length, contentType: a.contentType, ...(a.cid ? { contentId: a.cid, isInline: true } : {}) } });
        const session = await this.#request(`${draftUrl}/attachments/createUploadSession`, 'POST', Buffer.from(item), { 'content-type': 'application/json' }, context);
        const uploadUrl = String((JSON.parse(session.res.body) as { uploadUrl?: unknown }).uploadUrl ?? '');
        // The upload URL is pre-authenticated and must be on the Graph endpoint's own host: the
        // file goes nowhere else (and never with our token).
        if (!uploadUrl.startsWith('https://') || new URL(uploadUrl).host !== this.#host) {
          throw new MailgateError({ code: 'GRAPH_REJECTED', phase: 'send', message: `Microsoft Graph gave an upload URL on another host (${uploadUrl ? new URL(uploadUrl).host : 'none'}); nothing was uploaded`, context });
        }
        for (let start = 0; start < a.content.length; start += UPLOAD_CHUNK_BYTES) {
          const chunk = a.content.subarray(start, Math.min(start + UPLOAD_CHUNK_BYTES, a.content.length));
          await this.#request(uploadUrl, 'PUT', chunk, { 'content-type': 'application/octet-stream', 'content-range': `bytes ${start}-${start + chunk.length - 1}/${a.content.length}` }, context, false);
        }
      }
    } catch (e) {
      throw unsent(e);
    }
    const sent = await this.#request(`${base}/${encodeURIComponent(draftId)}/send`, 'POST', Buffer.alloc(0), {}, context);
    const requestId = /^[A-Za-z0-9-]{1,80}$/.test(sent.res.headers['request-id'] ?? '') ? sent.res.headers['request-id'] : undefined;
    return {
      messageId: input.messageId,
      response: `202 Accepted (draft with upload session)${requestId ? ` request-id=${requestId}` : ''} client-request-id=${sent.clientRequestId}`,
      accepted: input.recipients,
      rejected: [],
      transport: 'graph',
      requestId,
      clientRequestId: sent.clientRequestId,
    };
  }

  /** Hold a request while Graph's Retry-After runs; past maxRetryAfterWaitMs, fail it unsent. */
  async #waitRetryAfter(context: Record<string, string | number | boolean | undefined>): Promise<void> {
    const waitMs = this.#gate.blockedUntil - this.#now();
    if (waitMs <= 0) return;
    if (waitMs > (this.#o.maxRetryAfterWaitMs ?? 30_000)) {
      throw new MailgateError({
        code: 'GRAPH_TRANSIENT',
        phase: 'send',
        retryable: true,
        message: `Microsoft Graph asked to wait (Retry-After) another ${Math.ceil(waitMs / 1000)} s for this mailbox; nothing was sent`,
        graph: { status: 429, retryAfterSeconds: Math.ceil(waitMs / 1000) },
        context: { ...context, notSent: true },
      });
    }
    await new Promise((r) => setTimeout(r, waitMs));
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
