/**
 * The emulator's tenant state: the JSON document that models, step by step, what an
 * administrator set up in Entra ID and Exchange Online (app registration, secret or
 * certificate, admin consent, `New-ServicePrincipal`, `Add-MailboxPermission`, SendAs,
 * `Set-CASMailbox -SmtpClientAuthenticationDisabled`, ...), so each missed step can be reproduced.
 *
 * Why it exists: one zod schema is the single source of truth for the state file (`--state`),
 * `PUT {admin}/state` and `setState()`; `parseState` reports every problem with its path.
 * The lookup helpers implement Entra's tenant resolution (GUID or any verified domain).
 *
 * Imports: zod, ./pki.ts (certificate thumbprints).
 */
import { z } from 'zod';
import { certificateThumbprints } from './pki.js';

const guid = () => z.guid({ message: 'must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)' });
const isoDate = () => z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2027-06-01T00:00:00Z' });

const secretSchema = z.strictObject({
  /** The secret's ID (what the portal shows as "Secret ID"; sending it as the value is a classic mistake). */
  id: guid(),
  /** The secret's value. */
  value: z.string().min(1),
  expires: isoDate(),
  /** The secret's Description in the portal (Graph `displayName`). */
  displayName: z.string().min(1).optional(),
  /** When the secret was added (Graph `startDateTime`); default: a year before it expires. */
  created: isoDate().optional(),
});

const certificateSchema = z.strictObject({
  /** SHA-256 of the DER certificate, hex (colons and case ignored). */
  thumbprintSha256: z.string().regex(/^([0-9a-fA-F]{2}:?){32}$/, 'must be 64 hex digits'),
  /** The public certificate (PEM) as uploaded to the app registration. */
  pem: z.string().includes('BEGIN CERTIFICATE', { message: 'must be a PEM certificate' }),
  expires: isoDate(),
  /** The key credential's id (Graph `keyId`); default: derived from the thumbprint. */
  keyId: guid().optional(),
  /** The certificate's Description in the portal (Graph `displayName`). */
  displayName: z.string().min(1).optional(),
});

const appSchema = z.strictObject({
  /** Application (client) ID. */
  appId: guid(),
  /** Object ID of the App Registration (NOT the one Exchange needs). */
  applicationObjectId: guid(),
  /** Object ID of the Enterprise Application (service principal): the token's `oid`. */
  servicePrincipalObjectId: guid(),
  /** Optional display name (appears as `app_displayname` and in AADSTS7000112). */
  displayName: z.string().min(1).optional(),
  enabled: z.boolean().default(true),
  secrets: z.array(secretSchema).default([]),
  certificates: z.array(certificateSchema).default([]),
  /** Application permissions with admin consent, e.g. `SMTP.SendAsApp` (Exchange) or `Mail.Send` (Graph). */
  consentedRoles: z.array(z.string().min(1)).default([]),
});

const exchangeServicePrincipalSchema = z.strictObject({
  appId: guid(),
  /** The object id given to `New-ServicePrincipal -ObjectId` (must be the Enterprise Application's). */
  objectId: guid(),
});

const mailboxSchema = z.strictObject({
  address: z.email({ message: 'must be an e-mail address' }),
  /**
   * `user` (a licensed user mailbox, the default) or `shared` (a shared mailbox: no licence and no
   * sign-in of its own; people and apps reach it through FullAccess and send as it through Send As).
   * Exchange refuses a shared mailbox as the XOAUTH2 `user=` unless the service principal was
   * given FullAccess on it (`535 5.7.3`, docs/m365.md §3.3, §13); Graph reaches it without a licence.
   */
  type: z.enum(['user', 'shared']).default('user'),
  /** `Set-CASMailbox -SmtpClientAuthenticationDisabled`: true/false override the tenant, null follows it. */
  smtpAuthDisabled: z.boolean().nullable().default(null),
  /** Object ids (service principals) with FullAccess (`Add-MailboxPermission -AccessRights FullAccess`). */
  fullAccess: z.array(z.string().min(1)).default([]),
  /**
   * Send As on this mailbox (`Add-RecipientPermission -Identity <this> -Trustee <t> -AccessRights
   * SendAs`): the trustees, as other mailboxes' addresses or service principal object ids.
   */
  sendAs: z.array(z.string().min(1)).default([]),
  /** When set, AUTH LOGIN/PLAIN with this password succeeds (basic auth not yet turned off). */
  basicAuthPassword: z.string().nullable().default(null),
  /**
   * The user's object id in Entra ID (Graph's `/users/{id}` accepts it as well as the address).
   * Optional: without it the mailbox is found by address only.
   */
  userObjectId: guid().optional(),
  /** Whether the user holds an Exchange Online licence; `false` makes Graph answer `MailboxNotEnabledForRESTAPI`. */
  licensed: z.boolean().default(true),
  /** A mailbox hosted on Exchange on-premises (hybrid): Graph answers `MailboxNotEnabledForRESTAPI`. */
  onPremises: z.boolean().default(false),
});

