/**
 * The drafts and upload sessions of the emulated Graph: `POST /users/{id}/messages` keeps a draft
 * (from JSON or from base64 MIME), `POST .../attachments` adds a small attachment,
 * `createUploadSession` opens a session with a pre-authenticated upload URL whose `PUT`s must
 * continue at the next expected byte, and `send` turns the draft with its attachments into one
 * raw message. In memory, bounded (oldest dropped), sessions expire after 24 hours as Outlook's do.
 *
 * Why it exists: messages over Graph's 4 MB request limit can only be sent this way
 * (docs/m365.md §6.2), and the product's Graph transport must be tested on it.
 *
 * Imports: node:crypto, ./graph-mime.ts.
 */
import { randomBytes } from 'node:crypto';
import { addAttachmentsToMime, composeFromJson, type AttachmentData, type GraphMessage } from './graph-mime.js';

export interface Draft {
  id: string;
  /** Lower-case mailbox address that owns the draft. */
  mailbox: string;
  createdAt: string;
  changeKey: string;
  source: { kind: 'json'; message: GraphMessage; attachments: AttachmentData[] } | { kind: 'mime'; raw: Buffer };
  /** Attachments added after creation (`POST .../attachments` or an upload session), in order. */
  attachments: Array<AttachmentData & { id: string }>;
  /** The Message-ID the sent message will carry when the source has none (JSON drafts). */
  messageId: string;
}

export interface UploadSession {
  id: string;
  /** The secret part of the upload URL (`?authtoken=`): the URL is the credential. */
  authtoken: string;
  draftId: string;
  mailbox: string;
  name: string;
  size: number;
  contentType: string;
  isInline: boolean;
  contentId?: string;
  received: Buffer[];
  receivedBytes: number;
  expires: number;
}

const MAX_DRAFTS = 500;
const SESSION_LIFETIME_MS = 24 * 3600_000;

/** An id shaped like Exchange's REST ids (`AAMkAG...`, URL-safe base64). */
export const newItemId = (): string => `AAMkAG${randomBytes(96).toString('base64url')}`;

export class DraftStore {
  readonly #drafts = new Map<string, Draft>();
  readonly #sessions = new Map<string, UploadSession>();

  create(input: Omit<Draft, 'id' | 'createdAt' | 'changeKey' | 'attachments'>): Draft {
    const draft: Draft = { ...input, id: newItemId(), createdAt: new Date().toISOString(), changeKey: randomBytes(12).toString('base64'), attachments: [] };
    this.#drafts.set(draft.id, draft);
    if (this.#drafts.size > MAX_DRAFTS) this.#drafts.delete(this.#drafts.keys().next().value!);
    return draft;
  }

  /** The draft with this id in this mailbox (a draft of another mailbox is not found, as in Exchange). */
  get(mailbox: string, id: string): Draft | undefined {
    const draft = this.#drafts.get(id);
    return draft && draft.mailbox === mailbox.toLowerCase() ? draft : undefined;
  }

  remove(id: string): void {
    this.#drafts.delete(id);
    for (const [sid, s] of this.#sessions) if (s.draftId === id) this.#sessions.delete(sid);
  }

  openSession(draft: Draft, a: { name: string; size: number; contentType: string; isInline: boolean; contentId?: string }): UploadSession {
    const session: UploadSession = {
      id: randomBytes(16).toString('base64url'), authtoken: randomBytes(32).toString('base64url'),
      draftId: draft.id, mailbox: draft.mailbox, ...a, received: [], receivedBytes: 0, expires: Date.now() + SESSION_LIFETIME_MS,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id and token (undefined when unknown, expired or the token is wrong). */
  session(id: string, authtoken: string): UploadSession | undefined {
    const s = this.#sessions.get(id);
    if (!s || s.authtoken !== authtoken) return undefined;
    if (s.expires <= Date.now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return s;
  }

  closeSession(id: string): void {
    this.#sessions.delete(id);
  }

  clear(): void {
    this.#drafts.clear();
    this.#sessions.clear();
  }
}

/** The raw message a draft sends: its source with every attachment in it (Bcc still present). */
export function draftToMime(draft: Draft, fromMailbox: string, now: Date): Buffer {
  if (draft.source.kind === 'mime') return addAttachmentsToMime(draft.source.raw, draft.attachments);
  return composeFromJson(draft.source.message, fromMailbox, draft.messageId, now, [...draft.source.attachments, ...draft.attachments]);
}

/** The size of a draft as Exchange counts it against MaxSendSize (the composed message). */
export function draftSize(draft: Draft): number {
  const source = draft.source.kind === 'mime' ? draft.source.raw.length : draft.source.attachments.reduce((n, a) => n + a.bytes.length, 0);
  return source + draft.attachments.reduce((n, a) => n + Math.ceil(a.bytes.length / 3) * 4, 0);
}
