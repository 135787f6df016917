/**
 * Operational routes: liveness, readiness, Prometheus metrics and the doctor.
 *
 * - GET /healthz: the process answers.
 * - GET /readyz: the store accepts a write and the Email Settings are valid; otherwise 503
 *   listing what is wrong (setting keys and messages, never values). A full disk is reported
 *   as `storage` until the store proves it has room again (it probes; no restart needed).
 * - GET /metrics: open, or behind `Authorization: Bearer <MAILGATE_METRICS_TOKEN>`.
 * - POST /api/v1/diagnostics (admin): the doctor's report; 501 until a doctor is provided. The
 *   body (`{"to": ...}`) is optional.
 *
 * Imports: hono, node:crypto, ../auth, ../problem, ../deps.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import { bearerToken, hasScope, requireScope, type AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { readJsonBody } from '../json-body.js';
import { problemResponse, validationProblem } from '../problem.js';
import { StorageFullError, StoreUnavailableError } from '../../../outbox/store.js';
import { zodProblems } from '../../zod-problems.js';

export const diagnosticsSchema = z.strictObject({ to: z.string().min(3).max(320).optional().meta({ description: 'Also send a test message to this address (the send check of the doctor).' }) });

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function opsRoutes(d: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    const errors: { key: string; message: string }[] = [];
    try {
      await d.store.ping(d.now());
    } catch (error) {
      if (error instanceof StorageFullError) {
        errors.push({ key: 'storage', message: 'storage: the data directory is full; messages cannot be accepted until space is freed (this clears by itself)' });
      } else if (error instanceof StoreUnavailableError) {
        errors.push({ key: 'database', message: 'database: unreachable; messages cannot be accepted until it is back (this clears by itself)' });
      } else {
        errors.push({ key: 'store', message: `store: not writable (${(error as Error).message})` });
      }
    }
    const view = d.settings.view();
    if (!view.valid) for (const p of view.problems) errors.push({ key: `settings.${p.key}`, message: p.message });
    // /readyz is unauthenticated: it names the problem, not the details (which can name the
    // mailbox, tenant or file paths); the admin page and the diagnostics show those.
    if (d.deliveryProblem?.()) errors.push({ key: 'delivery', message: 'delivery stopped: the Email Settings cannot be used to send (the admin page says why; or run the diagnostics)' });
    const threadProblem = d.deliveryThreadProblem?.();
    if (threadProblem) errors.push({ key: 'delivery-thread', message: threadProblem });
    const paused = d.worker?.activity().paused;
    if (paused) {
      errors.push({ key: 'delivery', message: `delivery paused until ${new Date(paused.until).toISOString()} after ${paused.code} (see the admin page or run the diagnostics)` });
    }
    // Transport auto: where Automatic sends now and why, for administrators only (an admin API
    // key in Authorization); it names the mailbox's situation, so never to anonymous probes.
    const route = d.transportRoute?.();
    const credentials = d.credentialExpiry?.();
    // Credential expiry (issue 17): for administrators only; a warning, never a reason to be
    // unready (a credential about to expire still works, and an expired one stops delivery,
    // which the delivery errors above report).
    // A credential running on its secondary after a failover (issue 17): for administrators.
    const failovers = d.credentialRotation?.activeFailovers?.() ?? [];
    const isAdmin = (route || credentials?.length || failovers.length) ? await hasScope(c, d.store, 'admin') : false;
    const adminDetails = {
      ...(route && isAdmin ? { transportRoute: { transport: route.transport, reason: route.reason, since: new Date(route.since).toISOString(), switches: route.switches } } : {}),
      ...(credentials?.length && isAdmin ? { credentials: credentials.map((s) => ({
        credential: s.input.credential,
        kind: s.input.kind,
        expiresAt: s.input.expiresAt === undefined ? null : new Date(s.input.expiresAt).toISOString(),
        source: s.input.source ?? null,
        daysLeft: s.daysLeft ?? null,
        severity: s.severity,
        threshold: s.threshold ?? null,
        message: s.message,
      })) } : {}),
      ...(failovers.length && isAdmin ? { credentialFailovers: failovers.map((v) => ({ credential: v.name, active: 'secondary', at: v.at, code: v.code, message: `primary credential refused: ${v.code}; using the secondary (rotate: mailgate credentials promote ${v.name}, then add a new secondary)` })) } : {}),
    };
    if (errors.length) return problemResponse(503, 'not-ready', 'Not ready', { detail: 'Mailgate cannot deliver yet; every reason is listed in errors.', errors, ...adminDetails });
    return c.json({ status: 'ready', checks: { store: 'ok', settings: 'ok' }, ...adminDetails });
  });

  app.get('/metrics', async (c) => {
    if (d.metricsToken) {
      const token = bearerToken(c.req.header('authorization'));
      if (!token || !sameSecret(token, d.metricsToken)) {
        return problemResponse(401, 'unauthorized', 'Authentication required', { detail: 'Send "Authorization: Bearer <MAILGATE_METRICS_TOKEN>".' }, { 'www-authenticate': 'Bearer realm="mailgate-metrics"' });
      }
    }
    const route = d.transportRoute?.();
    const text = d.metrics.render({ counts: await d.store.countByStatus(), tokenRequests: d.tokenRequests(), storeCommits: d.storeCommits?.(), storage: d.store.storageHealth(), relayClients: await d.store.listRelayClients(), ...(route ? { transportSwitches: route.switches } : {}), ...(d.credentialExpiry ? { credentialExpiries: d.credentialExpiry().map((s) => s.input) } : {}), ...(d.credentialFailovers ? { credentialFailovers: d.credentialFailovers() } : {}) });
    return c.body(text, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });

  app.post('/api/v1/diagnostics', requireScope(d.store, 'admin', d.dataDir), async (c) => {
    const body = await readJsonBody(c, { optional: true });
    if (!body.ok) return body.response;
    const parsed = diagnosticsSchema.safeParse(body.value ?? {});
    if (!parsed.success) return validationProblem(zodProblems(parsed.error, body.value));
    if (!d.runDiagnostics) {
      return problemResponse(501, 'not-implemented', 'Diagnostics are not available', { detail: 'This build of Mailgate has no doctor wired into the service; run `mailgate doctor` instead.' });
    }
    return c.json(await d.runDiagnostics({ to: parsed.data.to }) as Record<string, unknown>);
  });

  return app;
}
