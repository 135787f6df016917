/**
 * The "Senders" tab in a real browser (Playwright driving Debian's Chromium, the real service on
 * a socket, a real SQLite data dir): reach it from the navigation, add a credential (its secret
 * never shown back), add a Send As sender using it and see it listed, delete it after the
 * confirmation dialog; its Test sends as it and its Diagnostics run as it. Skipped loudly without Chromium, as test/admin/browser.test.ts is.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { createAdminApp } from '../../src/admin/index.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { createLogger } from '../../src/log/logger.js';
import { FakeMailer, LineCapture, tempDir } from '../service/helpers.js';
import { ADMIN_PASSWORD, MASTER_KEY } from './helpers.js';

const CHROMIUM = process.env.MAILGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('test-artifacts/screenshots');
const SKIP_REASON = existsSync(CHROMIUM) ? undefined : `SKIPPED: ${CHROMIUM} is not installed (scripts/install-system-deps.sh installs it).`;
const SECRET = 'Browser~credential-secret_0123456789';
if (SKIP_REASON) {
  process.stderr.write(`\n*** senders browser test ${SKIP_REASON} ***\n\n`);
  it('senders tab in Chromium', { skip: SKIP_REASON }, () => undefined);
}

describe('admin page in Chromium: Senders', { skip: SKIP_REASON }, () => {
  let svc: RunningService;
  let context: BrowserContext;
  let page: Page;
  let profile = '';
  const mailer = new FakeMailer();
  const data = tempDir('mailgate-senders-browser-');

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    svc = await startService({
      env: {
        MAILGATE_DATA_DIR: data.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_ADMIN_PASSWORD: ADMIN_PASSWORD, MAILGATE_HTTP_PORT: '0',
        MAILGATE_CLIENT_ID: '3cc0b6a1-1111-4222-8333-444455556666', MAILGATE_TENANT_ID: 'contoso.onmicrosoft.com', MAILGATE_CLIENT_SECRET: 'browser-default-secret-1', MAILGATE_AUTHORIZED_FROM: 'noreply@contoso.com',
      },
      worker: false,
      logger: createLogger({ destination: new LineCapture(), level: 'warn' }),
      createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
      admin: createAdminApp,
      // The doctor's network steps are covered elsewhere; here: that the page runs it as the sender and shows its report.
      runDiagnostics: async (input) => ({ ok: input.sender === 'support@fabrikam.com', checks: [{ id: 'settings', status: 'pass', summary: `Checked as ${input.sender ?? 'the default sender'}.` }] }),
    });
    const { chromium } = await import('playwright-core');
    profile = mkdtempSync(join(tmpdir(), 'mailgate-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1366, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
    await svc?.stop();
    data.remove();
  });

  it('adds a credential and a sender, lists it, deletes it after the confirmation', async () => {
    await page.goto(`${svc.url}/admin/login`);
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/admin\/settings$/);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Senders', exact: true }).click();
    await page.waitForURL(/\/admin\/senders$/);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Senders');
    await page.locator('tr[data-sender="noreply@contoso.com"]').waitFor();

    // A credential.
    await page.locator('#credential-name').fill('fabrikam');
    await page.locator('#credential-tenantId').fill('fabrikam.onmicrosoft.com');
    await page.locator('#credential-clientId').fill('9f1e2d3c-4b5a-4697-8877-665544332211');
    await page.getByLabel('Client secret', { exact: true }).fill(SECRET);
    await page.getByRole('button', { name: 'Add credential' }).click();
    await page.locator('.flash-success', { hasText: 'Credential fabrikam added.' }).waitFor();
    assert.match(await page.locator('tr[data-credential="fabrikam"]').innerText(), /Client secret \(set\)/);
    assert.ok(!(await page.content()).includes(SECRET), 'the secret is not shown back');
    assert.equal(await page.getByLabel('Client secret', { exact: true }).inputValue(), '');

    // A Send As sender using it.
    await page.locator('#sender-address').fill('support@fabrikam.com');
    await page.locator('#sender-signInAs').fill('noreply@fabrikam.com');
    await page.locator('#sender-credential').selectOption('fabrikam');
    await page.locator('#sender-dailyRecipients').fill('2000');
    await page.getByRole('button', { name: 'Add sender' }).click();
    await page.locator('.flash-success', { hasText: 'Sender support@fabrikam.com added.' }).waitFor();
    const row = page.locator('tr[data-sender="support@fabrikam.com"]');
    const text = await row.innerText();
    assert.match(text, /noreply@fabrikam\.com/);
    assert.match(text, /Send As/i);
    assert.match(text, /fabrikam/);
    assert.match(text, /0 \/ 2000/);
    assert.ok(svc.deps.senders!.get('support@fabrikam.com'));
    await page.screenshot({ path: join(SHOTS, '16-senders-laptop.png'), fullPage: true });

    // Its Test and Diagnostics.
    await row.getByRole('link', { name: 'Test and diagnostics of support@fabrikam.com' }).click();
    await page.waitForURL(/\/admin\/senders\/check\?address=/);
    await page.getByLabel('Send a test email to').fill('me@example.com');
    await page.getByRole('button', { name: 'Send test email' }).click();
    await page.locator('[data-outcome="success"]').waitFor();
    assert.equal(mailer.calls.at(-1)?.from, 'support@fabrikam.com', 'sent as the sender (Send As)');
    await page.getByRole('button', { name: 'Run diagnostics' }).click();
    await page.locator('[data-check="settings"]').waitFor();
    assert.match(await page.locator('[data-check="settings"]').innerText(), /Checked as support@fabrikam\.com\./);
    await page.screenshot({ path: join(SHOTS, '16-sender-check-laptop.png'), fullPage: true });
    await page.goto(`${svc.url}/admin/senders`);

    // Delete: the dialog first; cancelled keeps it.
    const asked: string[] = [];
    page.once('dialog', (d) => {
      asked.push(d.message());
      void d.dismiss();
    });
    await page.getByRole('button', { name: 'Delete support@fabrikam.com…' }).click();
    assert.match(asked[0] ?? '', /Delete the sender support@fabrikam\.com\?/);
    assert.ok(svc.deps.senders!.get('support@fabrikam.com'), 'cancelled: still there');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete support@fabrikam.com…' }).click();
    await page.locator('.flash-success', { hasText: 'Sender support@fabrikam.com deleted.' }).waitFor();
    assert.equal(await page.locator('tr[data-sender="support@fabrikam.com"]').count(), 0);
    assert.equal(svc.deps.senders!.get('support@fabrikam.com'), undefined);
  });
});
