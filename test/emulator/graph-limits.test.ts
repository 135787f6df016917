// The emulated Graph's limits and faults over real HTTPS: 4 MB per request (413), 4 concurrent
// requests per app and mailbox (429 MailboxConcurrency with Retry-After), and the scripted
// faults: an error status with Retry-After, a slow answer the client gave up on, a connection
// dropped after the request (with and without the message accepted).
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, beforeEach, describe, test } from 'node:test';
import { buildTenantState, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { fetchToken, httpsRequest } from '../helpers/emulator-client.js';
import { assertGraphError } from './graph-helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('Graph limits and faults', () => {
  let emu: Emulator;
  const t = buildTenantState({ domain: 'contoso.onmicrosoft.com', extraMailboxes: [{ address: 'second@contoso.onmicrosoft.com' }] });
  let token: string;

  before(async () => {
    emu = await startEmulator(t.state);
    token = await fetchToken(emu, t.tenantId, t.clientId, t.clientSecret!, 'https://graph.microsoft.com/.default');
  });
  after(() => emu.stop());
  beforeEach(() => {
    emu.clearFaults();
    emu.clearMessages();
  });

  const body = (mailbox: string, n: number) => Buffer.from(`From: ${mailbox}\r\nTo: a@example.com\r\nSubject: n${n}\r\nMessage-ID: <n${n}@test>\r\n\r\nbody\r\n`).toString('base64');
  const send = (mailbox = t.authorizedFrom, n = 0, payload = body(mailbox, n)) => httpsRequest(`${emu.graph}/v1.0/users/${mailbox}/sendMail`, {
    method: 'POST', ca: emu.caPem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' }, body: payload,
  });

  test('a request body over 4 MB: 413 with Graph\'s body, nothing sent', async () => {
    const big = 'A'.repeat(4 * 1024 * 1024 + 4);
    const res = await send(t.authorizedFrom, 0, big);
    assertGraphError(res, 413, 'RequestEntityTooLarge', 'The maximum request length supported is 4MB.');
    assert.equal(emu.messages().length, 0);
  });

  test('exactly 4 MB of body is accepted (the limit is inclusive)', async () => {
    const head = `From: ${t.authorizedFrom}\r\nTo: a@example.com\r\nSubject: big\r\n\r\n`;
    const rawLength = (4 * 1024 * 1024) / 4 * 3;
    const raw = head + 'x'.repeat(rawLength - head.length);
    const payload = Buffer.from(raw).toString('base64');
    assert.equal(payload.length, 4 * 1024 * 1024);
    assert.equal((await send(t.authorizedFrom, 0, payload)).status, 202);
  });

  test('the 5th concurrent request of one app on one mailbox: 429 ApplicationThrottled MailboxConcurrency with Retry-After; another mailbox is not limited', async () => {
    emu.resetStats();
    emu.setFaults({ graphDelay: { ms: 4000, count: 4 } });
    const held = [1, 2, 3, 4].map((n) => send(t.authorizedFrom, n));
    const key = `${t.clientId} ${t.authorizedFrom}`.toLowerCase();
    await until('4 requests in flight', () => emu.stats().peakGraphConcurrentRequests[key] === 4);
    const fifth = await send(t.authorizedFrom, 5);
    assertGraphError(fifth, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.');
    assert.equal(fifth.headers['retry-after'], '1');
    const other = await send('second@contoso.onmicrosoft.com', 6);
    assert.equal(other.status, 202, 'the limit is per app and mailbox');
    const results = await Promise.all(held);
    assert.deepEqual(results.map((r) => r.status), [202, 202, 202, 202]);
    assert.equal(emu.stats().peakGraphConcurrentRequests[key], 4);
    assert.equal((await send(t.authorizedFrom, 7)).status, 202, 'the slots are released');
  });

  test('fault graphError 429: Retry-After and Graph\'s throttling body, then the next request passes', async () => {
    emu.setFaults({ graphError: { status: 429, count: 1, retryAfterSeconds: 7 } });
    const res = await send();
    assertGraphError(res, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.');
    assert.equal(res.headers['retry-after'], '7');
    assert.equal((await send()).status, 202);
    assert.deepEqual(emu.faults(), {});
  });

  test('fault graphError 503 and 504: Graph\'s bodies; Retry-After 0 omits the header', async () => {
    emu.setFaults({ graphError: { status: 503, count: 1, retryAfterSeconds: 0 } });
    const res = await send();
    assertGraphError(res, 503, 'ServiceNotAvailable', 'The service is temporarily unavailable. Please try again later.');
    assert.equal(res.headers['retry-after'], undefined);
    emu.setFaults({ graphError: { status: 504, count: 1 } });
    assertGraphError(await send(), 504, 'GatewayTimeout', 'The upstream service did not answer in time.');
    assert.equal(emu.messages().length, 0);
  });

  test('a fault limited to another endpoint does not fire on sendMail', async () => {
    emu.setFaults({ graphError: { status: 503, endpoint: 'send' } });
    assert.equal((await send()).status, 202);
    assert.ok(emu.faults().graphError);
  });

  test('fault graphDrop (default): the connection closes after the request and nothing is sent', async () => {
    emu.setFaults({ graphDrop: { count: 1 } });
    await assert.rejects(send(), /socket hang up|ECONNRESET/);
    assert.equal(emu.messages().length, 0);
    const entry = emu.log().filter((e) => e.kind === 'graph').at(-1) as { reason?: string };
    assert.match(entry.reason!, /nothing was processed/);
  });

  test('fault graphDrop accepted: the message is accepted but the answer is lost (the unknown outcome)', async () => {
    emu.setFaults({ graphDrop: { count: 1, accepted: true } });
    await assert.rejects(send(t.authorizedFrom, 9), /socket hang up|ECONNRESET/);
    assert.deepEqual(emu.messages().map((m) => m.messageId), ['<n9@test>']);
  });

  test('fault graphDelay: a client that gives up during the delay gets nothing sent', async () => {
    emu.setFaults({ graphDelay: { ms: 800, count: 1 } });
    await assert.rejects(new Promise((resolve, reject) => {
      const req = request(`${emu.graph}/v1.0/users/${t.authorizedFrom}/sendMail`, {
        method: 'POST', ca: emu.caPem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
      }, resolve);
      req.on('error', reject);
      req.setTimeout(100, () => req.destroy(new Error('client timeout')));
      req.end(body(t.authorizedFrom, 10));
    }), /client timeout/);
    await until('the delayed request to be dropped', () => emu.log().some((e) => e.kind === 'graph' && /client left/.test(e.reason ?? '')));
    assert.equal(emu.messages().length, 0);
  });

  test('fault graphDelay: a patient client gets its 202', async () => {
    emu.setFaults({ graphDelay: { ms: 300, count: 1 } });
    assert.equal((await send()).status, 202);
  });

  test('faults are validated: an unknown endpoint is refused', () => {
    assert.throws(() => emu.setFaults({ graphError: { status: 503, endpoint: 'nope' as 'send' } }), /graphError\.endpoint/);
  });
});
