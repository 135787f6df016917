/**
 * The Graph settings (issue 15 item 1): Transport, the Graph endpoint and scope per cloud, the
 * endpoint override as a credential destination, Save to Sent Items, and the admin form showing
 * the fields of one transport only where they apply.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settingsPageBody } from '../../src/admin/settings/settings-page.js';
import { CLOUDS, CLOUD_IDS } from '../../src/core/clouds.js';
import { credentialDestinationProblems, movedDestinations } from '../../src/core/credential-destinations.js';
import { parseSettings, settingsFromEnv, SETTING_KEYS, type RawSettings, type SettingKey } from '../../src/core/settings.js';
import type { SettingSource, SettingsView } from '../../src/service/settings/settings-store.js';

const BASE: RawSettings = {
  clientId: '11111111-2222-3333-4444-555555555555',
  tenantId: 'contoso.onmicrosoft.com',
  clientSecret: 'abc~secret-value',
  authorizedFrom: 'noreply@contoso.com',
};

describe('Graph settings', () => {
  it('defaults: Transport smtp, Save to Sent Items on, the Graph endpoint and scope of each cloud', () => {
    const expected = {
      global: 'https://graph.microsoft.com',
      'gcc-high': 'https://graph.microsoft.us',
      dod: 'https://dod-graph.microsoft.us',
      china: 'https://microsoftgraph.chinacloudapi.cn',
    } as const;
    for (const cloud of CLOUD_IDS) {
      const r = parseSettings({ ...BASE, cloud });
      assert.ok(r.ok);
      assert.equal(r.settings.transport, 'smtp');
      assert.equal(r.settings.saveToSentItems, true);
      assert.equal(r.settings.graphEndpoint, expected[cloud]);
      assert.equal(r.settings.graphScope, `${expected[cloud]}/.default`);
      assert.equal(CLOUDS[cloud].graphScope, `${expected[cloud]}/.default`);
    }
  });

  it('reads MAILGATE_TRANSPORT, MAILGATE_GRAPH_ENDPOINT, MAILGATE_GRAPH_SCOPE and MAILGATE_SAVE_TO_SENT_ITEMS', () => {
    const { raw, keys } = settingsFromEnv({
      MAILGATE_TRANSPORT: 'graph',
      MAILGATE_GRAPH_ENDPOINT: 'https://127.0.0.1:8443/',
      MAILGATE_SAVE_TO_SENT_ITEMS: 'false',
    });
    assert.deepEqual(keys.sort(), ['graphEndpoint', 'saveToSentItems', 'transport']);
    const r = parseSettings({ ...BASE, ...raw, cloud: 'gcc-high' });
    assert.ok(r.ok);
    assert.equal(r.settings.transport, 'graph');
    assert.equal(r.settings.graphEndpoint, 'https://127.0.0.1:8443');
    // The override moves where requests go, not the token's resource: the scope follows the cloud.
    assert.equal(r.settings.graphScope, 'https://graph.microsoft.us/.default');
    assert.equal(r.settings.saveToSentItems, false);
    // Graph saves a MIME message to Sent Items whatever the flag says: the administrator is told.
    assert.match(r.warnings.find((w) => w.key === 'saveToSentItems')!.message, /always saves/);
    const scoped = parseSettings({ ...BASE, graphScope: 'https://graph.microsoft.com/.default', cloud: 'gcc-high' });
    assert.ok(scoped.ok);
    assert.equal(scoped.settings.graphScope, 'https://graph.microsoft.com/.default');
  });

  it('refuses an unknown transport, an endpoint with a path or without https, and Graph with Basic authentication', () => {
    const bad = parseSettings({ ...BASE, transport: 'pigeon', graphEndpoint: 'https://graph.microsoft.com/v1.0', graphScope: 'https://graph.microsoft.com' });
    assert.ok(!bad.ok);
    const byKey = Object.fromEntries(bad.problems.map((p) => [p.key, p.message]));
    assert.match(byKey.transport!, /^Transport \(transport, MAILGATE_TRANSPORT\)/);
    assert.match(byKey.graphEndpoint!, /without a path/);
    assert.match(byKey.graphScope!, /\/\.default/);
    const http = parseSettings({ ...BASE, graphEndpoint: 'http://graph.microsoft.com' });
    assert.ok(!http.ok);
    assert.match(http.problems[0]!.message, /https/);
    const basic = parseSettings({ authorizedFrom: 'a@contoso.com', useModernAuth: 'false', smtpUsername: 'a@contoso.com', smtpPassword: 'pw', transport: 'graph' });
    assert.ok(!basic.ok);
    assert.match(basic.problems.find((p) => p.key === 'transport')!.message, /needs modern authentication/);
  });

  it('moving the Graph endpoint (or the Graph scope) needs the credentials again; choosing the transport does not', () => {
    const before = { ...BASE };
    const moved = { ...BASE, graphEndpoint: 'https://graph.evil.example' };
    assert.deepEqual(movedDestinations(before, moved), ['graphEndpoint']);
    const problems = credentialDestinationProblems({ before, after: moved, patch: { graphEndpoint: 'https://graph.evil.example' }, envKeys: [] });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.key, 'clientSecret');
    assert.match(problems[0]!.message, /Microsoft Graph endpoint/);
    // With the secret typed again, the change goes through.
    assert.deepEqual(credentialDestinationProblems({ before, after: moved, patch: { graphEndpoint: 'https://graph.evil.example', clientSecret: 'abc~secret-value' }, envKeys: [] }), []);
    // The default written out is no move; the cloud moves the defaulted endpoint (the cloud row names it).
    assert.deepEqual(movedDestinations(before, { ...BASE, graphEndpoint: 'https://graph.microsoft.com/' }), []);
    assert.ok(movedDestinations(before, { ...BASE, cloud: 'china' }).includes('graphEndpoint'));
    assert.deepEqual(movedDestinations(before, { ...BASE, graphScope: 'https://other.example/.default' }), ['graphScope']);
    assert.deepEqual(movedDestinations(before, { ...BASE, transport: 'graph' }), []);
  });
});

function view(values: Record<string, unknown>): SettingsView {
  const sources = Object.fromEntries(SETTING_KEYS.map((k) => [k, k in values ? 'stored' : 'default'])) as Record<SettingKey, SettingSource>;
  return { version: 1, valid: true, values, sources, problems: [], warnings: [] };
}

/** The transport-only wrappers of the page, by their field id: hidden or shown. */
function shown(page: string): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const m of page.matchAll(/<div data-transport-only="(smtp|graph)"( hidden)?>\s*<div class="field[^"]*">\s*<label for="([^"]+)"/g)) out[m[3]!] = !m[2];
  return out;
}

