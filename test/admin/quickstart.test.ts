/**
 * The README's quick start, walked as a new user (issue 13, "Done when"): nothing in-process,
 * only what a newcomer types and reads.
 *
 * - `npm run dev -- --temp --port 0` runs for real as a child process (npm, its shell, the CLI),
 *   in the repository, with no MAILGATE_* variables: a temporary data dir and a free port, so it
 *   never touches ./data/dev nor collides with a service on 8025;
 * - the banner it prints is read as a person reads it: the admin page's URL and password, the
 *   API key, the `curl` command to send a message and the one to look at it;
 * - the printed `curl` is run literally (`sh -c`, the real curl), then the printed "look at it"
 *   command with the id from the answer, until the message is sent;
 * - in Chromium: sign in with the printed password, see the message in the Delivery log as Sent;
 * - the tenant is broken with the command the banner prints (`PUT .../_emulator/scenario/
 *   no-service-principal`, curl again), Diagnostics run from the admin page, and the fix command
 *   `New-ServicePrincipal ... -ObjectId <oid>` carries the real oid: a GUID, the Enterprise
 *   Application's object id that the emulator's tenant gives the token (never the App
 *   Registration's, never a placeholder); the printed "back to healthy" command makes it pass;
 * - Ctrl-C (SIGINT to the process group, as a terminal sends it) stops everything and `--temp`
 *   leaves nothing behind.
 *
 * Without /usr/bin/chromium the test is skipped, loudly (stderr and the skip message say why).
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';

const CHROMIUM = process.env.MAILGATE_TEST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = resolve('test-artifacts/screenshots');
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const execFileP = promisify(execFile);

const SKIP_REASON = existsSync(CHROMIUM)
  ? undefined
  : `SKIPPED: ${CHROMIUM} is not installed, so the quick-start browser test cannot run. Install it with scripts/install-system-deps.sh (or: apt-get install -y --no-install-recommends chromium fonts-dejavu-core).`;
if (SKIP_REASON) {
  process.stderr.write(`\n*** quick-start browser test ${SKIP_REASON} ***\n\n`);
  it('README quick start in a browser', { skip: SKIP_REASON }, () => undefined);
}

/** A new user's shell: no Mailgate variables (and no npm update check to wait for). */
function newcomerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('MAILGATE_')) env[k] = v;
  return { ...env, npm_config_update_notifier: 'false' };
}

/** Runs a command line exactly as printed, with sh, and returns its stdout. */
async function shell(command: string): Promise<string> {
  const { stdout } = await execFileP('sh', ['-c', command], { timeout: 30_000, maxBuffer: 1 << 20 });
  return stdout;
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One labelled value of the banner (`  Admin password:  xyz`). */
function bannerValue(banner: string, pattern: RegExp, what: string): string {
  const m = pattern.exec(banner);
  assert.ok(m, `the banner shows ${what}:\n${banner}`);
  return m[1]!;
}

/** The indented command lines under a heading of the banner, joined as printed (with their `\` continuations). */
function bannerCommand(banner: string, heading: string): string {
  const lines = banner.split('\n');
  const start = lines.findIndex((l) => l.startsWith(heading));
  assert.ok(start >= 0, `the banner has "${heading}":\n${banner}`);
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('  ')) break;
    out.push(line);
    if (!line.endsWith('\\')) break;
  }
  return out.join('\n').trim();
}

interface Dev {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  closed: Promise<void>;
}

function startNpmRunDev(): Dev {
  // detached: its own process group, so Ctrl-C can be sent the way a terminal sends it (to npm,
  // its shell and the CLI at once).
  const child = spawn('npm', ['run', 'dev', '--', '--temp', '--port', '0'], { cwd: process.cwd(), env: newcomerEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (err += String(d)));
  // 'close': every process holding the pipes (npm, sh, node) has exited.
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  return { child, out: () => out, err: () => err, closed };
}

async function ctrlC(dev: Dev): Promise<boolean> {
  const pid = dev.child.pid;
  if (pid === undefined) return true;
  try {
    process.kill(-pid, 'SIGINT');
  } catch {
    return true; // already gone
  }
  const stopped = await Promise.race([dev.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000))]);
  if (!stopped) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  return stopped;
}

