/**
 * A relayed message (raw MIME with the client's envelope) made ready for Graph's MIME sendMail.
 *
 * Why: SMTP delivers to the envelope (RCPT TO), but Graph's sendMail takes the recipients from
 * the MIME headers (To, Cc, Bcc) and strips Bcc itself. The relay removes a client's `Bcc:` header
 * (its recipients stay in the envelope), so without this a Bcc recipient of a relayed message
 * would silently get nothing over Graph. Every envelope recipient the headers do not name is
 * added as a `Bcc:` line at the top; nothing else of the message changes.
 *
 * Imports: nothing (pure).
 */

const ADDRESS = /[^\s<>,;:"()[\]\\]+@[^\s<>,;:"()[\]\\]+/g;
const RECIPIENT_HEADER = /^(to|cc|bcc)\s*:/i;

/** The addresses named in the To, Cc and Bcc headers of a raw message (lower case). */
export function headerRecipients(raw: Buffer): Set<string> {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const head = end === -1 ? text : text.slice(0, end);
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
  const found = new Set<string>();
  for (const line of unfolded) {
    if (!RECIPIENT_HEADER.test(line)) continue;
    for (const a of line.slice(line.indexOf(':') + 1).match(ADDRESS) ?? []) found.add(a.toLowerCase());
  }
  return found;
}

/** The raw message with a `Bcc:` line for the envelope recipients its headers do not name. */
export function withEnvelopeRecipients(raw: Buffer, envelopeTo: readonly string[]): Buffer {
  const named = headerRecipients(raw);
  const missing = [...new Set(envelopeTo.filter((a) => !named.has(a.toLowerCase())))];
  if (missing.length === 0) return raw;
  // Envelope addresses were checked at the boundary (no CR/LF, plain addr-spec); folded so no
  // line exceeds 998 characters.
  return Buffer.concat([Buffer.from(`Bcc: ${missing.join(',\r\n ')}\r\n`, 'latin1'), raw]);
}
