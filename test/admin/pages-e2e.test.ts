/**
 * The admin page against the real service and the Microsoft 365 emulator (real mailer in the
 * delivery thread, real SQLite, real doctor; pages fetched with `app.request` and a cookie jar,
 * CSRF included), for issue 13 items 9–15:
 *
 * - 9: a failed message's page and a failed test email carry the token's real oid in
 *   `New-ServicePrincipal -ObjectId`, not the placeholder (the oid crosses from the thread);
 * - 10: the Diagnostics page has no CLI words (`--to`);
 * - 11: while delivery is paused, waiting messages say "Paused until", not a past "Due";
 * - 13: a test email is in the Delivery log, marked as a test (and in the API as `test: true`);
 * - 15: the log's reply column is short (code + enhanced status); the full reply is on the
 *   message's page.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startPair, type Pair } from '../service/e2e-helpers.js';
import { waitFor } from '../service/helpers.js';
import { ADMIN_PASSWORD, AdminClient } from './helpers.js';

const PLACEHOLDER = /Enterprise Application Object ID \(the token(&#39;|'|&apos;)s oid\)/;

async function withAdmin(o: Parameters<typeof startPair>[0], fn: (p: Pair, admin: AdminClient) => Promise<void>): Promise<void> {
  const p = await startPair({ ...o, env: { MAILGATE_ADMIN_PASSWORD: ADMIN_PASSWORD, ...o?.env } });
  try {
    const admin = new AdminClient((path, init) => Promise.resolve(p.svc.app.request(path, init)));
    assert.equal((await admin.login()).status, 303);
    await fn(p, admin);
  } finally {
    await p.stop();
  }
}

/** The `<tr>` of a message in the delivery log. */
function row(page: string, id: string): string {
  const m = new RegExp(`<tr data-message="${id}">[\\s\\S]*?</tr>`).exec(page);
  assert.ok(m, `message ${id} is listed`);
  return m[0];
}

describe('admin page end to end (emulator)', () => {
  it('no service principal: the failed message and the failed test email name the real oid; waiting messages say "Paused until"', async () => {
    await withAdmin({ tenant: { exchangeServicePrincipal: 'missing' } }, async (p, admin) => {
      const oid = p.tenant.servicePrincipalObjectId;
      const expected = `New-ServicePrincipal -AppId ${p.tenant.clientId} -ObjectId ${oid} -DisplayName &quot;Mailgate&quot;`;

      const [failed] = await p.submit(1);
      await p.waitForStatus([failed!.id], 'failed');
      const detail = await admin.get(`/admin/messages/${failed!.id}`);
      assert.equal(detail.status, 200);
      assert.ok(detail.text.includes(expected), 'the message page has the fix with the real oid');
      assert.doesNotMatch(detail.text, PLACEHOLDER);
      assert.match(detail.text, /<pre class="reply">535 5\.7\.3 /, 'the full reply is on the message page');

      // Delivery is paused now: a new message waits, and the log says until when.
      const [waiting] = await p.submit(1);
      const list = await admin.get('/admin/messages');
      const waitingRow = row(list.text, waiting!.id);
      assert.match(waitingRow, /Paused until <time datetime="[^"]+" title="[^"]+">\d\d:\d\d UTC<\/time>/);
      assert.doesNotMatch(waitingRow, /Due /);
      const failedRow = row(list.text, failed!.id);
      assert.match(failedRow, /<code>535 5\.7\.3<\/code>/, 'the short reply: code and enhanced status');
      assert.doesNotMatch(failedRow.replace(/title="[^"]*"/g, ''), /Authentication unsuccessful/, 'the full text is not in the cell');

      const test = await admin.post('/admin/test', { to: 'admin@example.com' });
      assert.match(test.text, /data-outcome="failure"/);
      assert.ok(test.text.includes(expected), 'the failed test email has the fix with the real oid');
      assert.doesNotMatch(test.text, PLACEHOLDER);

      const diag = await admin.post('/admin/diagnostics', { to: '' });
      assert.equal(diag.status, 200);
      assert.doesNotMatch(diag.text, /--to/, 'no command-line words on the web page');
      assert.match(diag.text, /No test message was sent: no recipient was given in &quot;Also send a test message to&quot;/);
    });
  });

  it('a test email is in the Delivery log, marked as a test, with the short reply', async () => {
    await withAdmin({}, async (p, admin) => {
      const r = await admin.post('/admin/test', { to: 'tester@example.com' });
      assert.match(r.text, /data-outcome="success"/);
      const link = /<a href="\/admin\/messages\/([0-9a-f-]{36})">See it in the Delivery log<\/a>/.exec(r.text);
      assert.ok(link, 'the outcome links to the log entry');
      const id = link[1]!;
      const list = await admin.get('/admin/messages');
      const testRow = row(list.text, id);
      assert.match(testRow, /badge-sent/);
      assert.match(testRow, /<span class="badge badge-test"[^>]*>Test<\/span>/);
      assert.match(testRow, /tester@example\.com/);
      assert.match(testRow, /<code>250 2\.0\.0<\/code>/);
      const detail = await admin.get(`/admin/messages/${id}`);
      assert.match(detail.text, /Test email, sent at once/);
      assert.match(detail.text, /Attempt 1: Sent/);
      const api = await p.api('GET', `/api/v1/messages/${id}`);
      assert.equal(api.json.test, true);
      assert.equal(api.json.status, 'sent');
      // An ordinary message is not marked.
      const [normal] = await p.submit(1);
      await p.waitForStatus([normal!.id], 'sent');
      assert.doesNotMatch(row((await admin.get('/admin/messages')).text, normal!.id), /badge-test/);
      assert.equal((await p.api('GET', `/api/v1/messages/${normal!.id}`)).json.test, undefined);
      await waitFor(() => p.emulator.messages().length >= 2, 5000, 'both delivered');
    });
  });
});
