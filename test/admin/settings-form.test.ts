/**
 * The Email Settings form rules, as pure functions: what a submitted form becomes as a patch
 * for SettingsService.update, and how problems are shown next to fields.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inlineMessage, lastString, modernAuthOn, problemsByKey, readSettingsForm } from '../../src/admin/settings/settings-form.js';
import { SETTING_KEYS, type SettingKey } from '../../src/core/settings.js';
import type { SettingSource, SettingsView } from '../../src/service/settings/settings-store.js';

function view(values: Record<string, unknown> = {}, sources: Partial<Record<SettingKey, SettingSource>> = {}): SettingsView {
  const all = Object.fromEntries(SETTING_KEYS.map((k) => [k, sources[k] ?? 'default'])) as Record<SettingKey, SettingSource>;
  return { version: 1, valid: false, values, sources: all, problems: [], warnings: [] };
}

describe('readSettingsForm', () => {
  it('takes the last value of a field (hidden "false" + ticked box = "true")', () => {
    assert.equal(lastString({ a: ['false', 'true'] }, 'a'), 'true');
    assert.equal(lastString({ a: 'x' }, 'a'), 'x');
    assert.equal(lastString({}, 'a'), undefined);
    const r = readSettingsForm({ useModernAuth: ['false', 'true'] }, view({ useModernAuth: false }, { useModernAuth: 'stored' }));
    assert.deepEqual(r.patch, { useModernAuth: 'true' });
  });

  it('a secret: typed → set, empty → kept (absent from the patch), clear → null; typed wins over clear', () => {
    const v = view({ clientSecretSet: true }, { clientSecret: 'stored' });
    assert.deepEqual(readSettingsForm({ clientSecret: 'new~value' }, v).patch, { clientSecret: 'new~value' });
    assert.deepEqual(readSettingsForm({ clientSecret: 'new~value' }, v).typedSecrets, ['clientSecret']);
    assert.deepEqual(readSettingsForm({ clientSecret: '' }, v).patch, {});
    assert.deepEqual(readSettingsForm({ clientSecret: '   ' }, v).patch, {});
    assert.deepEqual(readSettingsForm({ clientSecret: '', clientSecretClear: 'on' }, v).patch, { clientSecret: null });
    assert.deepEqual(readSettingsForm({ clientSecret: 'x~y', clientSecretClear: 'on' }, v).patch, { clientSecret: 'x~y' });
    assert.equal(readSettingsForm({ clientCertificatePem: '-----BEGIN X-----\r\nabc\r\n' }, v).patch.clientCertificatePem, '-----BEGIN X-----\nabc\n');
  });

  it('fields not submitted (the hidden, disabled section) are left alone', () => {
    const r = readSettingsForm({ smtpUsername: 'u' }, view({ clientId: 'x' }, { clientId: 'stored' }));
    assert.deepEqual(r.patch, { smtpUsername: 'u' });
  });

  it('a field on its default stays on its default; an emptied stored field goes back to the default', () => {
    assert.deepEqual(readSettingsForm({ smtpHost: 'smtp.office365.com', smtpPort: '587', cloud: 'global', useModernAuth: 'true' }, view()).patch, {});
    assert.deepEqual(readSettingsForm({ smtpHost: 'smtp.office365.us', cloud: 'gcc-high' }, view()).patch, { cloud: 'gcc-high' }, 'the GCC High default host');
    assert.deepEqual(readSettingsForm({ smtpHost: ' mail.example.net ' }, view()).patch, { smtpHost: 'mail.example.net' });
    assert.deepEqual(readSettingsForm({ smtpHost: '' }, view({ smtpHost: 'a.b' }, { smtpHost: 'stored' })).patch, { smtpHost: null });
  });

  it('never sends a field set by an environment variable', () => {
    const v = view({ clientId: 'env-value', clientSecretSet: true }, { clientId: 'env', clientSecret: 'env' });
    assert.deepEqual(readSettingsForm({ clientId: 'other', clientSecret: 'other', clientSecretClear: 'on' }, v).patch, {});
  });

  it('keeps what was submitted to show it again, and ignores unknown fields', () => {
    const r = readSettingsForm({ clientId: ' abc ', _csrf: 't', other: 'x' }, view());
    assert.deepEqual(r.submitted, { clientId: 'abc' });
    assert.deepEqual(r.patch, { clientId: 'abc' });
  });
});

describe('problems next to fields', () => {
  it('drops the "(key, ENV)" part next to the field and groups by key', () => {
    const p = { key: 'clientId', env: 'MAILGATE_CLIENT_ID', label: 'Application (client) ID', message: 'Application (client) ID (clientId, MAILGATE_CLIENT_ID) must be a GUID' };
    assert.equal(inlineMessage(p), 'Application (client) ID must be a GUID');
    const { byKey, other } = problemsByKey([p, { key: 'weird', message: 'weird: unknown setting' }]);
    assert.equal(byKey.clientId, 'Application (client) ID must be a GUID');
    assert.deepEqual(other.map((o) => o.key), ['weird']);
  });

  it('modernAuthOn: submitted value first, then the view, default on', () => {
    assert.equal(modernAuthOn(view()), true);
    assert.equal(modernAuthOn(view({ useModernAuth: false })), false);
    assert.equal(modernAuthOn(view({ useModernAuth: 'false' })), false);
    assert.equal(modernAuthOn(view({ useModernAuth: false }), { useModernAuth: 'true' }), true);
  });
});
