/**
 * The admin page in a real browser: Playwright (playwright-core) driving Debian's Chromium
 * (/usr/bin/chromium) against the real service (createApp + @hono/node-server on port 0, a real
 * SQLite data dir in a temp folder, the delivery worker) and the real Microsoft 365 emulator on
 * port 0, whose CA is passed explicitly to the service (and so to its doctor).
 *
 * The story an administrator lives through: sign in; switch modern authentication off and on
 * and see the SMTP section disappear and appear; save invalid values and see every error next
 * to its field; save valid values pointing at the emulator; send a test email and see it
 * succeed; break the tenant (the Exchange service principal was never registered), run
 * diagnostics and see the fix with `New-ServicePrincipal` carrying the Enterprise Application's
 * object id (never the App Registration's); find the failed message in the delivery log, with
 * a `<script>` subject shown as text; fix the tenant and retry it.
 *
 * Screenshots of each page, at a laptop and a phone size, go to test-artifacts/screenshots/
 * (git-ignored). Without /usr/bin/chromium the tests are skipped, loudly (stderr and the skip
 * message say why); they never fail for that reason. CI installs Chromium with
 * scripts/install-system-deps.sh.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Dialog, Page } from 'playwright-core';
import { createAdminApp } from '../../src/admin/index.js';
import { buildTenantState, startEmulator, type BuiltTenant, type Emulator, type TenantStateOptions } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log/logger.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { LineCapture, tempDir, waitFor } from '../service/helpers.js';
import { ADMIN_PASSWORD, MASTER_KEY } from './helpers.js';

/** Debian's Chromium; MAILGATE_TEST_CHROMIUM points elsewhere (or at nothing, to see the skip). */
const CHROMIUM = process.env.MAILGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = resolve('test-artifacts/screenshots');
const LAPTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };
const XSS_SUBJECT = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">Password reset';

const SKIP_REASON = existsSync(CHROMIUM)
  ? undefined
  : `SKIPPED: ${CHROMIUM} is not installed, so the admin page browser tests cannot run. Install it with scripts/install-system-deps.sh (or: apt-get install -y --no-install-recommends chromium fonts-dejavu-core).`;
if (SKIP_REASON) {
  process.stderr.write(`\n*** admin browser tests ${SKIP_REASON} ***\n\n`);
  // A skipped test (not only a skipped suite), so the run's summary counts it.
  it('admin page browser tests', { skip: SKIP_REASON }, () => undefined);
}

interface World {
  emulator: Emulator;
  tenant: BuiltTenant;
  tenantOptions: TenantStateOptions;
  svc: RunningService;
  context: BrowserContext;
  page: Page;
  profile: string;
  data: { dir: string; remove(): void };
  logs: LineCapture;
  /** The handler that fails the test on any dialog (taken off where a dialog is expected). */
  unexpectedDialog: (d: Dialog) => void;
}

/** Elements that stick out to the right of the viewport (empty when nothing scrolls sideways). */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width + 1) return [];
    const out: string[] = [`page is ${document.documentElement.scrollWidth}px wide for ${width}px`];
    for (const el of Array.from(document.querySelectorAll('body *'))) {
      const r = el.getBoundingClientRect();
      if (r.right > width + 1 && r.width > 0) out.push(`${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${el.className} right=${Math.round(r.right)}`);
    }
    return out.slice(0, 10);
  });
}

async function shot(page: Page, name: string, viewport = LAPTOP): Promise<void> {
  await page.setViewportSize(viewport);
  if (viewport === PHONE) assert.deepEqual(await overflowing(page), [], `${name} scrolls sideways on a phone`);
  await page.screenshot({ path: join(SHOTS, `${name}-${viewport === PHONE ? 'phone' : 'laptop'}.png`), fullPage: true });
  if (viewport !== LAPTOP) await page.setViewportSize(LAPTOP);
}

const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

