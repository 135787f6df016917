/**
 * Reads the few header fields the emulator needs from a raw RFC 5322 message: From (for the
 * SendAs rule), Subject (decoded from RFC 2047 encoded-words) and Message-ID.
 *
 * Why it exists: SendAs is judged on the From header, and the admin API lists subjects and
 * message ids; a full MIME parser is not needed for that.
 *
 * Imports: nothing.
 */

/** The unfolded header fields of a message, names lower-cased, in order. */
export function parseHeaderFields(raw: Buffer): Array<{ name: string; value: string }> {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const block = end === -1 ? text : text.slice(0, end);
  const fields: Array<{ name: string; value: string }> = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) {
      fields[fields.length - 1]!.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon > 0) fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return fields;
}

export function headerValue(fields: Array<{ name: string; value: string }>, name: string): string | undefined {
  return fields.find((f) => f.name === name)?.value;
}

/** Decodes RFC 2047 encoded-words (`=?utf-8?B?...?=` / `=?utf-8?Q?...?=`). */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_all, charset: string, encoding: string, text: string) => {
      const bytes = encoding.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
      try {
        return new TextDecoder(charset.toLowerCase()).decode(bytes);
      } catch {
        return bytes.toString('utf8');
      }
    });
}

/** The bare addresses in an address-list header value (`"Name" <a@b>, c@d`). */
export function parseAddresses(value: string | undefined): string[] {
  if (!value) return [];
  const angle = [...value.matchAll(/<([^<>\s]+@[^<>\s]+)>/g)].map((m) => m[1]!);
  if (angle.length) return angle;
  return value.split(',').map((s) => s.trim().replace(/^.*\s/, '')).filter((s) => s.includes('@'));
}
