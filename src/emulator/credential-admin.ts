/**
 * The emulator's admin API for an app's credentials, under `{authorityHost}/_emulator`:
 *  - `GET credentials?appId=`: the app's secrets and certificates with their expiry (ids,
 *    hints and thumbprints only, never a secret's value);
 *  - `POST credentials/expire` `{"appId", "secretId" | "thumbprint" | "which": "secret"|"certificate", "index"?, "at"?}`:
 *    makes one credential expire now (or at `at`, ISO 8601), so Entra answers AADSTS7000222 (a
 *    secret) or AADSTS700027 (a certificate) from then on: "expire the primary now" in a test or
 *    a demo, without rewriting the whole state.
 *
 * Why it exists: credentials expiring is the outage issue 17 is about; tests and demos must be
 * able to make it happen at a chosen moment, one credential at a time (an app can hold two).
 * The change goes through `replaceState` like `PUT state` (it becomes the baseline).
 *
 * Imports: hono, zod, ./state.ts, ./http-runtime.ts (types).
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { HttpRuntime } from './http-runtime.js';
import { findApp, normalizeThumbprint, parseState, type AppState, type EmulatorState } from './state.js';
import { certificateThumbprints } from './pki.js';

const expireSchema = z.strictObject({
  appId: z.string().min(1).max(100),
  secretId: z.string().min(1).max(100).optional(),
  /** SHA-1 (as the portal shows it) or SHA-256 thumbprint, hex. */
  thumbprint: z.string().regex(/^([0-9a-fA-F]{2}:?){20,32}$/).optional(),
  which: z.enum(['secret', 'certificate']).optional(),
  /** Which of the app's secrets / certificates (0: the first), with `which`. Default 0. */
  index: z.number().int().min(0).max(100).optional(),
  at: z.iso.datetime({ offset: true }).optional(),
});

function locate(state: EmulatorState, appId: string): AppState | undefined {
  for (const t of state.tenants) {
    const app = findApp(t, appId);
    if (app) return app;
  }
  return undefined;
}

function view(app: AppState) {
  return {
    appId: app.appId,
    secrets: app.secrets.map((s) => ({ id: s.id, hint: s.value.slice(0, 3), expires: s.expires, ...(s.displayName ? { displayName: s.displayName } : {}) })),
    certificates: app.certificates.map((c) => {
      let sha1: string | undefined;
      try { sha1 = certificateThumbprints(c.pem).sha1; } catch { /* checked by the schema */ }
      return { thumbprintSha256: normalizeThumbprint(c.thumbprintSha256), thumbprintSha1: sha1, expires: c.expires };
    }),
  };
}

export function credentialAdminRoutes(rt: HttpRuntime): Hono {
  const app = new Hono();
  app.get('/credentials', (c) => {
    const found = locate(rt.getState(), c.req.query('appId') ?? '');
    if (!found) return c.json({ error: 'not_found', problems: [`no app ${c.req.query('appId') ?? '(appId missing)'}`] }, 404);
    return c.json(view(found));
  });
  app.post('/credentials/expire', async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      return c.json({ error: 'invalid_json', problems: ['the body is not JSON'] }, 400);
    }
    const parsed = expireSchema.safeParse(body);
    if (!parsed.success) return c.json({ error: 'invalid_request', problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`) }, 400);
    const q = parsed.data;
    const state = structuredClone(rt.getState());
    const target = locate(state, q.appId);
    if (!target) return c.json({ error: 'not_found', problems: [`no app ${q.appId}`] }, 404);
    const at = q.at ?? new Date(Date.now() - 1000).toISOString();
    let changed: string | undefined;
    if (q.secretId) {
      const s = target.secrets.find((x) => x.id.toLowerCase() === q.secretId!.toLowerCase());
      if (s) { s.expires = at; changed = `secret ${s.id}`; }
    } else if (q.thumbprint) {
      const want = normalizeThumbprint(q.thumbprint);
      const cert = target.certificates.find((x) => {
        try { const t = certificateThumbprints(x.pem); return t.sha256 === want || t.sha1.toLowerCase() === want; } catch { return false; }
      });
      if (cert) { cert.expires = at; changed = `certificate ${normalizeThumbprint(cert.thumbprintSha256)}`; }
    } else {
      const list = q.which === 'certificate' ? target.certificates : target.secrets;
      const item = list[q.index ?? 0];
      if (item) { item.expires = at; changed = `${q.which ?? 'secret'} #${q.index ?? 0}`; }
    }
    if (!changed) return c.json({ error: 'not_found', problems: ['no such credential on the app'] }, 404);
    const checked = parseState(state);
    if (!checked.ok) return c.json({ error: 'invalid_state', problems: checked.problems }, 400);
    rt.replaceState(checked.state);
    rt.say(`admin: ${changed} of app ${target.appId} expires at ${at}`);
    return c.json(view(locate(checked.state, q.appId)!));
  });
  return app;
}
