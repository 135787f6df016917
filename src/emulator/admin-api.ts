/**
 * The emulator's admin API under `{authorityHost}/_emulator`: what was sent (`messages`,
 * `messages/{id}/raw`), the tenant state (`GET`/`PUT state`, validated: a bad state is a 400
 * listing every problem), the activity log (`log`), scripted faults (`GET`/`POST`/`DELETE
 * faults`), counters (`GET`/`DELETE stats`), named scenarios (`GET scenarios`, `GET scenario`,
 * `PUT scenario/{name}`, `DELETE scenario` = back to the baseline, see scenarios.ts) and what
 * Exchange Online PowerShell would show about an app and a mailbox (`GET exchange?appId=&mailbox=`:
 * Get-ServicePrincipal, Get-MailboxPermission, Get-CASMailbox, Get-ManagementRoleAssignment,
 * Get-ApplicationAccessPolicy, and the mailbox's licence / on-premises state for Graph; with `from=`,
 * Get-RecipientPermission of a Send As sender's From), and the directory operations of
 * admin-directory.ts (tenants, apps, mailboxes, FullAccess and Send As). A trailing slash is accepted on
 * every path (https-server.ts).
 *
 * Why it exists: out-of-process users (the CLI emulator, `mailgate dev`, other languages) need
 * the same control and visibility the in-process helpers give tests. It is unauthenticated
 * and meant for 127.0.0.1 only (the state it serves holds the fake tenant's secrets).
 *
 * Imports: hono, ./http-runtime.ts, ./state.ts, ./faults.ts, ./scenarios.ts.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { credentialAdminRoutes } from './credential-admin.js';
import { directoryRoutes } from './admin-directory.js';
import { parseFaults } from './faults.js';
import type { HttpRuntime } from './http-runtime.js';
import { listScenarios, ScenarioError, type AppliedScenario } from './scenarios.js';
import { findApp, findMailbox, findMailboxAnywhere, findTenant, parseState } from './state.js';

/** A scenario as the API shows it: what it breaks, and the settings a client should use. */
const scenarioJson = (a: AppliedScenario) => ({ ...a.info, clientSettings: a.client });

/** Reads a JSON body; `undefined` (and a 400 already built) when it is not JSON. */
async function readJson(c: Context): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const text = await c.req.text().catch(() => '');
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, response: c.json({ error: 'invalid_json', problems: [`the body is not JSON: ${err instanceof Error ? err.message : String(err)}`] }, 400) };
  }
}

