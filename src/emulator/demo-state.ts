/**
 * Builders for tenant states: `demoState()` (a tenant where every step is done right, used when
 * the emulator starts without `--state`) and `buildTenantState(options)`, which makes the same
 * tenant with one or more administrator steps missed or done wrong, for tests.
 *
 * Why it exists: every consumer of the emulator (its own tests, the product's end-to-end
 * tests, `mailgate dev`) needs correct and deliberately broken tenants; writing GUID-laden
 * JSON by hand in each test is error-prone.
 *
 * Imports: ./state.ts, ./ids.ts, node:crypto.
 */
import { randomBytes } from 'node:crypto';
import { newGuid } from './ids.js';
import { parseState, type EmulatorState, type EmulatorStateInput } from './state.js';

/** A certificate credential to put on the app (e.g. from `createClientCertificate()`). */
export interface CertificateCredentialInput {
  certPem: string;
  thumbprintSha256: string;
  /** ISO date; defaults to one year from now. */
  expires?: string;
}

/** Each option defaults to the correct set-up; set one to reproduce a missed step. */
export interface TenantStateOptions {
  tenantId?: string;
  /** The tenant's domain (default `contoso.onmicrosoft.com`). */
  domain?: string;
  /** Extra verified domains. */
  extraDomains?: string[];
  appId?: string;
  applicationObjectId?: string;
  servicePrincipalObjectId?: string;
  displayName?: string;
  /** The sending mailbox (default `noreply@<domain>`). */
  mailbox?: string;
  /** The client secret's value; `null` = the app has no secret. Default: random. */
  clientSecret?: string | null;
  secretId?: string;
  /** Secret expiry (ISO); a past date reproduces AADSTS7000222. Default: one year from now. */
  secretExpires?: string;
  certificates?: CertificateCredentialInput[];
  /**
   * Admin-consented application permissions. Default `['SMTP.SendAsApp', 'Mail.Send']` (the set-up
   * guide grants both, so either transport works); `[]` = consent never granted. Add
   * `'Mail.ReadWrite'` for Graph's draft + upload-session path.
   */
  consentedRoles?: string[];
  /** `false` reproduces a disabled app (AADSTS7000112). */
  appEnabled?: boolean;
  /**
   * How `New-ServicePrincipal` was run: `'correct'` (Enterprise Application object id, default),
   * `'missing'` (never run), `'applicationObjectId'` (the App Registration's object id: the classic mistake).
   */
  exchangeServicePrincipal?: 'correct' | 'missing' | 'applicationObjectId';
  /** `false` = `Add-MailboxPermission ... FullAccess` never run. Default true. */
  fullAccess?: boolean;
  /** Who may send as the mailbox (SendAs). Default none. */
  sendAs?: string[];
  /** Org-wide `SmtpClientAuthenticationDisabled` (default false). */
  tenantSmtpAuthDisabled?: boolean;
  /** Mailbox `SmtpClientAuthenticationDisabled` (default null = follow the tenant). */
  mailboxSmtpAuthDisabled?: boolean | null;
  /** A basic-auth password for the mailbox (default null = basic auth disabled). */
  basicAuthPassword?: string | null;
  /**
   * Set-up B, RBAC for Applications: an "Application SMTP.SendAsApp" role assignment for the
   * service principal, scoped to these mailboxes (`null` = all). Usually combined with
   * `consentedRoles: []` and `fullAccess: false`, as Microsoft's RBAC onboarding describes.
   */
  rbacMailboxes?: string[] | null;
  /**
   * More RBAC for Applications assignments for the app's service principal, e.g.
   * `[{ role: 'Application Mail.Send', mailboxes: ['noreply@contoso.onmicrosoft.com'] }]` (Graph scoped to one mailbox).
   */
  rbacAssignments?: Array<{ role: 'Application SMTP.SendAsApp' | 'Application Mail.Send' | 'Application Mail.ReadWrite'; mailboxes: string[] | null }>;
  /** Application Access Policies for the app (legacy Graph scoping): `RestrictAccess` to, or `DenyAccess` for, these mailboxes. */
  applicationAccessPolicies?: Array<{ accessRight: 'RestrictAccess' | 'DenyAccess'; mailboxes: string[] }>;
  /** `false`: the mailbox's user has no Exchange Online licence (Graph: MailboxNotEnabledForRESTAPI). Default true. */
  mailboxLicensed?: boolean;
  /** `true`: the mailbox is hosted on-premises (Graph: MailboxNotEnabledForRESTAPI). Default false. */
  mailboxOnPremises?: boolean;
  /** The mailbox user's Entra object id (Graph's `/users/{id}`). Default: random. */
  userObjectId?: string;
  /** More mailboxes in the same tenant (addresses must use one of its domains). */
  extraMailboxes?: NonNullable<EmulatorStateInput['tenants'][number]['mailboxes']>;
  /**
   * Shared mailboxes (no licence, no sign-in of their own) in the same tenant. `sendAs` lists the
   * trustees (`Add-RecipientPermission -Trustee`), e.g. the sending mailbox; `fullAccess: true`
   * gives the app's service principal FullAccess (then the shared mailbox itself can be `user=`).
   */
  sharedMailboxes?: Array<{ address: string; sendAs?: string[]; fullAccess?: boolean }>;
}

