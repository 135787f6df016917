/**
 * A credential rotation through the admin page in a real browser (issue 17: "a rotation through
 * the admin page in the browser"): Playwright driving Debian's Chromium, the real service on a
 * socket with its real rotation service and SQLite data dir, and the Microsoft 365 emulator.
 * The app registration gets a second secret at the emulator (as an administrator would in
 * Entra); on the Email Settings page's Rotate panel it is added as the secondary, tested (a
 * real token request), made primary, and the old one removed after the confirmation dialog.
 * Then the old secret is expired at the emulator and a test email is sent from the Test page:
 * it is delivered, and no token request with the old secret happens, so the new credential
 * carried it. Skipped loudly without Chromium, as test/admin/browser.test.ts is.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Dialog, Page } from 'playwright-core';
import { createAdminApp } from '../../src/admin/index.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { buildTenantState, startEmulator, type BuiltTenant, type Emulator, type TokenLogEntry } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { httpsRequest } from '../helpers/emulator-client.js';
import { LineCapture, tempDir } from '../service/helpers.js';
import { ADMIN_PASSWORD, MASTER_KEY } from './helpers.js';

const CHROMIUM = process.env.MAILGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('test-artifacts/screenshots');
const SKIP_REASON = existsSync(CHROMIUM) ? undefined : `SKIPPED: ${CHROMIUM} is not installed (scripts/install-system-deps.sh installs it).`;
/** The new secret, as Entra would have made it with `az ad app credential reset --append`. */
const NEW = { id: '0b5a0e10-8c9e-4f7e-9a55-6f1c2b3d4e5f', value: 'Nw7~rotated.secret.value_0123456789', expires: '2031-01-01T00:00:00Z', displayName: 'Mailgate 2031' };
if (SKIP_REASON) {
  process.stderr.write(`\n*** credential rotation browser test ${SKIP_REASON} ***\n\n`);
  it('credential rotation in Chromium', { skip: SKIP_REASON }, () => undefined);
}