describe('admin page in Chromium', { skip: SKIP_REASON }, () => {
  let w: World;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const tenantOptions: TenantStateOptions = {};
    const tenant = buildTenantState(tenantOptions);
    // Keep every id of the tenant, so that breaking it later changes one thing only.
    Object.assign(tenantOptions, {
      tenantId: tenant.tenantId,
      appId: tenant.clientId,
      applicationObjectId: tenant.applicationObjectId,
      servicePrincipalObjectId: tenant.servicePrincipalObjectId,
      clientSecret: tenant.clientSecret,
      secretId: tenant.secretId,
      domain: tenant.domain,
    });
    const emulator = await startEmulator(tenant.state, { limits: { messagesPerMinute: Infinity } });
    const data = tempDir('mailgate-admin-browser-');
    const logs = new LineCapture();
    const svc = await startService({
      env: { MAILGATE_DATA_DIR: data.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_ADMIN_PASSWORD: ADMIN_PASSWORD, MAILGATE_HTTP_PORT: '0', MAILGATE_POLL_INTERVAL_MS: '50' },
      ca: emulator.caPem,
      logger: createLogger({ destination: logs, level: 'info' }),
      // Short idle timeout: after the tenant is broken, the next message must open (and AUTH) a new session.
      mailerDeps: { tokenRetry: { maxAttempts: 1 }, idleTimeoutMs: 100 },
      admin: createAdminApp,
    });
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'mailgate-chromium-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: LAPTOP });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: svc.url });
    const page = context.pages()[0] ?? (await context.newPage());
    const unexpectedDialog = (d: Dialog) => {
      throw new Error(`unexpected dialog: ${d.message()}`);
    };
    page.on('dialog', unexpectedDialog);
    w = { emulator, tenant, tenantOptions, svc, context, page, profile, data, logs, unexpectedDialog };
  });

  after(async () => {
    if (!w) return;
    await w.context.close().catch(() => undefined);
    rmSync(w.profile, { recursive: true, force: true });
    await w.svc.stop();
    await w.emulator.stop();
    w.data.remove();
  });

  it('signs in', async () => {
    const { page, svc } = w;
    await page.goto(`${svc.url}/admin/settings`);
    await page.waitForURL(/\/admin\/login/);
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    await shot(page, '01-login');
    await shot(page, '01-login', PHONE);
    await page.getByLabel('Admin password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#login-error').waitFor();
    assert.match(await page.locator('#login-error').innerText(), /The password is not correct/);
    assert.equal((await page.locator('main').innerText()).split('The password is not correct').length - 1, 1, 'the login error is shown once');
    assert.equal(await page.getByLabel('Admin password').getAttribute('aria-invalid'), 'true');
    const icon = await page.request.get(`${svc.url}/favicon.ico`);
    assert.equal(icon.status(), 200, '/favicon.ico is served (through its redirect)');
    assert.equal(icon.headers()['content-type'], 'image/x-icon');
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/admin\/settings$/);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Email Settings');
  });

  it('toggles modern authentication and sees the SMTP section appear (with the keyboard too)', async () => {
    const { page } = w;
    const modern = page.locator('#modern-section');
    const basic = page.locator('#basic-section');
    const toggle = page.getByRole('switch', { name: 'Use modern SMTP Authentication' });
    assert.equal(await toggle.isChecked(), true);
    assert.equal(await modern.isVisible(), true);
    await toggle.uncheck();
    await modern.waitFor({ state: 'hidden' });
    assert.equal(await basic.isVisible(), true);
    assert.match(await basic.innerText(), /end of December 2026/);
    assert.equal(await page.getByLabel('SMTP Username').isVisible(), true);
    await shot(page, '02-settings-basic');
    await toggle.focus();
    await page.keyboard.press('Space');
    await modern.waitFor({ state: 'visible' });
    assert.equal(await basic.isVisible(), false);
    for (const label of ['SMTP Client Server', 'Port', 'Application (client) ID', 'Client Secret', 'Directory (tenant) ID', 'Authorized from Address', 'Cloud']) {
      assert.equal(await modern.getByLabel(label, { exact: true }).isVisible(), true, label);
    }
    assert.deepEqual(await modern.getByLabel('Cloud').locator('option').allInnerTexts(), ['Global', 'GCC High', 'DoD', 'China (21Vianet)']);
    await shot(page, '03-settings-modern');
    await shot(page, '03-settings-modern', PHONE);
  });

  it('saves invalid values and sees every error next to its field', async () => {
    const { page } = w;
    const modern = page.locator('#modern-section');
    await modern.getByLabel('Port', { exact: true }).fill('70000');
    await modern.getByLabel('Application (client) ID').fill('my-app');
    await modern.getByLabel('Client Secret', { exact: true }).fill('Typed~secret-that-must-not-come-back');
    await modern.getByLabel('Directory (tenant) ID').fill('not a tenant');
    await modern.getByLabel('Authorized from Address').fill('noreply');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.error-summary').waitFor();
    const expected: Record<string, RegExp> = {
      'modern-smtpPort': /Port must be between 1 and 65535/,
      'modern-clientId': /Application \(client\) ID must be a GUID/,
      'modern-tenantId': /Directory \(tenant\) ID must be the Directory \(tenant\) ID GUID or a verified domain/,
      'modern-authorizedFrom': /Authorized from Address must be a valid email address/,
    };
    for (const [id, message] of Object.entries(expected)) {
      const error = page.locator(`#${id}-error`);
      assert.equal(await error.isVisible(), true, id);
      assert.match(await error.innerText(), message);
      assert.equal(await page.locator(`#${id}`).getAttribute('aria-invalid'), 'true');
      // Next to its field: inside the same .field block as the input.
      assert.equal(await page.locator('.field', { has: page.locator(`#${id}`) }).locator(`#${id}-error`).count(), 1);
    }
    assert.equal(await page.locator('.error-summary li').count(), 4);
    assert.equal(await page.locator('.error-summary').evaluate((el) => el === document.activeElement), true, 'focus moves to the summary');
    assert.ok(!(await page.content()).includes('Typed~secret-that-must-not-come-back'));
    await shot(page, '04-settings-errors');
    await shot(page, '04-settings-errors', PHONE);
  });

  it('saves valid values pointing at the emulator', async () => {
    const { page, tenant, emulator, svc } = w;
    const modern = page.locator('#modern-section');
    await modern.getByLabel('SMTP Client Server').fill(emulator.smtp.host);
    await modern.getByLabel('Port', { exact: true }).fill(String(emulator.smtp.port));
    await modern.getByLabel('Application (client) ID').fill(tenant.clientId);
    await modern.getByLabel('Client Secret', { exact: true }).fill(tenant.clientSecret!);
    await modern.getByLabel('Directory (tenant) ID').fill(tenant.tenantId);
    await modern.getByLabel('Authorized from Address').fill(tenant.authorizedFrom);
    await page.locator('summary', { hasText: 'Advanced settings' }).click();
    await page.getByLabel('Authority host').fill(emulator.authorityHost);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('.flash-success', { hasText: 'Saved.' }).waitFor();
    assert.equal(svc.settings.view().valid, true);
    const html = await page.content();
    assert.ok(!html.includes(tenant.clientSecret!), 'the secret never reaches the browser');
    assert.match(await page.locator('#modern-clientSecret-hint').innerText(), /Currently set/);
    assert.ok((await svc.store.listAudit(10)).some((e) => e.action === 'settings.update' && e.actor === 'admin'));
    await shot(page, '05-settings-saved');
  });

  it('sends a test email and sees it succeed in place', async () => {
    const { page, svc, emulator } = w;
    await nav(page, 'Test').click();
    await page.getByLabel('Recipient').fill('admin@example.com');
    await page.evaluate(() => ((window as unknown as { __samePage?: number }).__samePage = 1));
    await page.getByRole('button', { name: 'Send test email' }).click();
    const outcome = page.locator('#test-result [data-outcome]');
    await outcome.waitFor({ timeout: 20_000 });
    assert.equal(await outcome.getAttribute('data-outcome'), 'success', await outcome.innerText());
    assert.match(await page.locator('#test-result [data-reply]').innerText(), /^250 /);
    assert.equal(await page.evaluate(() => (window as unknown as { __samePage?: number }).__samePage), 1, 'shown in place: no page load with the script');
    assert.equal(await page.locator('#test-result').getAttribute('aria-live'), 'polite');
    assert.ok(emulator.messages().some((m) => JSON.stringify(m).includes('admin@example.com')));
    assert.ok(!(await page.content()).includes(w.tenant.clientSecret!));
    await shot(page, '06-test-success');
    await shot(page, '06-test-success', PHONE);
    // The test email is in the Delivery log, marked as a test.
    await page.locator('#test-result').getByRole('link', { name: 'See it in the Delivery log' }).click();
    await page.locator('ol.timeline').waitFor();
    assert.match(await page.locator('dl.facts').innerText(), /Test email, sent at once/);
    await nav(page, 'Delivery log').click();
    const testRow = page.locator('tr', { has: page.locator('.badge-test') });
    assert.equal(await testRow.count(), 1);
    assert.match(await testRow.innerText(), /admin@example\.com/);
    assert.match(await testRow.locator('td[data-label="Reply"]').innerText(), /^250 2\.0\.0$/, 'the short reply');
    void svc;
  });

  it('delivers a message submitted through the API (created with a key from the API keys page)', async () => {
    const { page, svc } = w;
    await nav(page, 'API keys').click();
    await page.getByLabel('Name').fill('browser-test');
    await page.getByLabel('Scope').selectOption('send');
    await page.getByRole('button', { name: 'Create API key' }).click();
    const key = (await page.locator('#new-api-key').innerText()).trim();
    assert.match(key, /^mg_/);
    await shot(page, '07-api-keys-created');
    (w as World & { key?: string }).key = key;
    const r = await fetch(`${svc.url}/api/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: 'customer@example.com', subject: 'Welcome aboard', text: 'Hi' }) });
    assert.equal(r.status, 202);
    const { id } = (await r.json()) as { id: string };
    await waitFor(async () => (await svc.store.get(id))?.status === 'sent', 20_000, 'message sent');
    await page.reload();
    assert.match(await page.locator('table.data').first().innerText(), /browser-test/);
    assert.ok(!(await page.content()).includes(key), 'the key is shown only once');
  });

  it('API keys: shows when each key was last used, and revokes only after a confirmation', async () => {
    const { page } = w;
    await nav(page, 'API keys').click();
    assert.deepEqual(await page.locator('table.data').first().locator('thead th').allInnerTexts(), ['Name', 'Scope', 'Starts with', 'Created', 'Last used', 'Action']);
    assert.match(await page.locator('tr[data-key="browser-test"] td[data-label="Last used"]').innerText(), /UTC$/, 'the key used for the message has a time');
    await page.getByLabel('Name').fill('to-revoke');
    await page.getByRole('button', { name: 'Create API key' }).click();
    await page.locator('#new-api-key').waitFor();
    assert.equal(await page.locator('tr[data-key="to-revoke"] td[data-label="Last used"]').innerText(), 'Never');
    page.off('dialog', w.unexpectedDialog);
    try {
      const asked: string[] = [];
      page.once('dialog', (d) => {
        asked.push(d.message());
        void d.dismiss();
      });
      await page.getByRole('button', { name: 'Revoke to-revoke…' }).click();
      assert.match(asked[0] ?? '', /Revoke the API key "to-revoke"\? Applications using it get 401 at once/);
      assert.equal(await page.locator('tr[data-key="to-revoke"]').count(), 1, 'cancelled: still active');
      assert.ok((await w.svc.store.listApiKeys()).some((k) => k.name === 'to-revoke' && k.revokedAt === undefined));
      page.once('dialog', (d) => void d.accept());
      await page.getByRole('button', { name: 'Revoke to-revoke…' }).click();
      await page.locator('.flash-success', { hasText: 'API key "to-revoke" revoked.' }).waitFor();
    } finally {
      page.on('dialog', w.unexpectedDialog);
    }
    assert.ok((await w.svc.store.listApiKeys()).some((k) => k.name === 'to-revoke' && k.revokedAt !== undefined));
    await shot(page, '07b-api-keys-revoked');
  });

  it('breaks the tenant (no service principal), runs diagnostics, and sees New-ServicePrincipal with the right object id', async () => {
    const { page, emulator, tenant } = w;
    emulator.setState(buildTenantState({ ...w.tenantOptions, exchangeServicePrincipal: 'missing' }).state);
    await nav(page, 'Diagnostics').click();
    await shot(page, '08-diagnostics-empty');
    await page.evaluate(() => ((window as unknown as { __samePage?: number }).__samePage = 1));
    await page.getByRole('button', { name: 'Run diagnostics' }).click();
    const steps = page.locator('#diag-result ol.steps > li');
    await steps.first().waitFor({ timeout: 30_000 });
    const status = Object.fromEntries(await Promise.all((await steps.all()).map(async (s) => [await s.getAttribute('data-check'), await s.getAttribute('data-status')])));
    assert.deepEqual(status, { settings: 'pass', dns: 'pass', tcp: 'pass', starttls: 'pass', token: 'pass', 'token-claims': 'pass', 'smtp-auth': 'fail', send: 'skip' }, JSON.stringify(status));
    assert.equal(await page.evaluate(() => (window as unknown as { __samePage?: number }).__samePage), 1, 'shown in place');
    const failed = page.locator('[data-check="smtp-auth"]');
    const commands = await failed.locator('pre').allInnerTexts();
    const expected = `New-ServicePrincipal -AppId ${tenant.clientId} -ObjectId ${tenant.servicePrincipalObjectId} -DisplayName "Mailgate"`;
    assert.ok(commands.includes(expected), `missing "${expected}" in:\n${commands.join('\n')}`);
    assert.ok(!commands.join('\n').includes(tenant.applicationObjectId), "never the App Registration's object id");
    assert.match(await failed.locator('.fix').innerText(), /New-ServicePrincipal/);

    // The copy button (progressive script) puts the command on the clipboard.
    const index = commands.indexOf(expected);
    const copy = failed.locator('button.copy').nth(index);
    assert.equal(await copy.isVisible(), true);
    await copy.click();
    await page.locator('#copy-status', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), expected);

    // The set-up script link carries the same object id.
    const href = await page.getByRole('link', { name: 'Download the setup PowerShell script' }).getAttribute('href');
    assert.ok(href?.endsWith(`?oid=${tenant.servicePrincipalObjectId}`), href ?? '');
    const script = await page.request.get(new URL(href!, page.url()).toString());
    assert.equal(script.status(), 200);
    const text = await script.text();
    assert.ok(text.includes(tenant.servicePrincipalObjectId));
    assert.ok(!text.includes(tenant.applicationObjectId));
    assert.ok(!(await page.content()).includes(tenant.clientSecret!));
    await shot(page, '09-diagnostics-failed');
    await shot(page, '09-diagnostics-failed', PHONE);
  });

  it('sees the failed message in the delivery log, a <script> subject as text, the attempt timeline, and retries it', async () => {
    const { page, svc, emulator } = w;
    const key = (w as World & { key?: string }).key!;
    const r = await fetch(`${svc.url}/api/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: 'user@example.com', subject: XSS_SUBJECT, text: 'Your code: 123456' }) });
    assert.equal(r.status, 202);
    const { id } = (await r.json()) as { id: string };
    await waitFor(async () => (await svc.store.get(id))?.status === 'failed', 30_000, 'message failed');

    await nav(page, 'Delivery log').click();
    const row = page.locator(`tr[data-message="${id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /Failed/i);
    assert.match(await row.innerText(), /user@example\.com/);
    assert.match(await row.locator('td[data-label="Reply"]').innerText(), /^535 5\.7\.3\n/, 'the short reply: code and enhanced status');
    assert.doesNotMatch(await row.innerText(), /Authentication unsuccessful/, 'the full reply is on the message page');
    assert.ok((await row.innerText()).includes(XSS_SUBJECT), 'the subject is shown as text');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no script ran');
    assert.equal(await page.locator('svg.chart rect.bar-sent').count() >= 1, true);
    assert.equal(await page.locator('svg.chart rect.bar-failed').count() >= 1, true);
    await shot(page, '10-delivery-log');
    await shot(page, '10-delivery-log', PHONE);

    await page.getByRole('link', { name: 'Failed (1)' }).click();
    await page.waitForURL(/status=failed/);
    assert.equal(await page.locator('table.stack tbody tr').count(), 1);

    await row.getByRole('link').first().click();
    await page.locator('ol.timeline').waitFor();
    assert.match(await page.locator('ol.timeline').innerText(), /Attempt 1: Failed/);
    assert.match(await page.locator('ol.timeline').innerText(), /New-ServicePrincipal/);
    assert.match(await page.locator('ol.timeline pre.reply').innerText(), /^535 5\.7\.3 Authentication unsuccessful/);
    const fix = `New-ServicePrincipal -AppId ${w.tenant.clientId} -ObjectId ${w.tenant.servicePrincipalObjectId} -DisplayName "Mailgate"`;
    assert.ok((await page.locator('ol.timeline pre').allInnerTexts()).includes(fix), 'the real oid from the token, not the placeholder');
    assert.doesNotMatch(await page.locator('ol.timeline').innerText(), /the token's oid\)>/);
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
    await shot(page, '11-message-detail');
    await shot(page, '11-message-detail', PHONE);

    // The worker paused delivery after the refusal (the queue waits); the page says so.
    await page.goto(`${svc.url}/admin/messages/${id}`);
    assert.match(await page.locator('[data-delivery-paused]').innerText(), /Delivery is paused until .* UTC because the configuration was refused \(AUTH_FAILED\)/);
    // A message submitted now waits; the log says until when, not a due time already past.
    const held = await fetch(`${svc.url}/api/v1/messages`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ to: 'later@example.com', subject: 'Held while paused', text: 'x' }) });
    const heldId = ((await held.json()) as { id: string }).id;
    await nav(page, 'Delivery log').click();
    const heldReply = page.locator(`tr[data-message="${heldId}"] td[data-label="Reply"]`);
    assert.match(await heldReply.innerText(), /^Paused until \d\d:\d\d UTC$/);
    await shot(page, '11b-delivery-log-paused');
    await page.goto(`${svc.url}/admin/messages/${id}`);
    // The administrator fixes the tenant and retries: the retry ends the pause and the message goes out.
    emulator.setState(buildTenantState(w.tenantOptions).state);
    await page.getByRole('button', { name: 'Retry delivery' }).click();
    await page.locator('.flash-success', { hasText: 'queued again' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Retry delivery' }).count(), 0);
    for (let i = 0; i < 100 && (await svc.store.get(id))!.status !== 'sent'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await svc.store.get(id))!.status, 'sent', 'delivered after the retry');
    await page.reload();
    assert.match(await page.locator('ol.timeline').innerText(), /Attempt 2: Sent/);
    assert.equal(await page.locator('[data-delivery-paused]').count(), 0, 'no longer paused');
    await shot(page, '12-message-retried');
  });

  it('is keyboard usable: the skip link comes first and focus is visible', async () => {
    const { page, svc } = w;
    await page.goto(`${svc.url}/admin/settings`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    assert.equal(outline, 'solid');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => !!document.activeElement?.closest('main')), true, 'the next stop is inside the main content');
    for (let i = 0; i < 3 && (await page.evaluate(() => document.activeElement?.id)) !== 'useModernAuth'; i++) await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'useModernAuth', 'the switch is reached with Tab');
  });

  it('phone size: no horizontal scrolling on the main pages', async () => {
    const { page, svc } = w;
    await page.setViewportSize(PHONE);
    try {
      for (const path of ['/admin/settings', '/admin/test', '/admin/diagnostics', '/admin/messages', '/admin/api-keys']) {
        await page.goto(`${svc.url}${path}`);
        assert.deepEqual(await overflowing(page), [], `${path} scrolls sideways`);
      }
      await page.goto(`${svc.url}/admin/api-keys`);
      await shot(page, '13-api-keys', PHONE);
    } finally {
      await page.setViewportSize(LAPTOP);
    }
  });

  it('works without JavaScript: the server renders the section for the submitted state, and the test outcome', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await (await browser.newContext({ javaScriptEnabled: false, viewport: LAPTOP })).newPage();
      await page.goto(`${w.svc.url}/admin/login`);
      await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/admin\/settings$/);
      const toggle = page.getByRole('switch', { name: 'Use modern SMTP Authentication' });
      await toggle.uncheck();
      assert.equal(await page.locator('#modern-section').isVisible(), true, 'no script: nothing changes until the form is sent');
      await page.getByRole('button', { name: 'Save' }).click();
      await page.locator('.error-summary').waitFor();
      assert.equal(await page.locator('#modern-section').isVisible(), false);
      assert.equal(await page.locator('#basic-section').isVisible(), true, 'the Basic section for the submitted state');
      assert.match(await page.locator('#basic-smtpUsername-error').innerText(), /SMTP Username is required when modern authentication is off/);
      assert.match(await page.locator('#basic-smtpPassword-error').innerText(), /SMTP Password is required/);
      assert.equal(await page.locator('#basic-smtpHost').inputValue(), w.emulator.smtp.host, 'values carried over');
      assert.ok(!(await page.content()).includes(w.tenant.clientSecret!));
      await shot(page, '14-settings-nojs-basic-errors');
      assert.equal(w.svc.settings.view().values.useModernAuth, true, 'nothing saved');

      await page.goto(`${w.svc.url}/admin/test`);
      await page.getByLabel('Recipient').fill('nojs@example.com');
      await page.getByRole('button', { name: 'Send test email' }).click();
      await page.locator('#test-result [data-outcome="success"]').waitFor({ timeout: 20_000 });
      assert.equal(await page.locator('button.copy:visible').count(), 0, 'copy buttons need the script and stay hidden');

      // Revoking a key without the script: a confirmation page, then the key is revoked.
      await page.goto(`${w.svc.url}/admin/api-keys`);
      await page.getByLabel('Name').fill('nojs-key');
      await page.getByRole('button', { name: 'Create API key' }).click();
      await page.locator('#new-api-key').waitFor();
      await page.getByRole('button', { name: 'Revoke nojs-key…' }).click();
      await page.getByRole('heading', { name: 'Revoke the API key "nojs-key"?' }).waitFor();
      assert.ok((await w.svc.store.listApiKeys()).some((k) => k.name === 'nojs-key' && k.revokedAt === undefined), 'not before the confirmation');
      await shot(page, '15-api-key-revoke-confirm-nojs');
      await page.getByRole('button', { name: 'Revoke key' }).click();
      await page.locator('.flash-success', { hasText: 'API key "nojs-key" revoked.' }).waitFor();
      assert.ok((await w.svc.store.listApiKeys()).some((k) => k.name === 'nojs-key' && k.revokedAt !== undefined));
    } finally {
      await browser.close();
    }
  });

  it('signs out', async () => {
    const { page, svc } = w;
    await page.goto(`${svc.url}/admin/settings`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/admin\/login\?signed-out/);
    await page.goto(`${svc.url}/admin/settings`);
    await page.waitForURL(/\/admin\/login/);
  });
});
