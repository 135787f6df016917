/**
 * Reading a JSON request body: content type checked, size already limited by the body-limit
 * middleware (./body-limit.ts, which refuses an oversize body before it is read whole),
 * malformed JSON turned into a 400 problem; an optional body may be left out. The text is returned with the value so that the
 * messages route can store it as is (no re-serialisation).
 *
 * The body is read with `c.req.text()`: under @hono/node-server that reads the socket directly
 * (no web Request or stream), as long as nothing before it touched `c.req.raw.body`.
 *
 * Imports: hono types, ./problem.
 */
import type { Context } from 'hono';
import { problemResponse } from './problem.js';

/** `text` is the body as received (the messages route stores it as is when it can). */
export type JsonBody = { ok: true; value: unknown; text: string } | { ok: false; response: Response };

export interface ReadJsonOptions {
  /**
   * The body may be left out (routes whose fields are all optional, e.g. POST
   * /api/v1/diagnostics): no body, or an empty one, whatever its content type, reads as
   * `undefined`, so `curl -X POST` works without `-d '{}'`.
   */
  optional?: boolean;
}

/** No body at all: Content-Length 0, or neither Content-Length nor Transfer-Encoding. */
function bodyless(c: Context): boolean {
  const length = c.req.header('content-length');
  return length === '0' || (length === undefined && c.req.header('transfer-encoding') === undefined);
}

export async function readJsonBody(c: Context, options: ReadJsonOptions = {}): Promise<JsonBody> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    // No body at all needs no content type (curl -X POST sends none).
    if (options.optional && bodyless(c)) return { ok: true, value: undefined, text: '' };
    return { ok: false, response: problemResponse(415, 'unsupported-media-type', 'JSON required', { detail: 'Send the body as JSON with "Content-Type: application/json".' }) };
  }
  const text = await c.req.text();
  if (options.optional && text.trim() === '') return { ok: true, value: undefined, text };
  try {
    return { ok: true, value: JSON.parse(text) as unknown, text };
  } catch (error) {
    return { ok: false, response: problemResponse(400, 'malformed-json', 'Malformed JSON', { detail: `The body is not valid JSON: ${(error as Error).message.slice(0, 200)}` }) };
  }
}