/** A built tenant: the state and the values a client needs (the same fields as the ready line's `demo`). */
export interface BuiltTenant {
  state: EmulatorState;
  tenantId: string;
  domain: string;
  clientId: string;
  /** The secret's value, or null when the app has none. */
  clientSecret: string | null;
  secretId: string;
  /** The mailbox the app may send from (the `user=` of XOAUTH2 and the From address). */
  authorizedFrom: string;
  servicePrincipalObjectId: string;
  applicationObjectId: string;
  /** The mailbox user's Entra object id (Graph accepts `/users/{userObjectId}`). */
  userObjectId: string;
  /** The shared mailboxes' addresses (see `sharedMailboxes`), in order. */
  sharedMailboxes: string[];
}

const YEAR_MS = 365 * 24 * 3600_000;

/** A client secret shaped like Entra's (40 characters, with a `~` as the fourth). */
function newClientSecret(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-';
  const body = Array.from(randomBytes(37), (b) => alphabet[b % alphabet.length]).join('');
  return `${body.slice(0, 3)}8Q~${body.slice(3, 37)}`;
}

/**
 * Builds a one-tenant state, correct unless an option says otherwise.
 *
 * @example
 * const broken = buildTenantState({ exchangeServicePrincipal: 'applicationObjectId' });
 * const emulator = await startEmulator(broken.state);
 * // XOAUTH2 as broken.authorizedFrom now gets "535 5.7.3 Authentication unsuccessful [...]"
 */