describe('the admin settings form and Transport', () => {
  const render = (values: Record<string, unknown>) =>
    String(settingsPageBody({ view: view({ useModernAuth: true, ...values }), session: undefined, action: '/admin/settings', testUrl: '/admin/test' }));

  it('smtp shows the SMTP fields and hides the Graph ones', () => {
    const s = shown(render({ transport: 'smtp' }));
    assert.equal(s['modern-smtpHost'], true);
    assert.equal(s['modern-smtpPort'], true);
    assert.equal(s['adv-scope'], true);
    assert.equal(s['modern-saveToSentItems'], false);
    assert.equal(s['adv-graphEndpoint'], false);
  });

  it('graph hides the SMTP-only fields and shows the Graph ones; auto shows both', () => {
    const g = shown(render({ transport: 'graph' }));
    assert.equal(g['modern-smtpHost'], false);
    assert.equal(g['modern-smtpPort'], false);
    assert.equal(g['adv-scope'], false);
    assert.equal(g['adv-connectionTimeoutMs'], false);
    assert.equal(g['modern-saveToSentItems'], true);
    assert.equal(g['adv-graphEndpoint'], true);
    assert.equal(g['adv-graphScope'], true);
    const a = shown(render({ transport: 'auto' }));
    assert.ok(Object.values(a).every(Boolean), JSON.stringify(a));
    const page = render({ transport: 'graph' });
    assert.match(page, /<select id="modern-transport" name="transport"[^>]*>[\s\S]*<option value="graph" selected>Microsoft Graph<\/option>/);
  });
});
