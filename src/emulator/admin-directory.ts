/**
 * The emulator's directory operations, as an administrator runs them one by one: add a tenant
 * (with its app registration), add another app registration to a tenant (its own secret,
 * service principal and roles), add a mailbox or a shared mailbox, and grant or remove FullAccess
 * (`Add-MailboxPermission`) and Send As (`Add-RecipientPermission`). Pure functions on the state,
 * and their routes under the admin API's `directory/`:
 *
 *   GET    directory                                     tenants, apps (no secrets), mailboxes and grants
 *   POST   directory/tenants                             {domain, tenantId?, mailbox?, consentedRoles?, sharedMailboxes?}
 *   POST   directory/apps                                {tenant, displayName?, consentedRoles?, fullAccessOn?}
 *   POST   directory/mailboxes                           {address, type?: user|shared, fullAccess?, sendAs?}
 *   POST   directory/mailboxes/{address}/{full-access|send-as}            {trustee}
 *   DELETE directory/mailboxes/{address}/{full-access|send-as}/{trustee}
 *
 * Why it exists: tests and demos of several senders (several mailboxes, shared mailboxes, Send As,
 * several apps and tenants) need to set these up without writing a whole state document; every
 * change goes through `parseState`, so the result is as valid as a `PUT state`. The answers to
 * `tenants` and `apps` carry the new client secret: these are the emulator's fake credentials, as
 * in the ready line's `demo` (the admin API is for 127.0.0.1 only).
 *
 * Imports: hono, zod, ./demo-state.ts, ./http-runtime.ts, ./ids.ts, ./state.ts.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import { buildTenantState } from './demo-state.js';
import type { HttpRuntime } from './http-runtime.js';
import { newGuid } from './ids.js';
import { findMailboxAnywhere, findTenant, parseState, type EmulatorState } from './state.js';

/** A directory operation's outcome: the new state and what to answer, or problems (HTTP status). */
export type DirectoryResult<T> = { ok: true; state: EmulatorState; value: T } | { ok: false; status: 400 | 404 | 409; problems: string[] };

const fail = (status: 400 | 404 | 409, ...problems: string[]): { ok: false; status: 400 | 404 | 409; problems: string[] } => ({ ok: false, status, problems });

/** Validates the edited copy; a state that does not parse is the caller's error (400). */
function commit<T>(next: unknown, value: T): DirectoryResult<T> {
  const parsed = parseState(next);
  return parsed.ok ? { ok: true, state: parsed.state, value } : fail(400, ...parsed.problems);
}

const email = z.email({ message: 'must be an e-mail address' });

export const newTenantSchema = z.strictObject({
  domain: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, 'must be a DNS domain name'),
  tenantId: z.guid().optional(),
  /** The app's sending mailbox (default `noreply@<domain>`). */
  mailbox: email.optional(),
  displayName: z.string().min(1).max(100).optional(),
  consentedRoles: z.array(z.string().min(1)).optional(),
  sharedMailboxes: z.array(z.strictObject({ address: email, sendAs: z.array(z.string().min(1)).optional(), fullAccess: z.boolean().optional() })).optional(),
});

export interface NewCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  servicePrincipalObjectId: string;
  applicationObjectId: string;
}

/** A new tenant with one app registration, set up correctly (buildTenantState), next to the others. */
export function addTenant(state: EmulatorState, input: z.output<typeof newTenantSchema>): DirectoryResult<NewCredentials & { domain: string; authorizedFrom: string; sharedMailboxes: string[] }> {
  if (findTenant(state, input.domain)) return fail(409, `domain: ${input.domain} already belongs to a tenant`);
  const built = buildTenantState({
    domain: input.domain,
    ...(input.tenantId ? { tenantId: input.tenantId } : {}),
    ...(input.mailbox ? { mailbox: input.mailbox } : {}),
    ...(input.displayName ? { displayName: input.displayName } : {}),
    ...(input.consentedRoles ? { consentedRoles: input.consentedRoles } : {}),
    ...(input.sharedMailboxes ? { sharedMailboxes: input.sharedMailboxes } : {}),
  });
  return commit({ tenants: [...state.tenants, ...built.state.tenants] }, {
    tenantId: built.tenantId, domain: built.domain, clientId: built.clientId, clientSecret: built.clientSecret!,
    servicePrincipalObjectId: built.servicePrincipalObjectId, applicationObjectId: built.applicationObjectId,
    authorizedFrom: built.authorizedFrom, sharedMailboxes: built.sharedMailboxes,
  });
}

