/**
 * Reading a JSON request body: content type checked, size already limited by the bodyLimit
 * middleware (which refuses an oversize body before it is read whole), malformed JSON turned
 * into a 400 problem.
 *
 * Imports: hono types, ./problem.
 */
import type { Context } from 'hono';
import { problemResponse } from './problem.js';

export type JsonBody = { ok: true; value: unknown } | { ok: false; response: Response };

export async function readJsonBody(c: Context): Promise<JsonBody> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    return { ok: false, response: problemResponse(415, 'unsupported-media-type', 'JSON required', { detail: 'Send the body as JSON with "Content-Type: application/json".' }) };
  }
  const text = await c.req.text();
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, response: problemResponse(400, 'malformed-json', 'Malformed JSON', { detail: `The body is not valid JSON: ${(error as Error).message.slice(0, 200)}` }) };
  }
}