/** The application roles of RBAC for Applications the emulator knows (SMTP, and Graph's mail roles). */
export const RBAC_APPLICATION_ROLES = ['Application SMTP.SendAsApp', 'Application Mail.Send', 'Application Mail.ReadWrite'] as const;

/**
 * RBAC for Applications (set-up B, docs/m365.md §6.3, §8.2): `New-ManagementRoleAssignment -Role
 * "Application SMTP.SendAsApp" -App <service principal> -CustomResourceScope <scope>`. The app
 * then needs no SMTP.SendAsApp consent in Entra and no mailbox permission. The Graph roles
 * (`Application Mail.Send`, `Application Mail.ReadWrite`) grant that Graph permission on the
 * scope's mailboxes only, independently of (in addition to) any grant in Entra ID.
 */
const rbacAssignmentSchema = z.strictObject({
  /** The service principal as given to `-App`: its object id (or the app id, which Exchange also resolves). */
  app: guid(),
  role: z.enum(RBAC_APPLICATION_ROLES).default('Application SMTP.SendAsApp'),
  /** The management scope: the mailboxes it covers (`null` = every mailbox of the tenant). */
  mailboxes: z.array(z.email({ message: 'must be an e-mail address' })).nullable().default(null),
});

/**
 * A legacy Application Access Policy (`New-ApplicationAccessPolicy -AppId <app> -PolicyScopeGroupId
 * <group> -AccessRight RestrictAccess|DenyAccess`, docs/m365.md §6.3): limits what the app's Entra
 * (tenant-wide) Graph permissions reach. The group is modelled by its members' addresses.
 */
const applicationAccessPolicySchema = z.strictObject({
  /** The application (client) id given to `-AppId`. */
  appId: guid(),
  accessRight: z.enum(['RestrictAccess', 'DenyAccess']),
  /** The members of the mail-enabled security group given to `-PolicyScopeGroupId`. */
  mailboxes: z.array(z.email({ message: 'must be an e-mail address' })),
});

const tenantSchema = z.strictObject({
  id: guid(),
  domains: z.array(z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, 'must be a DNS domain name')).min(1),
  /** `Set-TransportConfig -SmtpClientAuthenticationDisabled` (org-wide). */
  smtpAuthDisabled: z.boolean().default(false),
  apps: z.array(appSchema).default([]),
  exchangeServicePrincipals: z.array(exchangeServicePrincipalSchema).default([]),
  mailboxes: z.array(mailboxSchema).default([]),
  rbacAssignments: z.array(rbacAssignmentSchema).default([]),
  applicationAccessPolicies: z.array(applicationAccessPolicySchema).default([]),
});

/**
 * The SMTP extensions the front end offers besides the fixed ones. Exchange Online offers all
 * of them (docs/m365.md §3.2); turning one off shows how a client copes with a server without it.
 * Absent = all on.
 */
const smtpExtensionsSchema = z.strictObject({
  /** RFC 2920 PIPELINING in EHLO. */
  pipelining: z.boolean().default(true),
  /** RFC 3030 CHUNKING in EHLO, and the BDAT command. */
  chunking: z.boolean().default(true),
  /** RFC 6531 SMTPUTF8 in EHLO (on when absent; off: what a client does with a server without it). */
  smtputf8: z.boolean().optional(),
});

