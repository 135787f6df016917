/**
 * problem+json (RFC 9457) responses and the one error-to-response mapping of the HTTP API.
 *
 * Why one place: every failure of every route looks the same to clients: a problem document
 * with `type`, `title`, `status`, `detail` and, for invalid input, `errors: [{key, message}]`
 * listing every problem at once. Unexpected errors become a 500 without internals (they are
 * logged, scrubbed, by the logger).
 *
 * Imports: hono, src/core errors, src/log.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Problem } from '../../core/errors.js';
import type { Logger } from '../../log/logger.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { key: string; message: string }[];
  [extra: string]: unknown;
}

/** A problem+json Response. `slug` becomes the type `urn:mailgate:problem:<slug>`. */
export function problemResponse(status: number, slug: string, title: string, extra: Omit<Partial<ProblemBody>, 'type' | 'title' | 'status'> = {}, headers: Record<string, string> = {}): Response {
  const body: ProblemBody = { type: `urn:mailgate:problem:${slug}`, title, status, ...extra };
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers } });
}

/** 422 listing every problem. */
export function validationProblem(problems: Problem[], detail = 'The request has invalid values; every problem is listed in errors.', extra: Record<string, unknown> = {}): Response {
  return problemResponse(422, 'validation', 'Invalid request', { detail, errors: problems.map((p) => ({ key: p.key, message: p.message })), ...extra });
}

export function notFound(what: string): Response {
  return problemResponse(404, 'not-found', 'Not found', { detail: what });
}

/** The app's onError: HTTPExceptions keep their status; anything else is a 500. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context): Response => {
    if (err instanceof HTTPException) {
      if (err.status === 413) return problemResponse(413, 'too-large', 'Request body too large', { detail: err.message });
      return problemResponse(err.status, 'http', err.message || 'Request failed');
    }
    logger.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error in HTTP request');
    return problemResponse(500, 'internal', 'Internal error', { detail: 'The request failed unexpectedly; the server log has the details.' });
  };
}
