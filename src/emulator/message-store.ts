/**
 * Keeps the messages the emulated Exchange accepted (by SMTP or by Graph, marked `transport`):
 * the envelope, a summary (subject, Message-ID) and the raw message as received. In memory (capped: oldest dropped first) and,
 * when a data directory was given, also on disk as `<dataDir>/messages/<id>.eml` + `<id>.json`.
 *
 * Why it exists: tests and `mailgate dev` read what was "sent" through `GET {admin}/messages`,
 * `messages()` and `rawMessage(id)`.
 *
 * Imports: node built-ins, ./message-headers.ts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeEncodedWords, headerValue, parseHeaderFields } from './message-headers.js';

/** A stored message as listed by the admin API. */
export interface StoredMessageSummary {
  id: string;
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipients (RCPT TO). */
  to: string[];
  subject: string;
  /** The Message-ID header (angle brackets included), or the one Exchange assigned. */
  messageId: string;
  receivedAt: string;
  size: number;
  /** The mailbox the session authenticated as (for Graph: the mailbox of `/users/{id}`). */
  authenticatedAs: string;
  /** How the message came in: SMTP AUTH submission or Microsoft Graph (`sendMail` or a sent draft). */
  transport: 'smtp' | 'graph';
  /** Graph only: the `request-id` of the request that sent it, and whether a copy went to Sent Items. */
  graph?: { requestId: string; clientRequestId: string; via: 'sendMail-mime' | 'sendMail-json' | 'draft'; saveToSentItems: boolean };
}

interface StoredMessage extends StoredMessageSummary {
  raw: Buffer;
}

export class MessageStore {
  readonly #messages: StoredMessage[] = [];
  readonly #maxMessages: number;
  readonly #directory: string | undefined;
  #directoryReady: Promise<unknown> | undefined;

  /**
   * @param maxMessages how many messages to keep in memory (0 keeps none)
   * @param directory where to write messages too (`<dataDir>/messages`), or undefined
   */
  constructor(maxMessages: number, directory: string | undefined) {
    this.#maxMessages = maxMessages;
    this.#directory = directory;
  }

  /** Stores an accepted message; resolves once it is on disk (when a directory is configured). */
  async add(input: { id: string; from: string; to: string[]; raw: Buffer; messageId: string; authenticatedAs: string; transport?: 'smtp' | 'graph'; graph?: StoredMessageSummary['graph'] }): Promise<StoredMessageSummary> {
    const fields = parseHeaderFields(input.raw);
    const summary: StoredMessageSummary = {
      id: input.id,
      from: input.from,
      to: input.to,
      subject: decodeEncodedWords(headerValue(fields, 'subject') ?? ''),
      messageId: input.messageId,
      receivedAt: new Date().toISOString(),
      size: input.raw.length,
      authenticatedAs: input.authenticatedAs,
      transport: input.transport ?? 'smtp',
      ...(input.graph ? { graph: input.graph } : {}),
    };
    if (this.#maxMessages > 0) {
      this.#messages.push({ ...summary, raw: input.raw });
      if (this.#messages.length > this.#maxMessages) this.#messages.splice(0, this.#messages.length - this.#maxMessages);
    }
    if (this.#directory) {
      this.#directoryReady ??= mkdir(this.#directory, { recursive: true });
      await this.#directoryReady;
      await Promise.all([
        writeFile(join(this.#directory, `${input.id}.eml`), input.raw),
        writeFile(join(this.#directory, `${input.id}.json`), JSON.stringify(summary, null, 2)),
      ]);
    }
    return summary;
  }

  list(): StoredMessageSummary[] {
    return this.#messages.map(({ raw: _raw, ...summary }) => summary);
  }

  raw(id: string): Buffer | undefined {
    return this.#messages.find((m) => m.id === id)?.raw;
  }

  clear(): void {
    this.#messages.length = 0;
  }
}
