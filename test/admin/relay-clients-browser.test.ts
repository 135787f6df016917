/**
 * The "Relay clients" tab in a real browser (Playwright driving Debian's Chromium, the real
 * service on a socket, a real SQLite data dir): reach it from the navigation, create a client
 * and read its password once, see a rule's error next to its field, revoke only after the
 * confirmation dialog; no sideways scrolling on a phone. Skipped loudly without Chromium, as
 * test/admin/browser.test.ts is.
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
import { authenticateRelayClient, listRelayClients } from '../../src/service/access/relay-clients.js';
import { FakeMailer, LineCapture, tempDir } from '../service/helpers.js';
import { ADMIN_PASSWORD, MASTER_KEY } from './helpers.js';

const CHROMIUM = process.env.MAILGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = resolve('test-artifacts/screenshots');
const SKIP_REASON = existsSync(CHROMIUM) ? undefined : `SKIPPED: ${CHROMIUM} is not installed (scripts/install-system-deps.sh installs it).`;
if (SKIP_REASON) {
  process.stderr.write(`\n*** relay clients browser test ${SKIP_REASON} ***\n\n`);
  it('relay clients tab in Chromium', { skip: SKIP_REASON }, () => undefined);
}

describe('admin page in Chromium: Relay clients', { skip: SKIP_REASON }, () => {
  let svc: RunningService;
  let context: BrowserContext;
  let page: Page;
  let profile = '';
  const data = tempDir('mailgate-relay-browser-');

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const mailer = new FakeMailer();
    svc = await startService({
      env: { MAILGATE_DATA_DIR: data.dir, MAILGATE_MASTER_KEY: MASTER_KEY, MAILGATE_ADMIN_PASSWORD: ADMIN_PASSWORD, MAILGATE_HTTP_PORT: '0' },
      worker: false,
      logger: createLogger({ destination: new LineCapture(), level: 'warn' }),
      createMailer: () => Object.assign(mailer, { stats: { peakConnections: 0, connectionsOpened: 0, openConnections: 0 } }),
      admin: createAdminApp,
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

  it('creates a client (password shown once), shows a rule\'s error at its field, revokes after the confirmation', async () => {
    await page.goto(`${svc.url}/admin/login`);
    await page.getByLabel('Admin password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/admin\/settings$/);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Relay clients', exact: true }).click();
    await page.waitForURL(/\/admin\/relay-clients$/);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Relay clients');

    // A rule of the model, shown next to its field.
    await page.getByLabel('Name', { exact: true }).fill('mfp-lobby');
    await page.getByLabel(/cannot authenticate/).check();
    await page.getByRole('button', { name: 'Create relay client' }).click();
    await page.locator('#relay-allow-ip-error').waitFor();
    assert.match(await page.locator('#relay-allow-ip-error').innerText(), /needs at least one --allow-ip/);
    assert.equal(await page.getByLabel(/Connects from/).getAttribute('aria-invalid'), 'true');

    await page.getByLabel('Name', { exact: true }).fill('scanner-2f');
    await page.getByLabel(/cannot authenticate/).uncheck();
    await page.getByLabel(/May send as/).fill('scanner@contoso.com');
    await page.getByLabel(/Connects from/).fill('');
    await page.getByRole('button', { name: 'Create relay client' }).click();
    await page.locator('#new-relay-password').waitFor();
    const username = (await page.locator('#new-relay-username').innerText()).trim();
    const password = (await page.locator('#new-relay-password').innerText()).trim();
    assert.match(password, /^[A-Za-z0-9]{20,}$/);
    assert.ok(await authenticateRelayClient(svc.store, username, password), 'the shown credentials work');
    await page.screenshot({ path: join(SHOTS, '14-relay-clients-created-laptop.png'), fullPage: true });
    await page.goto(`${svc.url}/admin/relay-clients`);
    assert.ok(!(await page.content()).includes(password), 'the password is not shown again');
    // The sign-in just made with its credentials shows as its last use.
    assert.match(await page.locator('tr[data-relay-client="scanner-2f"] td[data-label="Last used"]').innerText(), /UTC$/);

    // Phone: nothing sticks out sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1);
    // Each stacked label fits its column (no label runs into its value).
    const overlapping = await page.evaluate(() => Array.from(document.querySelectorAll('tr[data-relay-client] td')).filter((td) => {
      const s = getComputedStyle(td, '::before');
      return (td as HTMLElement).offsetHeight > 0 && s.content !== 'none' && Number.parseFloat(s.height) > 1.6 * Number.parseFloat(s.lineHeight || '20');
    }).map((td) => td.getAttribute('data-label')));
    await page.screenshot({ path: join(SHOTS, '14-relay-clients-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1366, height: 900 });
    assert.equal(wide, false, 'the Relay clients page scrolls sideways on a phone');
    assert.deepEqual(overlapping, [], 'stacked labels that wrap onto a second line');

    const asked: string[] = [];
    page.once('dialog', (d) => {
      asked.push(d.message());
      void d.dismiss();
    });
    await page.getByRole('button', { name: 'Revoke scanner-2f…' }).click();
    assert.match(asked[0] ?? '', /Revoke the relay client "scanner-2f"\?/);
    assert.ok((await listRelayClients(svc.store)).some((c) => c.name === 'scanner-2f' && c.revokedAt === undefined), 'cancelled: still active');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Revoke scanner-2f…' }).click();
    await page.locator('.flash-success', { hasText: 'Relay client "scanner-2f" revoked.' }).waitFor();
    assert.equal(await authenticateRelayClient(svc.store, username, password), undefined);
  });
});
