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
import { isMailgateError, type Problem } from '../../../core/errors.js';
import type { Logger } from '../../../log/logger.js';
import { StorageFullError, StoreUnavailableError } from '../../outbox/store.js';

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

/** Seconds a client is asked to wait after a `storage-full` answer. */
export const STORAGE_FULL_RETRY_AFTER_S = 30;

/**
 * A write refused for lack of space: 503 with Retry-After, type `storage-full`. 503 rather
 * than 507 (Insufficient Storage): the condition is the server's and temporary, nothing is wrong
 * with the request, and 503 + Retry-After is what HTTP clients, SDK retry policies and load
 * balancers already retry; 507 is a WebDAV status most of them treat as final.
 */
export function storageFullProblem(): Response {
  return problemResponse(503, 'storage-full', 'Storage full', {
    detail: `Mailgate cannot store anything: the disk of its data directory is full. Nothing was accepted; send the request again after ${STORAGE_FULL_RETRY_AFTER_S} seconds (an operator must free space).`,
  }, { 'retry-after': String(STORAGE_FULL_RETRY_AFTER_S) });
}

/** Seconds a client is asked to wait after a `store-unavailable` answer (a database restart or failover). */
export const STORE_UNAVAILABLE_RETRY_AFTER_S = 5;

/**
 * The database cannot be reached (PostgreSQL down, restarting, failing over): 503 with
 * Retry-After, type `store-unavailable`. Nothing was accepted; the same request (with its
 * idempotency key) can be sent again, here or to another instance.
 */
export function storeUnavailableProblem(): Response {
  return problemResponse(503, 'store-unavailable', 'Database unavailable', {
    detail: `Mailgate cannot reach its database right now. Nothing was accepted; send the request again after ${STORE_UNAVAILABLE_RETRY_AFTER_S} seconds.`,
  }, { 'retry-after': String(STORE_UNAVAILABLE_RETRY_AFTER_S) });
}

/** The app's onError: HTTPExceptions keep their status; a full or unreachable store is 503; anything else is a 500. */
export function errorHandler(logger: Logger) {
  return (err: Error, c: Context): Response => {
    if (err instanceof HTTPException) {
      if (err.status === 413) return problemResponse(413, 'too-large', 'Request body too large', { detail: err.message });
      return problemResponse(err.status, 'http', err.message || 'Request failed');
    }
    if (err instanceof StorageFullError) {
      logger.warn({ method: c.req.method, path: c.req.path, code: err.code }, 'request refused: the data directory is full');
      return storageFullProblem();
    }
    if (err instanceof StoreUnavailableError) {
      logger.warn({ method: c.req.method, path: c.req.path, code: err.code, err: err.message }, 'request refused: the database cannot be reached');
      return storeUnavailableProblem();
    }
    if (isMailgateError(err) && err.code === 'SETTINGS_CONFLICT') {
      // Other writers kept saving while the change was decided again on fresh state: nothing saved.
      return problemResponse(409, 'settings-conflict', 'Settings changed at the same time', { detail: err.message, code: err.code });
    }
    logger.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error in HTTP request');
    return problemResponse(500, 'internal', 'Internal error', { detail: 'The request failed unexpectedly; the server log has the details.' });
  };
}