describe('the README quick start, as a new user, in Chromium', { skip: SKIP_REASON }, () => {
  let dev: Dev | undefined;
  let banner = '';
  let context: BrowserContext | undefined;
  let profile = '';
  let page: Page;
  let messageId = '';

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    dev = startNpmRunDev();
    const d = dev;
    await until('the dev banner', 90_000, () => {
      if (d.out().includes('Press Ctrl-C to stop.')) return true;
      if (d.child.exitCode !== null) throw new Error(`npm run dev exited with ${d.child.exitCode}:\n${d.out()}\n${d.err()}`);
      return undefined;
    });
    banner = d.out();
    const { chromium } = await import('playwright-core');
    profile = mkdtempSync(join(tmpdir(), 'mailgate-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1366, height: 900 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('dialog', (dialog) => {
      throw new Error(`unexpected dialog: ${dialog.message()}`);
    });
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    if (profile) rmSync(profile, { recursive: true, force: true });
    if (dev) await ctrlC(dev);
  });

  it('npm run dev prints the admin page, its password, an API key and a curl command that delivers', async () => {
    assert.doesNotMatch(dev!.err(), / ERROR |mailgate dev:/, `no error on stderr at start:\n${dev!.err()}`);
    const adminUrl = bannerValue(banner, /Admin page:\s+(http:\/\/127\.0\.0\.1:\d+\/admin)\n/, 'the admin page URL');
    assert.doesNotMatch(adminUrl, /:8025\//, '--port 0 picked a free port');
    bannerValue(banner, /Admin password:\s+(\S{20,})\n/, 'the admin password');
    bannerValue(banner, /API key \(admin\):\s+(mg_\S+)\n/, 'the API key');
    assert.match(banner, /New on every start \(--temp keeps nothing\)/);

    const send = bannerCommand(banner, 'Send a message:');
    assert.match(send, /^curl -sS -X POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/messages \\\n/);
    const answer = JSON.parse(await shell(send)) as { id?: string; status?: string };
    assert.match(answer.id ?? '', /\S/, `the answer has an id: ${JSON.stringify(answer)}`);
    assert.equal(answer.status, 'queued');
    messageId = answer.id!;

    const look = bannerCommand(banner, 'Then look at it');
    assert.ok(look.includes('<id>'), look);
    const lookAtIt = look.replace('<id>', messageId);
    const sent = await until('the message to be sent', 60_000, async () => {
      const m = JSON.parse(await shell(lookAtIt)) as { status?: string; response?: string };
      if (m.status === 'failed') throw new Error(`the quick-start message failed: ${JSON.stringify(m)}`);
      return m.status === 'sent' ? m : undefined;
    });
    assert.match(sent.response ?? '', /^250 /);
  });

  it('signs in with the printed password and sees the message in the Delivery log as Sent', async () => {
    assert.ok(messageId, 'the message of the previous step');
    const adminUrl = bannerValue(banner, /Admin page:\s+(\S+)\n/, 'the admin page URL');
    const password = bannerValue(banner, /Admin password:\s+(\S+)\n/, 'the admin password');
    await page.goto(adminUrl);
    await page.waitForURL(/\/admin\/login/);
    await page.getByLabel('Admin password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.endsWith('/login'));
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Delivery log', exact: true }).click();
    const row = page.locator(`tr[data-message="${messageId}"]`);
    await row.waitFor();
    assert.equal((await row.locator('td[data-label="Status"]').textContent())?.trim(), 'Sent');
    assert.match(await row.innerText(), /someone@example\.com/);
    assert.match(await row.innerText(), /Hello from Mailgate/);
    await page.screenshot({ path: join(SHOTS, 'quickstart-01-delivery-log.png'), fullPage: true });
  });

  it('breaks the tenant with the printed scenario command; Diagnostics name New-ServicePrincipal with the real oid', async () => {
    const emulatorAdmin = bannerValue(banner, /admin (https:\/\/127\.0\.0\.1:\d+\/_emulator)\n/, "the emulator's admin URL");
    const breakIt = bannerCommand(banner, 'Break the demo tenant');
    assert.equal(breakIt, `curl -sk -X PUT ${emulatorAdmin}/scenario/no-service-principal`);
    const applied = JSON.parse(await shell(breakIt)) as { name?: string; check?: string };
    assert.equal(applied.name, 'no-service-principal');
    assert.equal(applied.check, 'smtp-auth');

    // What Entra holds for the app: the Enterprise Application's object id is the token's oid.
    const state = JSON.parse(await shell(`curl -sk ${emulatorAdmin}/state`)) as { tenants: Array<{ apps: Array<{ appId: string; applicationObjectId: string; servicePrincipalObjectId: string }> }> };
    const app = state.tenants[0]!.apps[0]!;
    assert.match(app.servicePrincipalObjectId, GUID);
    assert.notEqual(app.servicePrincipalObjectId, app.applicationObjectId);

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Diagnostics', exact: true }).click();
    await page.getByRole('button', { name: 'Run diagnostics' }).click();
    const failed = page.locator('#diag-result [data-check="smtp-auth"]');
    await failed.waitFor({ timeout: 60_000 });
    assert.equal(await failed.getAttribute('data-status'), 'fail');
    const commands = (await failed.locator('pre').allInnerTexts()).join('\n');
    const fix = /New-ServicePrincipal -AppId (\S+) -ObjectId (\S+)/.exec(commands);
    assert.ok(fix, `a New-ServicePrincipal command in:\n${commands}`);
    assert.equal(fix[1], app.appId);
    assert.match(fix[2]!, GUID, `the oid is a GUID, not a placeholder: ${fix[0]}`);
    assert.equal(fix[2], app.servicePrincipalObjectId, "the token's oid (the Enterprise Application's object id)");
    assert.ok(!commands.includes(app.applicationObjectId), "never the App Registration's object id");
    assert.ok(!commands.includes('<'), `no placeholder left:\n${commands}`);
    await page.screenshot({ path: join(SHOTS, 'quickstart-02-diagnostics.png'), fullPage: true });

    // The printed way back.
    const healthy = /Back to healthy: (curl -sk -X PUT \S+\/scenario\/healthy)/.exec(banner);
    assert.ok(healthy, banner);
    assert.equal((JSON.parse(await shell(healthy[1]!)) as { name?: string }).name, 'healthy');
    await page.getByRole('button', { name: 'Run diagnostics' }).click();
    await page.locator('#diag-result [data-check="smtp-auth"][data-status="pass"]').waitFor({ timeout: 60_000 });
  });

  it('Ctrl-C stops npm run dev, and --temp leaves nothing behind', async () => {
    const dataDir = bannerValue(banner, /Data dir:\s+(\S+)\n/, 'the data dir');
    assert.ok(existsSync(dataDir), dataDir);
    assert.ok(await ctrlC(dev!), `npm run dev stopped within 30 s of Ctrl-C:\n${dev!.err()}`);
    assert.match(dev!.err(), /SIGINT received, shutting down/);
    assert.equal(existsSync(dataDir), false, 'the temporary data dir is removed');
  });
});