describe('admin page in Chromium: a credential rotation', { skip: SKIP_REASON }, () => {
  let emulator: Emulator;
  let tenant: BuiltTenant;
  let svc: RunningService;
  let context: BrowserContext;
  let page: Page;
  let profile = '';
  const logs = new LineCapture();
  const data = tempDir('mailgate-rotation-browser-');
  const unexpectedDialog = (d: Dialog) => {
    throw new Error(`unexpected dialog: ${d.message()}`);
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    tenant = buildTenantState({ secretExpires: '2027-01-31T00:00:00Z' });
    emulator = await startEmulator(tenant.state, { limits: { messagesPerMinute: Infinity } });
    svc = await startService({
      env: { MAILGATE_DATA_DIR: data.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_ADMIN_PASSWORD: ADMIN_PASSWORD, MAILGATE_HTTP_PORT: '0' },
      ca: emulator.caPem,
      worker: false,
      logger: createLogger({ destination: logs, level: 'info' }),
      mailerDeps: { tokenRetry: { maxAttempts: 1 } },
      admin: createAdminApp,
    });
    // The Email Settings as an administrator saved them (stored, so the page may rotate them).
    const saved = await svc.deps.settings.update({
      useModernAuth: 'true', clientId: tenant.clientId, tenantId: tenant.tenantId, clientSecret: tenant.clientSecret!, clientSecretExpires: '2027-01-31',
      authorizedFrom: tenant.authorizedFrom, smtpHost: emulator.smtp.host, smtpPort: String(emulator.smtp.port), authorityHost: emulator.authorityHost,
    }, 'test');
    assert.ok(saved.ok, JSON.stringify(saved));
    // Entra: a second secret on the same app registration, the old one kept (as `--append` does).
    const state = emulator.getState();
    state.tenants[0]!.apps[0]!.secrets.push(NEW);
    emulator.setState(state);

    const { chromium } = await import('playwright-core');
    profile = mkdtempSync(join(tmpdir(), 'mailgate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1366, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('dialog', unexpectedDialog);
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
    await svc?.stop();
    await emulator?.stop();
    data.remove();
  });

  it('adds the new secret as secondary, tests it, makes it primary, removes the old one; mail then goes out with the new secret', async () => {
    await page.goto(`${svc.url}/admin/login`);
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/admin\/settings$/);
    const panel = page.locator('section#rotate-default');
    await panel.waitFor();
    assert.match(await panel.locator('tr[data-slot="primary"]').innerText(), /Client secret[\s\S]*2027-01-31[\s\S]*in use/i);
    assert.equal(await panel.locator('li[data-step="add"]').getAttribute('aria-current'), 'step');

    // 1. Add the new credential as secondary.
    await panel.getByLabel('New client secret (its Value)').fill(NEW.value);
    await panel.getByLabel('Client Secret expires').fill('2031-01-01');
    await panel.getByRole('button', { name: 'Add as secondary' }).click();
    await page.locator('.flash-success', { hasText: 'The new secret of default was added as the secondary. Next: test it.' }).waitFor();
    assert.ok(!(await page.content()).includes(NEW.value), 'the secret is not shown back');
    assert.match(await panel.locator('tr[data-slot="secondary"]').innerText(), /Client secret[\s\S]*2031-01-01[\s\S]*Nw7[\s\S]*standby/i);
    assert.equal(await panel.getByRole('button', { name: 'Make primary', exact: true }).isDisabled(), true, 'Make primary waits for a passing test');

    // 2. Test it: a real token request at the emulator with the secondary alone.
    await panel.getByRole('button', { name: 'Test the secondary' }).click();
    await page.locator('.flash-success', { hasText: 'The secondary secret of default passed the test' }).waitFor();
    assert.match(await panel.locator('tr[data-slot="secondary"] [data-last-test]').innerText(), /passed/i);
    await page.screenshot({ path: join(SHOTS, '17-rotation-tested-laptop.png'), fullPage: true });

    // 3. Make primary.
    assert.equal(await panel.getByRole('button', { name: 'Make primary', exact: true }).isDisabled(), false);
    await panel.getByRole('button', { name: 'Make primary', exact: true }).click();
    await page.locator('.flash-success', { hasText: 'The new credential of default is now the primary' }).waitFor();
    assert.match(await panel.locator('tr[data-slot="primary"]').innerText(), /Nw7/);
    assert.equal(await panel.locator('li[data-step="remove"]').getAttribute('aria-current'), 'step');

    // On a phone the panel stacks and nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    const sideways = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(sideways <= 1, `the Email Settings page with the Rotate panel scrolls sideways on a phone by ${sideways}px`);
    await panel.screenshot({ path: join(SHOTS, '17-rotation-panel-phone.png') });
    await page.setViewportSize({ width: 1366, height: 900 });

    // 4. Remove the old one: the confirmation dialog first (dismissed: nothing happens), then accepted.
    page.off('dialog', unexpectedDialog);
    const asked: string[] = [];
    page.once('dialog', (d) => {
      asked.push(d.message());
      void d.dismiss();
    });
    await panel.getByRole('button', { name: 'Remove the old one…' }).click();
    assert.match(asked[0] ?? '', /Remove the old credential of default\?/);
    assert.ok(svc.deps.credentialRotation!.get('default')!.secondary, 'cancelled: still there');
    page.once('dialog', (d) => void d.accept());
    await panel.getByRole('button', { name: 'Remove the old one…' }).click();
    await page.locator('.flash-success', { hasText: 'The old credential of default was removed. Delete it in Entra too.' }).waitFor();
    page.on('dialog', unexpectedDialog);
    const view = svc.deps.credentialRotation!.get('default')!;
    assert.equal(view.secondary, null);
    assert.equal(view.primary?.hint, NEW.value.slice(0, 3));
    await page.screenshot({ path: join(SHOTS, '17-rotation-done-laptop.png'), fullPage: true });

    // Entra: the old secret is deleted (expired here); a test email still goes out, with the new one.
    const expired = await httpsRequest(`${emulator.authorityHost}/_emulator/credentials/expire`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appId: tenant.clientId, secretId: tenant.secretId }), ca: emulator.caPem });
    assert.equal(expired.status, 200, expired.body);
    const mark = emulator.log().length;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Test', exact: true }).click();
    await page.getByLabel('Recipient').fill('rotation@example.com');
    await page.getByRole('button', { name: 'Send test email' }).click();
    await page.locator('[data-outcome="success"]').waitFor();
    assert.ok(emulator.messages().some((m) => m.to.includes('rotation@example.com')), 'delivered at the emulator');
    const tokens = emulator.log().slice(mark).filter((e): e is TokenLogEntry => e.kind === 'token');
    assert.ok(tokens.length >= 1, 'the test email requested a token (no token from before the rotation was reused)');
    assert.ok(tokens.every((t) => t.status === 200 && t.credential === 'secret'), `no token request was refused (none with the old secret): ${JSON.stringify(tokens)}`);
    assert.ok(!logs.lines.some((l) => l.includes(NEW.value) || l.includes(tenant.clientSecret!)), 'no secret in the log');
  });
});
