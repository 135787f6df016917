/**
 * Named scenarios: one broken Microsoft 365 set-up per name, as the doctor knows them (no admin
 * consent, no service principal in Exchange, the App Registration's object id registered, no
 * FullAccess, SMTP AUTH off for the tenant or the mailbox, a wrong, expired or disabled
 * credential, an unknown tenant or app, a mailbox that is not in the tenant, ...), and the Graph
 * ones (`transport: 'graph'`: no Mail.Send, an unlicensed mailbox, an RBAC scope or Application
 * Access Policy that leaves the mailbox out), which leave SMTP working.
 *
 * Why it exists: breaking the emulated tenant used to mean editing GUID-laden JSON by hand.
 * `mailgate emulator --scenario NAME`, `PUT /_emulator/scenario/NAME` and `setScenario(name)`
 * apply one of these to the *baseline* state (the state the emulator started with, or the last
 * one PUT to `/_emulator/state`); `healthy` restores the baseline. Scenarios never add up: each
 * one replaces the previous one, so "break, look, restore" needs no bookkeeping.
 *
 * Every scenario acts on the primary tenant: the first tenant of the state, its first app,
 * that app's first secret, and the first mailbox (the demo tenant has exactly one of each), so
 * the client values printed by `mailgate emulator` keep naming the same IDs while the tenant
 * refuses them. Most scenarios change the tenant (the client's settings stay as they were,
 * which is how the mistake looks from Mailgate's side). A few mistakes live only in the
 * client's settings (a Secret ID pasted as the secret, a Graph scope, Basic authentication):
 * those are marked `client`, change nothing in the tenant, and give the settings to use instead.
 *
 * `check` is the doctor check (src/doctor/types.ts CHECK_IDS) the scenario makes fail; the
 * end-to-end test test/e2e/scenarios.test.ts holds every scenario to it. The emulator keeps its
 * own copy of the check names on purpose (it imports nothing from the product).
 *
 * Imports: ./state.ts, ./ids.ts.
 */
import { randomBytes } from 'node:crypto';
import { newGuid } from './ids.js';
import { parseState, type EmulatorState, type TenantState } from './state.js';

/** The settings a client uses for the primary tenant (Mailgate's names). */
export interface ClientValues {
  tenantId: string;
  clientId: string;
  /** The secret's value (absent when the app has no secret). */
  clientSecret?: string;
  /** The secret's ID (what the portal shows as "Secret ID"). */
  secretId?: string;
  authorizedFrom: string;
  /** Only for client-side scenarios that change it. */
  scope?: string;
  useModernAuth?: boolean;
  smtpUsername?: string;
  smtpPassword?: string;
}

export type ScenarioCheck = 'token' | 'token-claims' | 'smtp-auth' | 'graph-token' | 'graph-send';

export interface ScenarioInfo {
  name: string;
  /** What an administrator did (or did not do). */
  description: string;
  /** The doctor check this scenario makes fail (`null` for `healthy`). */
  check: ScenarioCheck | null;
  /** True when the mistake is in the client's settings, not in the tenant. */
  client: boolean;
  /** The transport the mistake breaks (`smtp` also for token problems both transports share). */
  transport: 'smtp' | 'graph';
}

interface Scenario extends Omit<ScenarioInfo, 'transport'> {
  transport?: 'smtp' | 'graph';
  /** Changes the (cloned) baseline in place. */
  breakTenant?(tenant: TenantState): void;
  /** Client settings that differ from the baseline's (client-side scenarios). */
  clientOverrides?(client: ClientValues): Partial<ClientValues>;
}

export const HEALTHY = 'healthy';

/** The primary tenant's app, secret and mailbox, or why there is none. */
function primary(tenant: TenantState | undefined): { tenant: TenantState; app: TenantState['apps'][number]; mailbox: TenantState['mailboxes'][number] } {
  const app = tenant?.apps[0];
  const mailbox = tenant?.mailboxes[0];
  if (!tenant || !app || !mailbox) throw new ScenarioError('the emulator state has no tenant with an app and a mailbox, so there is nothing to break');
  return { tenant, app, mailbox };
}