/** The schema of the whole state document (also checks cross-references such as certificate thumbprints). */
export const emulatorStateSchema = z
  .strictObject({ tenants: z.array(tenantSchema), smtp: smtpExtensionsSchema.optional() })
  .superRefine((state, ctx) => {
    const tenantIds = new Set<string>();
    const domains = new Set<string>();
    state.tenants.forEach((tenant, t) => {
      if (tenantIds.has(tenant.id.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['tenants', t, 'id'], message: `duplicate tenant id ${tenant.id}` });
      tenantIds.add(tenant.id.toLowerCase());
      tenant.domains.forEach((domain, d) => {
        if (domains.has(domain.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['tenants', t, 'domains', d], message: `domain ${domain} belongs to two tenants` });
        domains.add(domain.toLowerCase());
      });
      const tenantDomains = new Set(tenant.domains.map((d) => d.toLowerCase()));
      tenant.mailboxes.forEach((mailbox, m) => {
        const domain = mailbox.address.split('@')[1]?.toLowerCase() ?? '';
        if (!tenantDomains.has(domain)) {
          ctx.addIssue({ code: 'custom', path: ['tenants', t, 'mailboxes', m, 'address'], message: `domain ${domain} is not one of the tenant's domains` });
        }
      });
      tenant.apps.forEach((app, a) => {
        app.certificates.forEach((cert, c) => {
          let actual: string | undefined;
          try {
            actual = certificateThumbprints(cert.pem).sha256;
          } catch {
            ctx.addIssue({ code: 'custom', path: ['tenants', t, 'apps', a, 'certificates', c, 'pem'], message: 'is not a readable PEM certificate' });
            return;
          }
          if (normalizeThumbprint(cert.thumbprintSha256) !== actual) {
            ctx.addIssue({ code: 'custom', path: ['tenants', t, 'apps', a, 'certificates', c, 'thumbprintSha256'], message: `does not match the certificate (its SHA-256 thumbprint is ${actual})` });
          }
        });
      });
    });
  });

/** The state as the emulator holds it (defaults applied). */
export type EmulatorState = z.output<typeof emulatorStateSchema>;
/** The state as a file or a caller may write it (optional fields may be left out). */
export type EmulatorStateInput = z.input<typeof emulatorStateSchema>;
export type TenantState = EmulatorState['tenants'][number];
export type AppState = TenantState['apps'][number];
export type MailboxState = TenantState['mailboxes'][number];

/** The SMTP extensions in force (both on when the state does not say). */
export function smtpExtensions(state: EmulatorState): { pipelining: boolean; chunking: boolean; smtputf8: boolean } {
  return { pipelining: state.smtp?.pipelining !== false, chunking: state.smtp?.chunking !== false, smtputf8: state.smtp?.smtputf8 !== false };
}

export type ParseStateResult = { ok: true; state: EmulatorState } | { ok: false; problems: string[] };

/** Validates a state document and lists every problem as `path: message`. */
export function parseState(input: unknown): ParseStateResult {
  const result = emulatorStateSchema.safeParse(input);
  if (result.success) return { ok: true, state: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`),
  };
}

export const normalizeThumbprint = (hex: string): string => hex.replace(/:/g, '').toLowerCase();

const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isGuid = (value: string): boolean => GUID_PATTERN.test(value);

/** Finds a tenant by its GUID or any of its domains (case-insensitive), as Entra resolves `{tenant}`. */
export function findTenant(state: EmulatorState, idOrDomain: string): TenantState | undefined {
  const key = idOrDomain.toLowerCase();
  return state.tenants.find((t) => t.id.toLowerCase() === key || t.domains.some((d) => d.toLowerCase() === key));
}

export function findApp(tenant: TenantState, appId: string): AppState | undefined {
  const key = appId.toLowerCase();
  return tenant.apps.find((a) => a.appId.toLowerCase() === key);
}

export function findMailbox(tenant: TenantState, address: string): MailboxState | undefined {
  const key = address.toLowerCase();
  return tenant.mailboxes.find((m) => m.address.toLowerCase() === key);
}

/** Finds a mailbox as Graph's `/users/{id | userPrincipalName}` does: by address or by the user's object id. */
export function findMailboxByUserId(tenant: TenantState, idOrUpn: string): MailboxState | undefined {
  const key = idOrUpn.toLowerCase();
  return tenant.mailboxes.find((m) => m.address.toLowerCase() === key || m.userObjectId?.toLowerCase() === key);
}

/** The tenant that hosts a mailbox address (by its domain), across all tenants. */
export function findMailboxAnywhere(state: EmulatorState, address: string): { tenant: TenantState; mailbox: MailboxState } | undefined {
  for (const tenant of state.tenants) {
    const mailbox = findMailbox(tenant, address);
    if (mailbox) return { tenant, mailbox };
  }
  return undefined;
}
