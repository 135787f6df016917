/**
 * Settings, rotation and senders writes from two processes on one SQLite file (the service and
 * `mailgate credentials`): each on its own connection, interleaved so both decide on the same
 * version; the second writer's decision is made again on fresh state (settings-two-writers.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import { MailgateError } from '../../src/core/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { errorHandler, PROBLEM_CONTENT_TYPE } from '../../src/service/intake/http/problem.js';
import { rotationFailure } from '../../src/service/settings/credential-rotation-service.js';
import { openSqliteStore } from '../../src/service/outbox/sqlite/sqlite-store.js';
import { LineCapture, tempDir } from './helpers.js';
import { TWO_WRITER_CASES } from './settings-two-writers.js';

describe('settings compare-and-set: two writers on one SQLite file', () => {
  for (const c of TWO_WRITER_CASES) {
    it(c.name, async () => {
      const t = tempDir('mailgate-cas-');
      try {
        await c.run(async () => openSqliteStore(t.dir));
      } finally {
        t.remove();
      }
    });
  }
});

describe('SETTINGS_CONFLICT answers', () => {
  const conflict = () => new MailgateError({ code: 'SETTINGS_CONFLICT', phase: 'settings', retryable: true, message: 'The settings kept changing while this change was being saved.' });

  it('the API answers 409 settings-conflict (problem details), the rotation routes and the CLI the same', async () => {
    const app = new Hono();
    app.onError(errorHandler(createLogger({ destination: new LineCapture(), level: 'warn' })));
    app.put('/api/v1/settings', () => {
      throw conflict();
    });
    const res = await app.request('/api/v1/settings', { method: 'PUT' });
    assert.equal(res.status, 409);
    assert.equal(res.headers.get('content-type'), PROBLEM_CONTENT_TYPE);
    const body = await res.json() as { type: string; code: string; detail: string };
    assert.equal(body.type, 'urn:mailgate:problem:settings-conflict');
    assert.equal(body.code, 'SETTINGS_CONFLICT');
    assert.match(body.detail, /kept changing/);
    assert.deepEqual(rotationFailure(conflict())?.status, 409);
    assert.equal(rotationFailure(conflict())?.type, 'settings-conflict');
  });
});