export class ScenarioError extends Error {
  /** True when no scenario has this name (the others: the state has nothing the scenario can break). */
  constructor(message: string, readonly unknownName = false) {
    super(message);
  }
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

const SCENARIOS: readonly Scenario[] = [
  {
    name: HEALTHY, check: null, client: false,
    description: 'Everything set up correctly (the baseline state); restores it after another scenario.',
  },
  // ---- Entra ID: the token request fails -------------------------------------------------------
  {
    name: 'unknown-tenant', check: 'token', client: false,
    description: 'Directory (tenant) ID names no tenant (a typo, or another cloud): AADSTS90002.',
    breakTenant: (t) => { t.id = newGuid(); },
  },
  {
    name: 'unknown-app', check: 'token', client: false,
    description: 'Application (client) ID names no app in the tenant (a typo, or the app lives in another tenant): AADSTS700016.',
    breakTenant: (t) => { primary(t).app.appId = newGuid(); },
  },
  {
    name: 'disabled-app', check: 'token', client: false,
    description: 'The Enterprise Application is disabled for sign-in: AADSTS7000112.',
    breakTenant: (t) => { primary(t).app.enabled = false; },
  },
  {
    name: 'wrong-secret', check: 'token', client: false,
    description: 'The client secret was replaced in Entra ID (or mistyped): AADSTS7000215.',
    breakTenant: (t) => {
      const { app } = primary(t);
      const value = `${randomBytes(3).toString('hex').slice(0, 3)}8Q~${randomBytes(24).toString('base64url').slice(0, 34)}`;
      app.secrets = app.secrets.length ? app.secrets.map((s) => ({ ...s, value })) : [{ id: newGuid(), value, expires: new Date(Date.now() + 365 * 86400_000).toISOString() }];
    },
  },
  {
    name: 'expired-secret', check: 'token', client: false,
    description: 'The client secret expired: AADSTS7000222.',
    breakTenant: (t) => {
      const { app } = primary(t);
      if (!app.secrets.length) throw new ScenarioError('the primary app has no client secret to expire');
      app.secrets = app.secrets.map((s) => ({ ...s, expires: new Date(Date.now() - 86400_000).toISOString() }));
    },
  },
  {
    name: 'secret-id-pasted', check: 'token', client: true,
    description: 'Client Secret holds the Secret ID (a GUID) instead of the secret\'s Value: AADSTS7000215. A client-side mistake: use the printed settings.',
    clientOverrides: (c) => {
      if (!c.secretId) throw new ScenarioError('the primary app has no client secret, so there is no Secret ID to paste');
      return { clientSecret: c.secretId };
    },
  },
  // ---- The token is issued but cannot work for SMTP ------------------------------------------
  {
    name: 'graph-scope', check: 'token-claims', client: true,
    description: 'Token scope asks for Microsoft Graph instead of Exchange Online; SMTP refuses Graph tokens. A client-side mistake: use the printed settings.',
    clientOverrides: () => ({ scope: 'https://graph.microsoft.com/.default' }),
  },
  // ---- Exchange Online refuses the sign-in ----------------------------------------------------
  {
    name: 'no-consent', check: 'smtp-auth', client: false,
    description: 'SMTP.SendAsApp was never granted admin consent: the token has no roles, Exchange answers 535 5.7.3.',
    breakTenant: (t) => { primary(t).app.consentedRoles = []; },
  },
  {
    name: 'no-service-principal', check: 'smtp-auth', client: false,
    description: 'New-ServicePrincipal was never run in Exchange Online: 535 5.7.3.',
    breakTenant: (t) => {
      const { app } = primary(t);
      t.exchangeServicePrincipals = t.exchangeServicePrincipals.filter((sp) => !same(sp.appId, app.appId));
    },
  },
  {
    name: 'app-registration-object-id', check: 'smtp-auth', client: false,
    description: 'New-ServicePrincipal was run with the App Registration\'s Object ID instead of the Enterprise Application\'s: 535 5.7.3.',
    breakTenant: (t) => {
      const { app } = primary(t);
      t.exchangeServicePrincipals = [
        ...t.exchangeServicePrincipals.filter((sp) => !same(sp.appId, app.appId)),
        { appId: app.appId, objectId: app.applicationObjectId },
      ];
    },
  },
  {
    name: 'no-full-access', check: 'smtp-auth', client: false,
    description: 'Add-MailboxPermission ... -AccessRights FullAccess was never run for the mailbox: 535 5.7.3.',
    breakTenant: (t) => {
      const { app, mailbox } = primary(t);
      mailbox.fullAccess = mailbox.fullAccess.filter((id) => !same(id, app.servicePrincipalObjectId) && !same(id, app.appId));
      t.rbacAssignments = [];
    },
  },
  {
    name: 'mailbox-not-in-tenant', check: 'smtp-auth', client: false,
    description: 'Authorized from Address is not a mailbox of the tenant (a typo, or a mailbox of another tenant): 535 5.7.3.',
    breakTenant: (t) => {
      const { mailbox } = primary(t);
      t.mailboxes = t.mailboxes.filter((m) => m !== mailbox);
    },
  },
  {
    name: 'smtp-auth-disabled-tenant', check: 'smtp-auth', client: false,
    description: 'SMTP AUTH is off for the organisation (Set-TransportConfig -SmtpClientAuthenticationDisabled $true) and the mailbox does not override it: 535 5.7.139.',
    breakTenant: (t) => {
      t.smtpAuthDisabled = true;
      primary(t).mailbox.smtpAuthDisabled = null;
    },
  },
  {
    name: 'smtp-auth-disabled-mailbox', check: 'smtp-auth', client: false,
    description: 'SMTP AUTH is off for the mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $true): 535 5.7.139.',
    breakTenant: (t) => { primary(t).mailbox.smtpAuthDisabled = true; },
  },
  {
    name: 'basic-auth', check: 'smtp-auth', client: true,
    description: 'Modern authentication is off and a username and password are used; Exchange refuses Basic authentication: 535 5.7.139. A client-side mistake: use the printed settings.',
    clientOverrides: (c) => ({ useModernAuth: false, smtpUsername: c.authorizedFrom, smtpPassword: 'Password-used-before-OAuth2' }),
  },
  // ---- Microsoft Graph refuses sendMail (SMTP is unaffected) ----------------------------------
  {
    name: 'graph-no-mail-send', check: 'graph-token', client: false, transport: 'graph',
    description: 'The Microsoft Graph application permission Mail.Send was never granted admin consent (and no RBAC for Applications role gives it): the Graph token has no Mail.Send, sendMail answers 403 ErrorAccessDenied.',
    breakTenant: (t) => {
      const { app } = primary(t);
      app.consentedRoles = app.consentedRoles.filter((r) => r !== 'Mail.Send');
      t.rbacAssignments = t.rbacAssignments.filter((a) => a.role !== 'Application Mail.Send');
    },
  },
  {
    name: 'graph-mailbox-not-licensed', check: 'graph-send', client: false, transport: 'graph',
    description: 'The Authorized from Address has no Exchange Online licence: sendMail answers 404 MailboxNotEnabledForRESTAPI (SMTP AUTH still works).',
    breakTenant: (t) => { primary(t).mailbox.licensed = false; },
  },
  {
    name: 'graph-rbac-scope-excludes-mailbox', check: 'graph-send', client: false, transport: 'graph',
    description: 'Graph access is scoped with RBAC for Applications ("Application Mail.Send", no Entra Mail.Send), and the management scope does not include the Authorized from Address: 403 ErrorAccessDenied.',
    breakTenant: (t) => {
      const { app, mailbox } = primary(t);
      app.consentedRoles = app.consentedRoles.filter((r) => r !== 'Mail.Send');
      const other = `someone-else@${mailbox.address.split('@')[1]}`;
      t.rbacAssignments = [...t.rbacAssignments.filter((a) => a.role !== 'Application Mail.Send'), { app: app.servicePrincipalObjectId, role: 'Application Mail.Send', mailboxes: [other] }];
    },
  },
  {
    name: 'graph-access-policy-excludes-mailbox', check: 'graph-send', client: false, transport: 'graph',
    description: 'An Application Access Policy (RestrictAccess) limits the app to a group without the Authorized from Address: 403 ErrorAccessDenied "Access to OData is disabled".',
    breakTenant: (t) => {
      const { app, mailbox } = primary(t);
      t.applicationAccessPolicies = [...t.applicationAccessPolicies, { appId: app.appId, accessRight: 'RestrictAccess', mailboxes: [`someone-else@${mailbox.address.split('@')[1]}`] }];
    },
  },
];

const BY_NAME = new Map(SCENARIOS.map((s) => [s.name, s]));

/** Every scenario, `healthy` first, as `--list-scenarios` and `GET /_emulator/scenarios` show them. */
export function listScenarios(): ScenarioInfo[] {
  return SCENARIOS.map(({ name, description, check, client, transport }) => ({ name, description, check, client, transport: transport ?? 'smtp' }));
}

export function scenarioInfo(name: string): ScenarioInfo | undefined {
  const s = BY_NAME.get(name);
  return s && { name: s.name, description: s.description, check: s.check, client: s.client, transport: s.transport ?? 'smtp' };
}

/** The client values for a state: its primary tenant, app, secret and mailbox. */
export function clientValuesOf(state: EmulatorState): ClientValues {
  const { tenant, app, mailbox } = primary(state.tenants[0]);
  const secret = app.secrets[0];
  return {
    tenantId: tenant.id,
    clientId: app.appId,
    ...(secret ? { clientSecret: secret.value, secretId: secret.id } : {}),
    authorizedFrom: mailbox.address,
  };
}

export interface AppliedScenario {
  info: ScenarioInfo;
  /** The state to serve. */
  state: EmulatorState;
  /**
   * The settings a client should use (the baseline's, plus a client-side scenario's changes);
   * absent for `healthy` on a state without an app and a mailbox.
   */
  client?: ClientValues;
}

/**
 * Applies a scenario to the baseline (never to an already broken state). Throws ScenarioError
 * for an unknown name or a baseline the scenario cannot act on.
 */
export function applyScenario(baseline: EmulatorState, name: string): AppliedScenario {
  const scenario = BY_NAME.get(name);
  if (!scenario) throw new ScenarioError(`unknown scenario "${name.slice(0, 60)}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`, true);
  if (name === HEALTHY) {
    let client: ClientValues | undefined;
    try {
      client = clientValuesOf(baseline);
    } catch {
      client = undefined; // a state with no app or mailbox (tests build such states) is still healthy
    }
    return { info: scenarioInfo(name)!, state: baseline, ...(client ? { client } : {}) };
  }
  const client = clientValuesOf(baseline);
  const state = structuredClone(baseline);
  scenario.breakTenant?.(state.tenants[0]!);
  const parsed = parseState(state);
  if (!parsed.ok) throw new ScenarioError(`scenario ${name} made an invalid state: ${parsed.problems.join('; ')}`);
  return {
    info: scenarioInfo(name)!,
    state: parsed.state,
    client: { ...client, ...(scenario.clientOverrides?.(client) ?? {}) },
  };
}