export function buildTenantState(options: TenantStateOptions = {}): BuiltTenant {
  const tenantId = options.tenantId ?? newGuid();
  const domain = options.domain ?? 'contoso.onmicrosoft.com';
  const clientId = options.appId ?? newGuid();
  const applicationObjectId = options.applicationObjectId ?? newGuid();
  const servicePrincipalObjectId = options.servicePrincipalObjectId ?? newGuid();
  const mailbox = options.mailbox ?? `noreply@${domain}`;
  const clientSecret = options.clientSecret === undefined ? newClientSecret() : options.clientSecret;
  const secretId = options.secretId ?? newGuid();
  const secretExpires = options.secretExpires ?? new Date(Date.now() + YEAR_MS).toISOString();
  const spMode = options.exchangeServicePrincipal ?? 'correct';
  const userObjectId = options.userObjectId ?? newGuid();

  const input: EmulatorStateInput = {
    tenants: [{
      id: tenantId,
      domains: [domain, ...(options.extraDomains ?? [])],
      smtpAuthDisabled: options.tenantSmtpAuthDisabled ?? false,
      apps: [{
        appId: clientId,
        applicationObjectId,
        servicePrincipalObjectId,
        displayName: options.displayName ?? 'Mailgate',
        enabled: options.appEnabled ?? true,
        secrets: clientSecret === null ? [] : [{ id: secretId, value: clientSecret, expires: secretExpires }],
        certificates: (options.certificates ?? []).map((c) => ({
          thumbprintSha256: c.thumbprintSha256,
          pem: c.certPem,
          expires: c.expires ?? new Date(Date.now() + YEAR_MS).toISOString(),
        })),
        consentedRoles: options.consentedRoles ?? ['SMTP.SendAsApp', 'Mail.Send'],
      }],
      exchangeServicePrincipals: spMode === 'missing' ? [] : [{
        appId: clientId,
        objectId: spMode === 'applicationObjectId' ? applicationObjectId : servicePrincipalObjectId,
      }],
      mailboxes: [
        {
          address: mailbox,
          smtpAuthDisabled: options.mailboxSmtpAuthDisabled ?? null,
          fullAccess: options.fullAccess === false ? [] : [servicePrincipalObjectId],
          sendAs: options.sendAs ?? [],
          basicAuthPassword: options.basicAuthPassword ?? null,
          userObjectId,
          licensed: options.mailboxLicensed ?? true,
          onPremises: options.mailboxOnPremises ?? false,
        },
        ...(options.extraMailboxes ?? []),
        ...(options.sharedMailboxes ?? []).map((m) => ({
          address: m.address,
          type: 'shared' as const,
          licensed: false,
          fullAccess: m.fullAccess ? [servicePrincipalObjectId] : [],
          sendAs: m.sendAs ?? [],
        })),
      ],
      rbacAssignments: [
        ...(options.rbacMailboxes === undefined ? [] : [{ app: servicePrincipalObjectId, role: 'Application SMTP.SendAsApp' as const, mailboxes: options.rbacMailboxes }]),
        ...(options.rbacAssignments ?? []).map((a) => ({ app: servicePrincipalObjectId, role: a.role, mailboxes: a.mailboxes })),
      ],
      applicationAccessPolicies: (options.applicationAccessPolicies ?? []).map((p) => ({ appId: clientId, accessRight: p.accessRight, mailboxes: p.mailboxes })),
    }],
  };
  const parsed = parseState(input);
  if (!parsed.ok) throw new Error(`buildTenantState made an invalid state: ${parsed.problems.join('; ')}`);
  return {
    state: parsed.state, tenantId, domain, clientId, clientSecret, secretId,
    authorizedFrom: mailbox, servicePrincipalObjectId, applicationObjectId, userObjectId,
    sharedMailboxes: (options.sharedMailboxes ?? []).map((m) => m.address),
  };
}

/** The demo tenant's shared mailbox: `noreply@` has Send As on it, the app has no FullAccess on it. */
export const DEMO_SHARED_LOCAL_PART = 'support';

/**
 * The tenant the emulator uses without `--state`: everything set up correctly, a random secret
 * per call, plus a shared mailbox `support@<domain>` on which the sending mailbox has Send As
 * (so `mailgate dev` can show a Send As sender: sign in as noreply@, send with From support@).
 */
export function demoState(): BuiltTenant {
  const domain = 'contoso.onmicrosoft.com';
  return buildTenantState({ domain, sharedMailboxes: [{ address: `${DEMO_SHARED_LOCAL_PART}@${domain}`, sendAs: [`noreply@${domain}`] }] });
}

/**
 * Combines several built tenants (each with its own domain) into one state, so one emulator
 * can serve a correct tenant and broken ones side by side.
 *
 * @example
 * const good = buildTenantState({ domain: 'good.onmicrosoft.com' });
 * const noConsent = buildTenantState({ domain: 'noconsent.onmicrosoft.com', consentedRoles: [] });
 * const emulator = await startEmulator(mergeStates(good, noConsent));
 */
export function mergeStates(...tenants: Array<BuiltTenant | EmulatorState>): EmulatorState {
  const states = tenants.map((t) => ('state' in t ? t.state : t));
  const merged = { tenants: states.flatMap((s) => s.tenants) };
  const parsed = parseState(merged);
  if (!parsed.ok) throw new Error(`mergeStates made an invalid state: ${parsed.problems.join('; ')}`);
  return parsed.state;
}
