/**
 * Secret: a string that cannot leak by accident.
 *
 * Why: the client secret, certificate private keys, SMTP passwords and access tokens travel
 * through settings objects, errors and log calls. Wrapping them means `String(x)`,
 * `JSON.stringify(x)`, `console.log(x)` and pino all print `[redacted]`; only an explicit
 * `reveal()` at the point of use (the token request, the AUTH command) yields the value.
 *
 * Imports: nothing outside src/core (node:util only for the inspect symbol).
 */
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The plain value. Call only where the value must go on the wire. */
  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * Replace every occurrence of the given secret values in a text with `[redacted]`.
 * A last line of defence for texts that come from elsewhere (library error messages,
 * server replies) before they are shown or stored.
 */
/** The base64 forms of the secrets scrubbed lately (every log line and stored reply asks again). */
const base64Of = new Map<string, string>();

function base64Form(v: string): string {
  let b = base64Of.get(v);
  if (b === undefined) {
    if (base64Of.size >= 64) base64Of.clear();
    b = Buffer.from(v).toString('base64').replace(/=+$/, '');
    base64Of.set(v, b);
  }
  return b;
}

export function scrubText(text: string, secrets: Iterable<string | Secret | undefined>): string {
  let out = text;
  for (const s of secrets) {
    const v = s instanceof Secret ? s.reveal() : s;
    if (!v || v.length < 6) continue;
    out = out.split(v).join(REDACTED);
    // Also the base64 form (an XOAUTH2 string or Basic header may carry it encoded).
    const b64 = base64Form(v);
    if (b64.length >= 8) out = out.split(b64).join(REDACTED);
  }
  // A PEM private key, whatever its source: a key read from a certificate *file* (the path is
  // not a secret, so the file's key is in no list of secrets in effect) or the PKCS#8 form
  // Mailgate exports from a pasted key (not the text that was pasted). An unterminated block
  // (a truncated message) is redacted to its end.
  out = out.replace(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*$)/g, REDACTED);
  // Anything that looks like a JWT (three base64url parts, the first starting eyJ).
  out = out.replace(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, REDACTED);
  // AUTH XOAUTH2 / AUTH PLAIN initial responses.
  out = out.replace(/(AUTH\s+(?:XOAUTH2|PLAIN|LOGIN)\s+)[A-Za-z0-9+/=]{8,}/gi, `$1${REDACTED}`);
  // An XOAUTH2 string on its own (the two-step form sends it as a bare line): base64 that
  // starts with "user=" ("dXNlcj" + one of 0–3, whatever follows the "=").
  out = out.replace(/dXNlcj[0-3][A-Za-z0-9+/=]{16,}/g, REDACTED);
  return out;
}

/**
 * `scrubText` applied to every string inside a value (objects, arrays, an Error's message and
 * stack), before the value is logged, stored or returned. An Error becomes a plain object
 * `{type, message, stack, ...its own fields, cause}`, the shape pino gives errors. A `Secret` becomes `[redacted]`. Plain data
 * only: depth is capped so a cyclic or huge object cannot stall the caller, and what lies below
 * the cap becomes `[too deep]` (never passed on unscrubbed).
 */
export function scrubDeep<T>(value: T, secrets: Iterable<string | Secret | undefined>, depth = 0): T {
  const list = Array.isArray(secrets) ? secrets : [...secrets];
  const walk = (v: unknown, d: number): unknown => {
    if (typeof v === 'string') return scrubText(v, list);
    if (v instanceof Secret) return REDACTED;
    if (v === null || typeof v !== 'object') return v;
    // Deeper than this is not walked, so it is not passed on either: returned as it was, its
    // strings (a token in a long cause chain) would be serialised unscrubbed.
    if (d > 8) return '[too deep]';
    if (Array.isArray(v)) return v.map((x) => walk(x, d + 1));
    if (v instanceof Error) {
      // Type, message and stack survive (scrubbed): a log line without them cannot be
      // followed up. Own fields (code, phase, the server reply, …) and the cause are walked too.
      const out: Record<string, unknown> = { type: v.name || v.constructor?.name || 'Error', message: scrubText(v.message, list), stack: scrubText(v.stack ?? '', list) };
      for (const [k, x] of Object.entries(v)) if (!(k in out) && k !== 'name') out[k] = walk(x, d + 1);
      if (v.cause !== undefined) out.cause = walk(v.cause, d + 1);
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, d + 1);
    return out;
  };
  return walk(value, depth) as T;
}
