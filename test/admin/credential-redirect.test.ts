/**
 * Issue 12 item 1 on the admin page (the real admin app in-process, real session and CSRF
 * tokens, real SQLite): for every credential kind × destination field, a form that moves the
 * destination without the credential is shown again (422) with the error naming the
 * credential, nothing is saved and no secret is on the page; an administrator who types the
 * credential again saves the change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SettingKey } from '../../src/core/settings.js';
import { attackPatch, DESTINATION_FIELDS, envFor, envLocked, KINDS, makeMaterial, otherModePatch, setupPatch, typed, type Material } from '../helpers/credential-matrix.js';
import { appClient, startAdmin, type AdminClient, type AdminCtx } from './helpers.js';

const ATTACKER = { host: 'mx.attacker.example', port: 2526 };
const m: Material = await makeMaterial({ clientId: '11111111-2222-3333-4444-555555555555', tenantId: '66666666-7777-8888-9999-000000000000', authorizedFrom: 'sender@contoso.com' });

/** A patch as form fields (what the page's inputs submit). */
function form(patch: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

// The mode attack changes the mode first: run it last.
const FIELDS: SettingKey[] = [...DESTINATION_FIELDS.filter((f) => f !== 'useModernAuth'), 'useModernAuth'];

for (const kind of KINDS) {
  describe(`admin page: ${kind.name}`, () => {
    let ctx: AdminCtx;
    let client: AdminClient;
    before(async () => {
      ctx = await startAdmin({ env: envFor(kind, m) });
      client = appClient(ctx);
      assert.equal((await client.login()).status, 303);
      await client.get('/admin/settings');
      const r = await client.post('/admin/settings', form(setupPatch(kind, m)));
      assert.equal(r.status, 303, r.text.slice(0, 2000));
    });
    after(() => ctx.stop());

    for (const field of FIELDS) {
      it(`moving ${field} without the credential: 422, the error names it, nothing saved`, async () => {
        if (field === 'useModernAuth' && !envLocked(kind, field)) {
          const r = await client.post('/admin/settings', form(otherModePatch(kind, m)));
          assert.equal(r.status, 303, 'switched to the other mode');
        }
        const version = ctx.svc.settings.view().version;
        const page = await client.post('/admin/settings', form(attackPatch(field, kind, ATTACKER)));
        for (const secret of [m.secret, m.password, m.pem.split('\n')[1]!]) assert.ok(!page.text.includes(secret!), 'no secret on the page');
        assert.equal(ctx.svc.settings.view().version, version, 'nothing saved');
        if (envLocked(kind, field)) {
          // The page does not even submit a field set by the environment.
          assert.equal(page.status, 303);
          return;
        }
        assert.equal(page.status, 422, page.text.slice(0, 500));
        assert.match(page.text, /class="error-summary"/);
        const label = { clientSecret: 'Client Secret', clientCertificatePem: 'Client certificate \\(PEM\\)', clientCertificatePath: 'Client certificate', smtpPassword: 'SMTP Password' }[kind.key as string]!;
        const why = kind.source === 'env' ? 'comes from the environment' : kind.retype ? 'must be entered again in this request' : 'names a file on the server';
        assert.match(page.text, new RegExp(`${label} ${why}`));
      });
    }

    it(kind.retype ? 'typing the credential again saves the change' : 'typing it again does not help (it proves nothing, or cannot be entered)', async () => {
      // Back in the kind's mode (the mode test above left the other one) and a new SMTP host.
      const change = { useModernAuth: String(kind.mode === 'modern'), smtpHost: 'smtp.example.net' };
      const page = await client.post('/admin/settings', { ...change, ...(kind.source === 'stored' ? form(typed(kind, m)) : {}) });
      if (kind.retype) {
        assert.equal(page.status, 303, page.text.slice(0, 500));
        assert.equal(ctx.svc.settings.settings()?.smtpHost, 'smtp.example.net');
      } else {
        assert.equal(page.status, 422);
        assert.notEqual(ctx.svc.settings.settings()?.smtpHost, 'smtp.example.net');
      }
    });
  });
}
