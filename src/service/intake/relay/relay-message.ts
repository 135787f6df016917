/**
 * What the relay does to a received message before storing it, and nothing more (issue 14 §4):
 * a `Received:` line, a `Message-ID` and a `Date` when missing, `Bcc:` removed, and, for a
 * client with `--from-policy rewrite`, a header From it may not use replaced (the original
 * moved to `Reply-To` when there is none). Every other byte stays as received: MIME structure,
 * attachments, S/MIME signatures.
 *
 * Why byte slices: the header is scanned as latin1 (one character per byte), so every original
 * field is copied as the exact bytes it arrived as; nothing is re-encoded or re-folded.
 *
 * Imports: none (pure functions on Buffers).
 */

export interface HeaderField {
  /** Lower-case field name; '' for a line that is not a field (kept as is). */
  name: string;
  /** Byte offsets of the whole field (continuation lines and the final CRLF included). */
  start: number;
  end: number;
  /** The unfolded value (latin1 text), without the name and colon. */
  value: string;
}

export interface ParsedMessage {
  fields: HeaderField[];
  /** Offset of the blank line separating header and body (or the end when there is none). */
  headerEnd: number;
}

/** Bare LF or bare CR becomes CRLF (RFC 5322 line ends); a message already in CRLF is returned as is. */
export function normaliseLineEnds(data: Buffer): Buffer {
  let bare = false;
  for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) {
    if (i === 0 || data[i - 1] !== 13) {
      bare = true;
      break;
    }
  }
  if (!bare) {
    for (let i = data.indexOf(13); i !== -1; i = data.indexOf(13, i + 1)) {
      if (data[i + 1] !== 10) {
        bare = true;
        break;
      }
    }
  }
  if (!bare) return data;
  return Buffer.from(data.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
}

/** Split the header into fields (byte offsets). */
export function parseHeader(message: Buffer): ParsedMessage {
  const text = message.toString('latin1', 0, Math.min(message.length, headerEndOf(message) + 2));
  const headerEnd = headerEndOf(message);
  const fields: HeaderField[] = [];
  let pos = 0;
  while (pos < headerEnd) {
    let lineEnd = text.indexOf('\r\n', pos);
    if (lineEnd === -1 || lineEnd > headerEnd) lineEnd = headerEnd;
    let end = lineEnd + 2;
    // Continuation lines (starting with space or tab) belong to this field.
    while (end < headerEnd && (text[end] === ' ' || text[end] === '\t')) {
      const next = text.indexOf('\r\n', end);
      end = (next === -1 || next > headerEnd ? headerEnd : next) + 2;
    }
    end = Math.min(end, headerEnd + 2, message.length);
    const raw = text.slice(pos, end);
    const m = /^([!-9;-~]+)[ \t]*:/.exec(raw);
    fields.push({ name: m ? m[1].toLowerCase() : '', start: pos, end, value: m ? raw.slice(m[0].length).replace(/\r\n/g, '').trim() : '' });
    pos = end;
  }
  return { fields, headerEnd };
}

/** Offset of the CRLF that ends the header's last line + ... : the index of the empty line. */
function headerEndOf(message: Buffer): number {
  if (message.length >= 2 && message[0] === 13 && message[1] === 10) return 0;
  const i = message.indexOf('\r\n\r\n');
  return i === -1 ? message.length : i + 2;
}

/** Addresses in a From/To-like value: each `<...>`, or the bare tokens with an @. */
export function addressesOf(value: string): string[] {
  const noComments = value.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\([^()]*\)/g, '');
  const angled = [...noComments.matchAll(/<([^<>]*)>/g)].map((m) => m[1].trim());
  if (angled.length) return angled.filter((a) => a.length > 0);
  return noComments.split(',').map((s) => s.trim()).filter((s) => s.includes('@'));
}

export interface PrepareInput {
  message: Buffer;
  /** The relay's Received: line (without the field name), built by the caller. */
  received: string;
  /** Message-ID to add when the message has none (`<id@domain>`). */
  messageId: string;
  now: Date;
  envelopeFrom: string;
  /** Whether the client may use a header From address. */
  mayUse: (address: string) => boolean;
  fromPolicy: 'reject' | 'rewrite';
  /** The address a rewritten From gets. */
  rewriteTo?: string;
}

export type PrepareResult =
  | { ok: true; message: Buffer; messageId: string; subject: string; rewritten: boolean }
  | { ok: false; refusedFrom: string };

/** RFC 5322 date-time in UTC. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, '+0000');
}

/** The stored message: see the module comment. */
export function prepareRelayMessage(input: PrepareInput): PrepareResult {
  const { message } = input;
  const { fields, headerEnd } = parseHeader(message);
  const find = (name: string) => fields.find((f) => f.name === name);
  const from = find('from');
  const added: string[] = [`Received: ${input.received}`];
  const removed = new Set<HeaderField>(fields.filter((f) => f.name === 'bcc'));
  let replaceFrom: string | undefined;
  let rewritten = false;

  const fromAddresses = from ? addressesOf(from.value) : [];
  const refused = from ? (fromAddresses.length === 0 ? from.value || '(empty)' : fromAddresses.find((a) => !input.mayUse(a))) : undefined;
  if (refused !== undefined) {
    if (input.fromPolicy !== 'rewrite' || !input.rewriteTo) return { ok: false, refusedFrom: refused };
    const display = /^(.*?)<[^<>]*>\s*$/.exec(from!.value)?.[1]?.trim();
    replaceFrom = `From: ${display ? `${display} ` : ''}<${input.rewriteTo}>\r\n`;
    if (!find('reply-to')) added.push(`Reply-To: ${from!.value}`);
    rewritten = true;
  }
  // A message without From gets the envelope sender (checked at MAIL FROM), as Exchange requires one.
  if (!from) added.push(`From: <${input.envelopeFrom}>`);
  const existingId = find('message-id');
  const messageId = existingId && /^<[^<>\s]+>$/.test(existingId.value) ? existingId.value : input.messageId;
  if (!existingId) added.push(`Message-ID: ${input.messageId}`);
  if (!find('date')) added.push(`Date: ${rfc5322Date(input.now)}`);

  const parts: Buffer[] = [Buffer.from(added.map((l) => `${l}\r\n`).join(''), 'latin1')];
  let pos = 0;
  for (const f of fields) {
    if (removed.has(f) || (replaceFrom !== undefined && f === from)) {
      if (f.start > pos) parts.push(message.subarray(pos, f.start));
      if (f === from) parts.push(Buffer.from(replaceFrom!, 'latin1'));
      pos = f.end;
    }
  }
  if (headerEnd === message.length && message.length > 0 && !message.subarray(-2).equals(Buffer.from('\r\n'))) {
    // A message that is all header without a final line end: keep it, end its last line.
    parts.push(message.subarray(pos), Buffer.from('\r\n'));
  } else {
    parts.push(message.subarray(pos));
  }
  const subject = find('subject')?.value ?? '';
  return { ok: true, message: Buffer.concat(parts), messageId, subject, rewritten };
}
