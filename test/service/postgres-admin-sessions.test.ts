/**
 * Admin sessions on several instances (issue 18 item 4): two `mailgate serve` processes on one
 * PostgreSQL. Signing in on instance A (real HTTP, the login form's CSRF token) gives a cookie
 * that instance B accepts, with the same CSRF token for B's forms; a flash message set by a
 * form on B is shown once by A; signing out on B ends the session on A too. No sticky sessions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startEmulator } from '../../src/emulator/index.js';
import { MASTER_KEY } from './e2e-helpers.js';
import { serveEnv } from '../helpers/serve-env.js';
import { freshDatabase, startServe, stopServe, type ServeChild } from '../helpers/serve-process.js';
import { countPostgresTests, pgSkip, pgUrl } from '../helpers/postgres.js';
import { tempDir } from './helpers.js';

const PASSWORD = 'correct horse battery staple 18';

if (!pgSkip) countPostgresTests();

/** A cookie jar of one: the admin session cookie. */
function sessionCookie(r: Response): string | undefined {
  for (const c of r.headers.getSetCookie()) {
    const m = /^mailgate_admin=([^;]*)/.exec(c);
    if (m) return m[1];
  }
  return undefined;
}

const csrfOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)?.[1];

describe('admin sessions on several instances (PostgreSQL)', { skip: pgSkip }, () => {
  it('a session signed in on one instance works on another; a flash crosses instances; sign-out ends it everywhere', async () => {
    const database = await freshDatabase(pgUrl!, 'sessions');
    const emulator = await startEmulator();
    const dirs = [tempDir('mailgate-pg-sa-'), tempDir('mailgate-pg-sb-')];
    const children: ServeChild[] = [];
    try {
      for (const d of dirs) {
        children.push(await startServe(serveEnv(emulator, d.dir, MASTER_KEY, { MAILGATE_DATABASE_URL: database.url, MAILGATE_ADMIN_PASSWORD: PASSWORD })));
      }
      const [a, b] = children.map((c) => c.url);
      const get = (base: string, path: string, cookie?: string) => fetch(`${base}${path}`, { redirect: 'manual', headers: cookie ? { cookie: `mailgate_admin=${cookie}` } : {} });
      const post = (base: string, path: string, cookie: string, form: Record<string, string>) =>
        fetch(`${base}${path}`, { method: 'POST', redirect: 'manual', headers: { cookie: `mailgate_admin=${cookie}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });

      // Sign in on A: the login page's anonymous session carries the form's CSRF token.
      const login = await get(a!, '/admin/login');
      assert.equal(login.status, 200);
      const anon = sessionCookie(login)!;
      const loginCsrf = csrfOf(await login.text())!;
      assert.ok(anon && loginCsrf);
      const signedIn = await post(a!, '/admin/login', anon, { _csrf: loginCsrf, password: PASSWORD, next: '/admin/api-keys' });
      assert.equal(signedIn.status, 303, await signedIn.text());
      const cookie = sessionCookie(signedIn)!;
      assert.ok(cookie && cookie !== anon, 'a new session id at sign-in');

      // B knows the session: the page renders (no redirect to the login page) with the same CSRF token as A's.
      const onB = await get(b!, '/admin/api-keys', cookie);
      assert.equal(onB.status, 200, `B redirected to ${onB.headers.get('location')}`);
      const csrfB = csrfOf(await onB.text())!;
      const onA = await get(a!, '/admin/api-keys', cookie);
      assert.equal(onA.status, 200);
      assert.equal(csrfOf(await onA.text()), csrfB);
      // The anonymous session was replaced everywhere.
      assert.equal((await get(b!, '/admin/api-keys', anon)).status, 303);

      // A form posted to B (its CSRF check passes there); its flash is shown by A, once.
      const revoke = await post(b!, '/admin/api-keys/revoke', cookie, { _csrf: csrfB, name: 'no-such-key' });
      assert.equal(revoke.status, 303);
      const flashed = await (await get(a!, '/admin/api-keys', cookie)).text();
      assert.match(flashed, /No active API key has that name\./, 'the flash set on B is shown on A');
      assert.doesNotMatch(await (await get(b!, '/admin/api-keys', cookie)).text(), /No active API key has that name\./, 'shown once');

      // A form without the token is refused on either instance.
      assert.equal((await post(a!, '/admin/api-keys/revoke', cookie, { name: 'x' })).status, 403);

      // Sign out on B: A no longer accepts the cookie.
      const out = await post(b!, '/admin/logout', cookie, { _csrf: csrfB });
      assert.equal(out.status, 303);
      const after = await get(a!, '/admin/api-keys', cookie);
      assert.equal(after.status, 303);
      assert.match(after.headers.get('location') ?? '', /\/admin\/login/);
    } finally {
      for (const c of children) await stopServe(c);
      await emulator.stop();
      for (const d of dirs) d.remove();
      await database.drop();
    }
  });
});
