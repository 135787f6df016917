/**
 * /api/v1/senders and /api/v1/credentials (issue 16), admin scope: list, create, replace,
 * delete. The interfaces the admin page's Senders page and the doctor list senders with.
 *
 * Credentials are write-only: a secret is accepted (stored encrypted) but never returned, only
 * `clientSecretSet` / `clientCertificateSet`. Senders and credentials from MAILGATE_CONFIG are
 * read-only here (409). Every body is checked with the one schema of core/senders.ts.
 *
 * Imports: hono, ../../../settings/senders-service (types), ../auth, ../deps, ../json-body, ../problem.
 */
import { Hono } from 'hono';
import type { SenderEntry, SenderWriteResult } from '../../../settings/senders-service.js';
import { requireScope, type AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { readJsonBody } from '../json-body.js';
import { problemResponse, validationProblem } from '../problem.js';

/** A sender as the API shows it (no settings object, no secret). */
export function senderView(s: SenderEntry): Record<string, unknown> {
  return {
    address: s.address,
    signInAs: s.signInAs,
    sendAs: s.address !== s.signInAs,
    credential: s.credential,
    transport: s.transport,
    ratePerMinute: s.ratePerMinute ?? null,
    maxConnections: s.maxConnections ?? null,
    dailyRecipients: s.dailyRecipients ?? null,
    isDefault: s.isDefault,
    source: s.source,
    readOnly: s.source !== 'stored',
    valid: s.settings !== undefined,
    problems: s.problems.map((p) => ({ key: p.key, message: p.message })),
  };
}

function failed(r: SenderWriteResult & { ok: false }): Response {
  if (r.status === 422) return validationProblem(r.problems);
  if (r.status === 404) return problemResponse(404, 'not-found', 'Not found', { detail: r.problems.map((p) => p.message).join('; ') });
  return problemResponse(409, 'conflict', 'Conflict', { detail: r.problems.map((p) => p.message).join('; ') });
}

export function senderRoutes(d: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const admin = requireScope(d.store, 'admin', d.dataDir);
  const actor = (c: { get(k: 'apiKey'): { name: string } }) => `api-key:${c.get('apiKey').name}`;
  const unavailable = () => problemResponse(501, 'not-implemented', 'Senders are not available in this service');

  app.get('/', admin, (c) => (d.senders ? c.json({ items: d.senders.list().map(senderView), fromFile: d.senders.fromFile }) : unavailable()));
  app.get('/:address', admin, (c) => {
    if (!d.senders) return unavailable();
    const s = d.senders.get(c.req.param('address'));
    return s ? c.json(senderView(s)) : problemResponse(404, 'not-found', 'Not found', { detail: 'No such sender.' });
  });
  app.post('/', admin, async (c) => {
    if (!d.senders) return unavailable();
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    const r = await d.senders.putSender(body.value, actor(c), { create: true });
    if (!r.ok) return failed(r);
    const address = String((body.value as { address: string }).address).toLowerCase();
    return c.json(senderView(d.senders.get(address)!), 201);
  });
  app.put('/:address', admin, async (c) => {
    if (!d.senders) return unavailable();
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    const r = await d.senders.putSender(body.value, actor(c), { create: false, address: c.req.param('address') });
    if (!r.ok) return failed(r);
    return c.json(senderView(d.senders.get(c.req.param('address'))!));
  });
  app.delete('/:address', admin, async (c) => {
    if (!d.senders) return unavailable();
    const r = await d.senders.deleteSender(c.req.param('address'), actor(c));
    return r.ok ? c.body(null, 204) : failed(r);
  });
  return app;
}

export function credentialRoutes(d: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const admin = requireScope(d.store, 'admin', d.dataDir);
  const actor = (c: { get(k: 'apiKey'): { name: string } }) => `api-key:${c.get('apiKey').name}`;
  const unavailable = () => problemResponse(501, 'not-implemented', 'Credentials are not available in this service');
  const view = (name: string) => d.senders?.credentials().find((x) => x.name.toLowerCase() === name.toLowerCase());

  // Each credential with its rotation view (primary, secondary, active slot, failover: issue 17).
  const withRotation = <T extends { name: string }>(v: T) => {
    const rotation = d.credentialRotation?.get(v.name);
    return rotation ? { ...v, rotation } : v;
  };
  app.get('/', admin, (c) => (d.senders ? c.json({ items: d.senders.credentials().map(withRotation), fromFile: d.senders.fromFile }) : unavailable()));
  app.get('/:name', admin, (c) => {
    const v = view(c.req.param('name'));
    return v ? c.json(withRotation(v)) : problemResponse(404, 'not-found', 'Not found', { detail: 'No such credential.' });
  });
  app.post('/', admin, async (c) => {
    if (!d.senders) return unavailable();
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    const r = await d.senders.putCredential(body.value, actor(c), { create: true });
    if (!r.ok) return failed(r);
    return c.json(view(String((body.value as { name: string }).name)), 201);
  });
  app.put('/:name', admin, async (c) => {
    if (!d.senders) return unavailable();
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    const r = await d.senders.putCredential(body.value, actor(c), { create: false, name: c.req.param('name') });
    if (!r.ok) return failed(r);
    return c.json(view(c.req.param('name')));
  });
  app.delete('/:name', admin, async (c) => {
    if (!d.senders) return unavailable();
    const r = await d.senders.deleteCredential(c.req.param('name'), actor(c));
    return r.ok ? c.body(null, 204) : failed(r);
  });
  return app;
}