export const newAppSchema = z.strictObject({
  /** The tenant's GUID or one of its domains. */
  tenant: z.string().min(1),
  displayName: z.string().min(1).max(100).optional(),
  /** Admin-consented application permissions (default SMTP.SendAsApp and Mail.Send). */
  consentedRoles: z.array(z.string().min(1)).optional(),
  /** Mailboxes the new service principal gets FullAccess on (`Add-MailboxPermission`). */
  fullAccessOn: z.array(email).optional(),
});

/** Another app registration in a tenant: its own secret, service principal (registered in Exchange) and roles. */
export function addApp(state: EmulatorState, input: z.output<typeof newAppSchema>): DirectoryResult<NewCredentials> {
  const next = structuredClone(state);
  const tenant = findTenant(next, input.tenant);
  if (!tenant) return fail(404, `tenant: no tenant ${input.tenant}`);
  // A fresh app made by the same builder as every other (a shaped secret, one year of validity).
  const built = buildTenantState({ domain: tenant.domains[0], ...(input.displayName ? { displayName: input.displayName } : {}), ...(input.consentedRoles ? { consentedRoles: input.consentedRoles } : {}) });
  const app = built.state.tenants[0]!.apps[0]!;
  tenant.apps.push(app);
  tenant.exchangeServicePrincipals.push({ appId: app.appId, objectId: app.servicePrincipalObjectId });
  for (const address of input.fullAccessOn ?? []) {
    const mailbox = tenant.mailboxes.find((m) => m.address.toLowerCase() === address.toLowerCase());
    if (!mailbox) return fail(404, `fullAccessOn: no mailbox ${address} in tenant ${tenant.id}`);
    mailbox.fullAccess.push(app.servicePrincipalObjectId);
  }
  return commit(next, {
    tenantId: tenant.id, clientId: app.appId, clientSecret: app.secrets[0]!.value,
    servicePrincipalObjectId: app.servicePrincipalObjectId, applicationObjectId: app.applicationObjectId,
  });
}

export const newMailboxSchema = z.strictObject({
  address: email,
  type: z.enum(['user', 'shared']).default('user'),
  /** Service principal object ids with FullAccess. */
  fullAccess: z.array(z.string().min(1)).default([]),
  /** Send As trustees (mailbox addresses or service principal object ids). */
  sendAs: z.array(z.string().min(1)).default([]),
});

/** A mailbox in the tenant that owns its domain (a shared one has no licence). */
export function addMailbox(state: EmulatorState, input: z.output<typeof newMailboxSchema>): DirectoryResult<{ tenantId: string; address: string; type: 'user' | 'shared' }> {
  const next = structuredClone(state);
  const domain = input.address.split('@')[1] ?? '';
  const tenant = findTenant(next, domain);
  if (!tenant) return fail(404, `address: no tenant has the domain ${domain}`);
  if (findMailboxAnywhere(next, input.address)) return fail(409, `address: mailbox ${input.address} already exists`);
  tenant.mailboxes.push({
    address: input.address, type: input.type, smtpAuthDisabled: null, fullAccess: input.fullAccess, sendAs: input.sendAs,
    basicAuthPassword: null, userObjectId: newGuid(), licensed: input.type === 'user', onPremises: false,
  });
  return commit(next, { tenantId: tenant.id, address: input.address, type: input.type });
}

export type Permission = 'full-access' | 'send-as';

/**
 * `Add-MailboxPermission -Identity <address> -User <trustee> -AccessRights FullAccess` or
 * `Add-RecipientPermission -Identity <address> -Trustee <trustee> -AccessRights SendAs`
 * (`grant: false`: the Remove- cmdlets). Idempotent, like the cmdlets' confirmations.
 */