export function adminRoutes(rt: HttpRuntime): Hono {
  const app = new Hono();

  app.get('/', (c) => c.json({
    endpoints: ['GET messages', 'DELETE messages', 'GET messages/{id}/raw', 'GET state', 'PUT state', 'GET log', 'DELETE log',
      'GET faults', 'POST faults', 'DELETE faults', 'GET stats', 'DELETE stats',
      'GET scenarios', 'GET scenario', 'PUT scenario/{name}', 'DELETE scenario', 'GET exchange?appId=&mailbox=&from=',
      'GET credentials?appId=', 'POST credentials/expire',
      'GET directory', 'POST directory/tenants', 'POST directory/apps', 'POST directory/mailboxes',
      'POST directory/mailboxes/{address}/full-access|send-as', 'DELETE directory/mailboxes/{address}/full-access|send-as/{trustee}'],
  }));

  app.get('/messages', (c) => c.json(rt.store.list()));
  app.delete('/messages', (c) => {
    rt.store.clear();
    return c.body(null, 204);
  });
  app.get('/messages/:id/raw', (c) => {
    const raw = rt.store.raw(c.req.param('id'));
    if (!raw) return c.json({ error: 'not_found', problems: [`no stored message ${c.req.param('id')}`] }, 404);
    return c.body(new Uint8Array(raw), 200, { 'Content-Type': 'message/rfc822' });
  });

  app.get('/state', (c) => c.json(rt.getState()));
  app.put('/state', async (c) => {
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = parseState(body.value);
    if (!parsed.ok) return c.json({ error: 'invalid_state', problems: parsed.problems }, 400);
    rt.replaceState(parsed.state);
    return c.json(parsed.state);
  });

  app.get('/log', (c) => c.json(rt.log.entries()));
  app.delete('/log', (c) => {
    rt.log.clear();
    return c.body(null, 204);
  });

  app.get('/faults', (c) => c.json(rt.faults.current()));
  app.post('/faults', async (c) => {
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = parseFaults(body.value);
    if (!parsed.ok) return c.json({ error: 'invalid_faults', problems: parsed.problems }, 400);
    rt.faults.set(parsed.faults);
    return c.json(rt.faults.current());
  });
  app.delete('/faults', (c) => {
    rt.faults.clear();
    return c.body(null, 204);
  });

  app.get('/scenarios', (c) => c.json(listScenarios()));
  app.get('/scenario', (c) => c.json(scenarioJson(rt.currentScenario())));
  app.put('/scenario/:name', (c) => {
    try {
      return c.json(scenarioJson(rt.applyScenario(c.req.param('name'))));
    } catch (err) {
      if (!(err instanceof ScenarioError)) throw err;
      if (!err.unknownName) return c.json({ error: 'scenario_not_applicable', problems: [err.message] }, 409);
      return c.json({ error: 'unknown_scenario', problems: [err.message], scenarios: listScenarios().map((s) => s.name) }, 404);
    }
  });
  app.delete('/scenario', (c) => c.json(scenarioJson(rt.applyScenario('healthy'))));

  // Exchange-side facts, as an administrator reads them with Exchange Online PowerShell
  // (Get-ServicePrincipal, Get-MailboxPermission, Get-CASMailbox). Exchange's SMTP reply never
  // says which step is missing (one `535 5.7.3` for all); this is the emulator's stand-in for
  // the administrator looking, and the doctor uses it only when told to (--emulator-admin).
  app.get('/exchange', (c) => {
    const appId = c.req.query('appId') ?? '';
    const address = c.req.query('mailbox') ?? '';
    const state = rt.getState();
    const tenant = state.tenants.find((t) => findApp(t, appId)) ?? (address.includes('@') ? findTenant(state, address.split('@')[1]!) : undefined);
    const sps = tenant ? tenant.exchangeServicePrincipals.filter((sp) => sp.appId.toLowerCase() === appId.toLowerCase()) : [];
    const mailbox = tenant && address ? findMailbox(tenant, address) : undefined;
    const from = c.req.query('from') ?? '';
    const fromMailbox = from ? findMailboxAnywhere(state, from)?.mailbox : undefined;
    return c.json({
      tenantId: tenant?.id ?? null,
      servicePrincipals: sps.map((sp) => ({ appId: sp.appId, objectId: sp.objectId })),
      mailbox: mailbox ? {
        address: mailbox.address,
        fullAccess: [...mailbox.fullAccess],
        smtpAuthDisabled: mailbox.smtpAuthDisabled,
        userObjectId: mailbox.userObjectId ?? null,
        licensed: mailbox.licensed,
        onPremises: mailbox.onPremises,
        type: mailbox.type,
        sendAs: [...mailbox.sendAs],
      } : null,
      // Get-RecipientPermission -Identity <from>: who may send as the From address (Send As senders).
      fromMailbox: fromMailbox ? { address: fromMailbox.address, type: fromMailbox.type, sendAs: [...fromMailbox.sendAs] } : null,
      tenantSmtpAuthDisabled: tenant?.smtpAuthDisabled ?? null,
      rbacAssignments: (tenant?.rbacAssignments ?? []).map((a) => ({ app: a.app, role: a.role, mailboxes: a.mailboxes })),
      applicationAccessPolicies: (tenant?.applicationAccessPolicies ?? []).filter((p) => p.appId.toLowerCase() === appId.toLowerCase())
        .map((p) => ({ appId: p.appId, accessRight: p.accessRight, mailboxes: [...p.mailboxes] })),
    });
  });

  // An app's credentials and their expiry; `POST credentials/expire` (credential-admin.ts).
  app.route('/', credentialAdminRoutes(rt));
  app.route('/', directoryRoutes(rt));

  app.get('/stats', (c) => c.json(rt.snapshotStats()));
  app.delete('/stats', (c) => {
    rt.resetStats();
    return c.body(null, 204);
  });

  return app;
}
