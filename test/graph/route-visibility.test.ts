/**
 * Transport auto: where Automatic sends now, why and since when (issue 15 item 4), shown to
 * administrators only: in `/readyz` with an admin API key (never to anonymous probes, nor to a
 * send-only key) and on the admin page's Diagnostics tab. A real service against the emulator,
 * with SMTP AUTH off for the mailbox, so Automatic has moved to Graph.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApiKey } from '../../src/service/access/api-keys.js';
import { startPair } from '../service/e2e-helpers.js';
import { ADMIN_PASSWORD, AdminClient } from '../admin/helpers.js';

describe('the Automatic route is visible to administrators', () => {
  it('/readyz (admin key only) and the Diagnostics page name Graph, the reason smtp-auth-disabled and since when', async () => {
    const p = await startPair({
      tenant: { domain: 'routeview.onmicrosoft.com', mailboxSmtpAuthDisabled: true },
      env: (e) => ({ MAILGATE_TRANSPORT: 'auto', MAILGATE_GRAPH_ENDPOINT: e.graph, MAILGATE_ADMIN_PASSWORD: ADMIN_PASSWORD }),
    });
    try {
      const accepted = await p.submit(2);
      await p.waitForStatus(accepted.map((a) => a.id), 'sent', 30_000);

      const anonymous = await fetch(`${p.svc.url}/readyz`).then((r) => r.json() as Promise<Record<string, unknown>>);
      assert.equal(anonymous.status, 'ready');
      assert.equal(anonymous.transportRoute, undefined, 'no route for anonymous probes');
      const sendKey = (await createApiKey(p.svc.store, 'sender', 'send', { now: Date.now(), actor: 'test' })).key;
      const sender = await fetch(`${p.svc.url}/readyz`, { headers: { authorization: `Bearer ${sendKey}` } }).then((r) => r.json() as Promise<Record<string, unknown>>);
      assert.equal(sender.transportRoute, undefined, 'no route for a send-only key');
      const admin = await fetch(`${p.svc.url}/readyz`, { headers: { authorization: `Bearer ${p.key}` } }).then((r) => r.json() as Promise<any>);
      assert.equal(admin.status, 'ready');
      assert.equal(admin.transportRoute.transport, 'graph');
      assert.equal(admin.transportRoute.reason, 'smtp-auth-disabled');
      assert.match(admin.transportRoute.since, /^\d{4}-\d\d-\d\dT/);
      assert.ok(admin.transportRoute.switches['smtp→graph smtp-auth-disabled'] >= 1);

      const client = new AdminClient((path, init) => Promise.resolve(p.svc.app.request(path, init)));
      assert.equal((await client.login()).status, 303);
      const page = await client.get('/admin/diagnostics');
      assert.equal(page.status, 200);
      assert.match(page.text, /<section id="transport-route"/);
      assert.match(page.text, /data-route="graph"/);
      assert.match(page.text, /Messages go by <strong>Microsoft Graph<\/strong>/);
      assert.match(page.text, /SMTP AUTH is disabled for the tenant or the mailbox \(535 5\.7\.139\)/);
    } finally {
      await p.stop();
    }
  });
});