export function setPermission(state: EmulatorState, address: string, permission: Permission, trustee: string, grant: boolean): DirectoryResult<{ address: string; fullAccess: string[]; sendAs: string[] }> {
  const next = structuredClone(state);
  const found = findMailboxAnywhere(next, address);
  if (!found) return fail(404, `no mailbox ${address}`);
  if (!trustee.trim() || /[\s\x00-\x1f]/.test(trustee)) return fail(400, 'trustee: must be a mailbox address or a service principal object id');
  const list = permission === 'full-access' ? found.mailbox.fullAccess : found.mailbox.sendAs;
  const at = list.findIndex((t) => t.toLowerCase() === trustee.toLowerCase());
  if (grant && at === -1) list.push(trustee);
  if (!grant && at !== -1) list.splice(at, 1);
  return commit(next, { address: found.mailbox.address, fullAccess: [...found.mailbox.fullAccess], sendAs: [...found.mailbox.sendAs] });
}

/** The directory without secrets: what the Entra portal and Exchange Online PowerShell list. */
export function directoryView(state: EmulatorState) {
  return {
    tenants: state.tenants.map((t) => ({
      id: t.id,
      domains: [...t.domains],
      apps: t.apps.map((a) => ({
        appId: a.appId, displayName: a.displayName ?? null, servicePrincipalObjectId: a.servicePrincipalObjectId,
        consentedRoles: [...a.consentedRoles], enabled: a.enabled,
      })),
      exchangeServicePrincipals: t.exchangeServicePrincipals.map((sp) => ({ appId: sp.appId, objectId: sp.objectId })),
      mailboxes: t.mailboxes.map((m) => ({ address: m.address, type: m.type, licensed: m.licensed, fullAccess: [...m.fullAccess], sendAs: [...m.sendAs] })),
    })),
  };
}

async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<{ ok: true; value: z.output<S> } | { ok: false; response: Response }> {
  const text = await c.req.text().catch(() => '');
  if (text.length > 64 * 1024) return { ok: false, response: c.json({ error: 'too_large', problems: ['the body exceeds 64 KiB'] }, 413) };
  let json: unknown;
  try {
    json = JSON.parse(text || '{}');
  } catch (err) {
    return { ok: false, response: c.json({ error: 'invalid_json', problems: [`the body is not JSON: ${err instanceof Error ? err.message : String(err)}`] }, 400) };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, response: c.json({ error: 'invalid_request', problems: parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`) }, 400) };
  }
  return { ok: true, value: parsed.data };
}

/** Applies a result: the new state becomes the baseline (as `PUT state` does). */
function answer<T>(c: Context, rt: HttpRuntime, result: DirectoryResult<T>, status: 200 | 201 = 200): Response {
  if (!result.ok) return c.json({ error: 'directory_refused', problems: result.problems }, result.status);
  rt.replaceState(result.state);
  return c.json(result.value as object, status);
}

const PERMISSION = new Set<string>(['full-access', 'send-as']);

export function directoryRoutes(rt: HttpRuntime): Hono {
  const app = new Hono();
  app.get('/directory', (c) => c.json(directoryView(rt.getState())));
  app.post('/directory/tenants', async (c) => {
    const body = await readBody(c, newTenantSchema);
    return body.ok ? answer(c, rt, addTenant(rt.getState(), body.value), 201) : body.response;
  });
  app.post('/directory/apps', async (c) => {
    const body = await readBody(c, newAppSchema);
    return body.ok ? answer(c, rt, addApp(rt.getState(), body.value), 201) : body.response;
  });
  app.post('/directory/mailboxes', async (c) => {
    const body = await readBody(c, newMailboxSchema);
    return body.ok ? answer(c, rt, addMailbox(rt.getState(), body.value), 201) : body.response;
  });
  app.post('/directory/mailboxes/:address/:permission', async (c) => {
    const permission = c.req.param('permission');
    if (!PERMISSION.has(permission)) return c.json({ error: 'not_found', problems: [`no permission ${permission} (full-access, send-as)`] }, 404);
    const body = await readBody(c, z.strictObject({ trustee: z.string().min(1).max(320) }));
    if (!body.ok) return body.response;
    return answer(c, rt, setPermission(rt.getState(), c.req.param('address'), permission as Permission, body.value.trustee, true));
  });
  app.delete('/directory/mailboxes/:address/:permission/:trustee', (c) => {
    const permission = c.req.param('permission');
    if (!PERMISSION.has(permission)) return c.json({ error: 'not_found', problems: [`no permission ${permission} (full-access, send-as)`] }, 404);
    return answer(c, rt, setPermission(rt.getState(), c.req.param('address'), permission as Permission, c.req.param('trustee'), false));
  });
  return app;
}
