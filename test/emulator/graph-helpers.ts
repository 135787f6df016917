/**
 * Shared by the emulated Graph's tests: the exact shape of Graph's error answers.
 */
import assert from 'node:assert/strict';
import type { HttpsResponse } from '../helpers/emulator-client.js';

/** Asserts Graph's error body exactly (`{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`). */
export function assertGraphError(res: HttpsResponse, status: number, code: string, message: string | RegExp): void {
  assert.equal(res.status, status, res.body);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error), ['code', 'message', 'innerError']);
  assert.equal(body.error.code, code);
  if (typeof message === 'string') assert.equal(body.error.message, message);
  else assert.match(body.error.message, message);
  assert.deepEqual(Object.keys(body.error.innerError), ['date', 'request-id', 'client-request-id']);
  assert.match(body.error.innerError.date, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  assert.equal(body.error.innerError['request-id'], res.headers['request-id']);
  assert.equal(body.error.innerError['client-request-id'], res.headers['client-request-id']);
  assert.match(String(res.headers['content-type']), /^application\/json/);
}
