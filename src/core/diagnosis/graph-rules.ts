/**
 * Microsoft Graph `sendMail` answers → what went wrong and the fix, like smtp-rules.ts does for
 * Exchange's SMTP replies.
 *
 * Why: Graph refuses app-only sending for reasons that each have their own set-up fix, and its
 * JSON error bodies (`{"error":{"code":"ErrorAccessDenied","message":"Access is denied. Check
 * credentials and try again."}}`) say which one only to someone who knows the catalogue: a
 * missing `Mail.Send` application permission and an RBAC for Applications scope that excludes
 * the mailbox give the same 403; a token for Outlook sent to Graph gives 401 "Invalid audience".
 * Each row names the causes and the fixes with the administrator's own ids (the service
 * principal's oid, the client id, the Authorized from Address).
 * Source of truth: docs/m365.md §5.2 (limits), §6 (sendMail, permissions, errors), §13.
 *
 * Matching: HTTP status, Graph's `error.code`, a pattern over `error.message`; the first
 * matching row wins (specific rows first). Rows by our own error code (no Graph answer: the
 * endpoint unreachable, no answer after the request, a message too large for one request) come
 * after them.
 *
 * This file is a table (one self-contained row per answer).
 *
 * Imports: nothing outside src/core.
 */
import type { ErrorCode, GraphReply } from '../errors.js';
import { hasGroup, type Signals } from './signals.js';
import type { DiagnosisContext, DiagnosisRule } from './types.js';

const LEARN = 'https://learn.microsoft.com';
const GRAPH_DOCS = {
  SENDMAIL: `${LEARN}/graph/api/user-sendmail`,
  ERRORS: `${LEARN}/graph/errors`,
  THROTTLING: `${LEARN}/graph/throttling-limits#outlook-service-limits`,
  LARGE_ATTACHMENTS: `${LEARN}/graph/outlook-large-attachments`,
  APP_RBAC: `${LEARN}/exchange/permissions-exo/application-rbac`,
  AAP: `${LEARN}/graph/auth-limit-mailbox-access`,
  PERMISSIONS: `${LEARN}/graph/permissions-reference#mailsend`,
  ENTRA_CC: `${LEARN}/entra/identity-platform/v2-oauth2-client-creds-grant-flow`,
} as const;

export interface GraphMatcher {
  /** HTTP statuses the row applies to; omitted = any. */
  statuses?: readonly number[];
  /** Graph's `error.code`, exactly (case-insensitive). */
  code?: string;
  /** Pattern over `error.message`. */
  text?: RegExp;
  /** An extra condition on what the caller knows (the token's roles). */
  when?: (ctx: DiagnosisContext) => boolean;
  rule: DiagnosisRule;
}

// ---- Commands shared by several rows (docs/m365.md §6.3) -------------------------------------
const EXO_CONNECT = 'Connect-ExchangeOnline -Organization {tenantId}';
const TEST_SPA = 'Test-ServicePrincipalAuthorization -Identity {oid} -Resource {authorizedFrom}';
const NEW_SP = 'New-ServicePrincipal -AppId {clientId} -ObjectId {oid} -DisplayName "Mailgate"';
const NEW_SCOPE = 'New-ManagementScope -Name "Mailgate sender {authorizedFrom}" -RecipientRestrictionFilter "PrimarySmtpAddress -eq \'{authorizedFrom}\'"';
const NEW_ASSIGNMENT = 'New-ManagementRoleAssignment -Name "Mailgate Graph Mail.Send" -App {oid} -Role "Application Mail.Send" -CustomResourceScope "Mailgate sender {authorizedFrom}"';
const GET_ASSIGNMENTS = 'Get-ManagementRoleAssignment -RoleAssignee {oid} | Format-List Name,Role,CustomResourceScope';
const TEST_AAP = 'Test-ApplicationAccessPolicy -Identity {authorizedFrom} -AppId {clientId}';
const GET_MAILBOX = 'Get-Mailbox -Identity {authorizedFrom} | Format-List RecipientTypeDetails,PrimarySmtpAddress,IsMailboxEnabled';
const GET_MG_USER = 'Get-MgUser -UserId {authorizedFrom} -Property Id,UserPrincipalName,Mail,AssignedLicenses';
const ADD_SENDAS = 'Add-RecipientPermission -Identity {from} -Trustee {authorizedFrom} -AccessRights SendAs';

const CONSENT_FIX =
  'In Microsoft Entra ID → App registrations → {clientId} → API permissions, add Microsoft Graph → Application permissions → Mail.Send (not the Delegated one), then click "Grant admin consent for <your organisation>". The token\'s roles claim must then list Mail.Send (`mailgate doctor` shows it).';
const SCOPE_FIX =
  'If the app is scoped with RBAC for Applications, the scope must cover {authorizedFrom}: check with Test-ServicePrincipalAuthorization, and create the scope and the "Application Mail.Send" assignment below if it is missing (changes take 30 minutes to 2 hours).';
const PROPAGATION_CAUSE = 'The permission or scope was changed only minutes ago: Graph and Exchange Online take from 30 minutes to 2 hours to apply consent and RBAC changes (Application Access Policies can take over an hour).';
const SMTP_WAY_OUT = 'Or send by SMTP instead: set Transport to smtp (MAILGATE_TRANSPORT=smtp), which needs the SMTP.SendAsApp permission and the Exchange Online service principal, or to auto (Automatic), which uses SMTP where Graph cannot send.';

const hasRole = (ctx: DiagnosisContext, role: string) => Array.isArray(ctx.tokenRoles) && ctx.tokenRoles.includes(role);
const rolesKnown = (ctx: DiagnosisContext) => Array.isArray(ctx.tokenRoles);

export const GRAPH_MATCHERS: readonly GraphMatcher[] = [
  // ---- 401: the token ----
  {
    statuses: [401],
    text: /invalid audience/i,
    rule: {
      id: 'graph-401-invalid-audience',
      summary: 'Microsoft Graph refused the access token: it was issued for another resource ("Invalid audience"), for example an Outlook (SMTP) token sent to Graph.',
      causes: [
        'The Graph token scope is not Graph\'s: Graph token scope (graphScope, MAILGATE_GRAPH_SCOPE) names another resource such as https://outlook.office365.com/.default. Tokens are per resource: SMTP needs an Outlook token, Graph a Graph token.',
        'The Graph token scope is another cloud\'s Graph (e.g. https://graph.microsoft.com/.default with the GCC High endpoint https://graph.microsoft.us).',
        'A proxy between Mailgate and Graph replaces the Authorization header.',
      ],
      fixes: [
        'Leave Graph token scope empty so it follows the Cloud (https://graph.microsoft.com/.default for the global cloud), or set it to the Graph resource of the same cloud as the Microsoft Graph endpoint.',
        'Mailgate keeps one token per resource and never sends its SMTP token to Graph; run `mailgate doctor` to see the aud claim of the Graph token it gets.',
      ],
      docs: [GRAPH_DOCS.ENTRA_CC, GRAPH_DOCS.ERRORS],
    },
  },
  {
    statuses: [401],
    rule: {
      id: 'graph-401-invalid-token',
      summary: 'Microsoft Graph refused the access token (401 InvalidAuthenticationToken).',
      causes: [
        'The token expired or was revoked while in use (Mailgate refreshes it and retries once).',
        'The token was issued by another cloud or tenant than the Graph endpoint belongs to (Cloud, Authority host and Microsoft Graph endpoint must be of the same cloud).',
        'A TLS-inspecting proxy altered the request.',
      ],
      fixes: [
        'Check that Cloud, Authority host (authorityHost) and Microsoft Graph endpoint (graphEndpoint) name the same cloud; leave the latter two empty to follow the Cloud.',
        'Run `mailgate doctor` to get a fresh Graph token and see its claims (aud, tid, roles).',
      ],
      docs: [GRAPH_DOCS.ERRORS],
    },
  },
  // ---- 403: permission, scope, Send As, quota ----
  {
    code: 'ErrorSendAsDenied',
    rule: {
      id: 'graph-send-as-denied',
      summary: 'Microsoft Graph refused to send as {from}: mailbox {authorizedFrom} has no Send As right on that address (ErrorSendAsDenied).',
      causes: [
        'The message\'s From ({from}) is not the Authorized from Address ({authorizedFrom}), and {authorizedFrom} was not granted Send As on it.',
        'The From display name contains an @ (e.g. "alerts@example.com <app@contoso.com>"), which Exchange may read as another address.',
      ],
      fixes: [
        'Send with From equal to the Authorized from Address (leave From empty: Mailgate uses it).',
        'Or grant Send As on {from} to {authorizedFrom} (command below) and wait up to an hour.',
        'Remove any @ from the From display name.',
      ],
      commands: [EXO_CONNECT, ADD_SENDAS, 'Get-RecipientPermission -Identity {from}'],
      docs: [GRAPH_DOCS.SENDMAIL],
    },
  },
  {
    code: 'ErrorQuotaExceeded',
    rule: {
      id: 'graph-quota-exceeded',
      summary: 'Mailbox {authorizedFrom} is full (ErrorQuotaExceeded): Graph cannot save the message, so it is not sent.',
      causes: [
        'The mailbox reached its storage quota; every message sent with Save to Sent Items adds to it.',
      ],
      fixes: [
        'Free space in {authorizedFrom} (empty Sent Items and Deleted Items, or set a retention policy that cleans Sent Items), or raise its quota.',
        'Mailgate does not retry this failure: the same request fails until space is freed.',
      ],
      commands: [EXO_CONNECT, 'Get-MailboxStatistics -Identity {authorizedFrom} | Format-List TotalItemSize,StorageLimitStatus', 'Get-Mailbox -Identity {authorizedFrom} | Format-List ProhibitSendQuota,ProhibitSendReceiveQuota'],
      docs: [GRAPH_DOCS.SENDMAIL],
    },
  },
  {
    statuses: [403],
    code: 'ErrorAccessDenied',
    when: (ctx) => rolesKnown(ctx) && !hasRole(ctx, 'Mail.Send'),
    rule: {
      id: 'graph-403-no-mail-send',
      summary: 'Microsoft Graph denied access (ErrorAccessDenied): the app\'s token carries no Mail.Send application permission.',
      causes: [
        'The Microsoft Graph application permission Mail.Send was not added, or admin consent was not granted (the token\'s roles claim lacks Mail.Send).',
        'Mail.Send was added as a Delegated permission instead of an Application permission.',
        PROPAGATION_CAUSE,
      ],
      fixes: [CONSENT_FIX, SMTP_WAY_OUT],
      commands: [
        'Connect-MgGraph -TenantId {tenantId} -Scopes Application.Read.All',
        '$sp = Get-MgServicePrincipal -Filter "appId eq \'{clientId}\'"; Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $sp.Id | Format-List ResourceDisplayName,AppRoleId',
      ],
      docs: [GRAPH_DOCS.PERMISSIONS, GRAPH_DOCS.SENDMAIL],
    },
  },
  {
    statuses: [403],
    text: /OData is disabled|AccessPolicy|access polic/i,
    rule: {
      id: 'graph-403-mailbox-out-of-scope',
      summary: 'Microsoft Graph denied access to mailbox {authorizedFrom}: an Application Access Policy or RBAC for Applications scope excludes it.',
      causes: [
        'An Application Access Policy (RestrictAccess) for app {clientId} does not include {authorizedFrom} in its group.',
        'An RBAC for Applications scope for the service principal {oid} does not cover {authorizedFrom}.',
        PROPAGATION_CAUSE,
      ],
      fixes: [SCOPE_FIX, 'With a legacy Application Access Policy, add {authorizedFrom} to the policy\'s mail-enabled security group (Test-ApplicationAccessPolicy shows the verdict); Microsoft recommends moving to RBAC for Applications.', SMTP_WAY_OUT],
      commands: [EXO_CONNECT, TEST_SPA, TEST_AAP, GET_ASSIGNMENTS, NEW_SCOPE, NEW_ASSIGNMENT],
      docs: [GRAPH_DOCS.APP_RBAC, GRAPH_DOCS.AAP],
    },
  },
  {
    statuses: [403],
    rule: {
      id: 'graph-403-access-denied',
      summary: 'Microsoft Graph denied access to mailbox {authorizedFrom} (403 ErrorAccessDenied "Access is denied. Check credentials and try again.").',
      causes: [
        'The app has no Microsoft Graph application permission Mail.Send, or admin consent was not granted (a common mistake: Mail.Send added as a Delegated permission).',
        'An RBAC for Applications scope or an Application Access Policy for the app excludes {authorizedFrom}.',
        PROPAGATION_CAUSE,
      ],
      fixes: [
        CONSENT_FIX,
        SCOPE_FIX,
        'Test-ServicePrincipalAuthorization (below) shows which roles the service principal {oid} holds on {authorizedFrom} and whether a scope matches it.',
        SMTP_WAY_OUT,
      ],
      commands: [EXO_CONNECT, TEST_SPA, GET_ASSIGNMENTS, NEW_SP, NEW_SCOPE, NEW_ASSIGNMENT],
      docs: [GRAPH_DOCS.PERMISSIONS, GRAPH_DOCS.APP_RBAC, GRAPH_DOCS.AAP],
    },
  },
  // ---- 404 and REST-disabled mailboxes ----
  {
    code: 'MailboxNotEnabledForRESTAPI',
    rule: {
      id: 'graph-mailbox-not-enabled',
      summary: 'Microsoft Graph cannot use mailbox {authorizedFrom} (MailboxNotEnabledForRESTAPI): it is inactive, soft-deleted, on-premises, or has no Exchange Online licence.',
      causes: [
        'The user {authorizedFrom} has no Exchange Online licence (or the licence was removed), so there is no cloud mailbox.',
        'The mailbox is hosted on-premises (hybrid): Graph sends only from Exchange Online mailboxes.',
        'The mailbox is soft-deleted or inactive, or the account is a guest.',
      ],
      fixes: [
        'Assign an Exchange Online licence to {authorizedFrom} (or use a shared mailbox in Exchange Online), or migrate the mailbox to Exchange Online.',
        SMTP_WAY_OUT,
      ],
      commands: [EXO_CONNECT, GET_MAILBOX, GET_MG_USER],
      docs: [GRAPH_DOCS.SENDMAIL],
    },
  },
  {
    statuses: [404],
    rule: {
      id: 'graph-404-invalid-user',
      summary: 'Microsoft Graph does not know {authorizedFrom} as a user of tenant {tenantId} (ErrorInvalidUser / ResourceNotFound).',
      causes: [
        'Authorized from Address {authorizedFrom} is misspelt, or is an alias rather than the user\'s primary address or user principal name.',
        'The mailbox belongs to another tenant than {tenantId} (the token is for that tenant).',
        'The user was deleted or renamed.',
      ],
      fixes: [
        'Set Authorized from Address to the mailbox\'s primary SMTP address or user principal name in tenant {tenantId} (Get-Mailbox below shows it).',
      ],
      commands: [EXO_CONNECT, GET_MAILBOX, GET_MG_USER],
      docs: [GRAPH_DOCS.SENDMAIL],
    },
  },
  // ---- 400: the message ----
  {
    code: 'ErrorInvalidRecipients',
    rule: {
      id: 'graph-400-invalid-recipients',
      summary: 'Microsoft Graph refused the message\'s recipients (ErrorInvalidRecipients).',
      causes: [
        'A recipient address is malformed or cannot be resolved.',
        'The message has only Bcc recipients, or no recipient at all, in its To and Cc headers as Graph reads them.',
      ],
      fixes: ['Check the addresses of the message; give at least one To recipient.', 'Mailgate does not retry this failure: the same message fails the same way.'],
      docs: [GRAPH_DOCS.SENDMAIL],
    },
  },
  {
    code: 'ErrorMessageSizeExceeded',
    rule: {
      id: 'graph-message-size-exceeded',
      summary: 'The message is larger than mailbox {authorizedFrom} may send (ErrorMessageSizeExceeded).',
      causes: ['The message, attachments included and encoded, exceeds the mailbox\'s MaxSendSize (35 MB by default, up to 150 MB).'],
      fixes: ['Send smaller attachments (or links to them), or raise MaxSendSize of {authorizedFrom}.'],
      commands: [EXO_CONNECT, 'Get-Mailbox -Identity {authorizedFrom} | Format-List MaxSendSize', 'Set-Mailbox -Identity {authorizedFrom} -MaxSendSize 150MB'],
      docs: [GRAPH_DOCS.LARGE_ATTACHMENTS],
    },
  },
  {
    statuses: [413],
    rule: {
      id: 'graph-413-request-too-large',
      summary: 'Microsoft Graph refused the request as too large (413: "The maximum request length supported is 4MB").',
      causes: ['A sendMail request carries the whole message, base64-encoded (a third larger than the message); Graph takes at most 4 MB per request.'],
      fixes: [
        'Send this message by SMTP: set Transport to smtp or auto (Automatic sends messages too large for one Graph request by SMTP).',
        'Or keep attachments under 3 MB in total, or link to large files instead of attaching them.',
      ],
      docs: [GRAPH_DOCS.LARGE_ATTACHMENTS, GRAPH_DOCS.THROTTLING],
    },
  },
  // ---- 429 and 5xx: transient ----
  {
    statuses: [429],
    text: /MailboxConcurrency/i,
    rule: {
      id: 'graph-429-mailbox-concurrency',
      summary: 'Microsoft Graph throttled the app for mailbox {authorizedFrom}: more than 4 requests at once (429 MailboxConcurrency).',
      causes: [
        'Another program using the same app registration ({clientId}) sends from {authorizedFrom} at the same time (Mailgate itself keeps at most 4 requests in flight per mailbox).',
      ],
      fixes: ['Nothing to fix for a burst: Mailgate waits as long as Retry-After says and sends again.', 'If it persists, give the other program its own app registration or mailbox.'],
      docs: [GRAPH_DOCS.THROTTLING],
    },
  },
  {
    statuses: [429],
    rule: {
      id: 'graph-429-throttled',
      summary: 'Microsoft Graph throttled the app (429 ApplicationThrottled); the message is sent again after Retry-After.',
      causes: [
        'The app and mailbox exceeded 10,000 requests per 10 minutes or 150 MB uploaded per 5 minutes, or the tenant\'s Graph limits.',
      ],
      fixes: ['Nothing to fix for a burst: Mailgate waits as long as Retry-After says (immediate retries count against the limit).', 'For steady high volume, spread sending over several mailboxes.'],
      docs: [GRAPH_DOCS.THROTTLING],
    },
  },
  {
    statuses: [503, 504],
    rule: {
      id: 'graph-503-504',
      summary: 'Microsoft Graph is temporarily unavailable (503 or 504); the message is sent again later.',
      causes: ['Graph or the Exchange Online back end is overloaded or being updated (503 Service Unavailable, 504 Gateway Timeout).'],
      fixes: ['Nothing to fix: Mailgate retries after Retry-After (or its own backoff). If it lasts, check the Microsoft 365 Service health page.'],
      docs: [GRAPH_DOCS.ERRORS],
    },
  },
  {
    statuses: [500, 502],
    rule: {
      id: 'graph-5xx',
      summary: 'Microsoft Graph answered with a server error; the message is sent again later.',
      causes: ['A temporary failure inside Graph or Exchange Online.'],
      fixes: ['Nothing to fix: Mailgate retries with backoff. If it lasts, give Microsoft support the request-id shown with the reply.'],
      docs: [GRAPH_DOCS.ERRORS],
    },
  },
];

/** Any other 4xx: permanent, explained generically. */
export const GRAPH_4XX_RULE: DiagnosisRule = {
  id: 'graph-4xx',
  summary: 'Microsoft Graph refused the request.',
  causes: ['Graph found the request invalid for a reason shown in its reply (for example ErrorMimeContentInvalidBase64String).'],
  fixes: ['Read the reply\'s code and message; give Microsoft support the request-id if the reason is unclear.', 'Mailgate does not retry 4xx answers (except 429): the same request fails the same way.'],
  docs: [GRAPH_DOCS.ERRORS],
};

export interface GraphCodeMatcher {
  codes: readonly ErrorCode[];
  when?: (signals: Signals) => boolean;
  rule: DiagnosisRule;
}

/** Failures without a Graph answer, by our error code. */
export const GRAPH_CODE_MATCHERS: readonly GraphCodeMatcher[] = [
  {
    codes: ['GRAPH_TOO_LARGE'],
    rule: {
      id: 'graph-message-too-large',
      summary: 'The message is too large for one Microsoft Graph request (Graph takes at most 4 MB per request; attachments over 3 MB need an upload session, which needs Mail.ReadWrite), so it was not sent by Graph.',
      causes: ['The message, attachments included, is over about 3 MB: base64-encoded for sendMail it exceeds Graph\'s 4 MB request limit.'],
      fixes: [
        'Send it by SMTP: set Transport to smtp, or to auto (Automatic), which sends messages too large for Graph by SMTP (SMTP takes up to the mailbox\'s MaxSendSize, 35 MB by default).',
        'Or let Mailgate send it through a Graph upload session (a draft, its attachments uploaded in parts, then sent): grant the Microsoft Graph application permission Mail.ReadWrite besides Mail.Send, with admin consent (Mailgate uses the upload session whenever the token carries Mail.ReadWrite).',
        'Or keep attachments under 3 MB in total, or link to large files instead of attaching them.',
      ],
      docs: [GRAPH_DOCS.LARGE_ATTACHMENTS],
    },
  },
  {
    codes: ['GRAPH_UNREACHABLE'],
    when: (s) => hasGroup(s, 'tlsUntrusted') || hasGroup(s, 'tlsHostname') || hasGroup(s, 'tlsExpired') || hasGroup(s, 'tlsVersion'),
    rule: {
      id: 'graph-tls',
      summary: 'The Microsoft Graph endpoint\'s TLS certificate is not trusted, so no request was sent.',
      causes: [
        'A TLS-inspecting proxy or firewall presents its own certificate.',
        'Microsoft Graph endpoint (graphEndpoint, MAILGATE_GRAPH_ENDPOINT) names a host that is not Graph.',
      ],
      fixes: [
        'If your organisation inspects TLS with its own certificate authority, give Mailgate that CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem (never turn certificate checks off).',
        'Leave Microsoft Graph endpoint empty to use the Cloud\'s (https://graph.microsoft.com for the global cloud).',
      ],
    },
  },
  {
    codes: ['GRAPH_UNREACHABLE'],
    rule: {
      id: 'graph-unreachable',
      summary: 'The Microsoft Graph endpoint could not be reached, so no request was sent (the message is retried).',
      causes: [
        'No outbound HTTPS (TCP 443) from this machine to the Graph endpoint, or a proxy is required.',
        'DNS cannot resolve the Graph host, or Microsoft Graph endpoint is misspelt.',
      ],
      fixes: ['Test HTTPS to the Graph host from this machine (commands below); allow outbound TCP 443 to it.', 'Leave Microsoft Graph endpoint empty to use the Cloud\'s.'],
      commands: ['Test-NetConnection -ComputerName graph.microsoft.com -Port 443', "curl -sS -o /dev/null -w '%{http_code}\\n' https://graph.microsoft.com/v1.0/$metadata"],
    },
  },
  {
    codes: ['GRAPH_OUTCOME_UNKNOWN'],
    rule: {
      id: 'graph-outcome-unknown',
      summary: 'The sendMail request was sent but no answer came back (timeout or connection closed): Graph may or may not have accepted the message.',
      causes: ['The network dropped the connection, or Graph was slow to answer (the request has a deadline).'],
      fixes: [
        'Nothing to fix for a single occurrence: Mailgate sends the message again by Graph with the same Message-ID, never by another transport, so a recipient may at worst see a duplicate that mail clients fold by Message-ID.',
        'If it happens often, check the network path to the Graph endpoint.',
      ],
    },
  },
  {
    codes: ['GRAPH_AUTH_FAILED', 'GRAPH_REJECTED'],
    rule: GRAPH_4XX_RULE,
  },
  {
    codes: ['GRAPH_TRANSIENT'],
    rule: {
      id: 'graph-transient',
      summary: 'Microsoft Graph answered with a temporary error; the message is sent again later.',
      causes: ['Throttling (429) or a temporary failure of Graph or Exchange Online (5xx).'],
      fixes: ['Nothing to fix: Mailgate retries after Retry-After or with backoff.'],
      docs: [GRAPH_DOCS.THROTTLING],
    },
  },
];

/** The row for a Graph answer (status + error code + message), or the generic rows. */
export function matchGraphReply(reply: GraphReply, ctx: DiagnosisContext): DiagnosisRule | undefined {
  if (!reply || typeof reply.status !== 'number') return undefined;
  const code = typeof reply.code === 'string' ? reply.code.toLowerCase() : '';
  const text = `${typeof reply.message === 'string' ? reply.message : ''} ${typeof reply.innerCode === 'string' ? reply.innerCode : ''}`;
  const row = GRAPH_MATCHERS.find(
    (m) =>
      (m.statuses === undefined || m.statuses.includes(reply.status)) &&
      (m.code === undefined || m.code.toLowerCase() === code) &&
      (m.text === undefined || m.text.test(text) || (reply.code !== undefined && m.text.test(reply.code))) &&
      (m.when === undefined || m.when(ctx)),
  );
  if (row) return row.rule;
  if (reply.status >= 400 && reply.status < 500) return GRAPH_4XX_RULE;
  if (reply.status >= 500) return GRAPH_MATCHERS.find((m) => m.rule.id === 'graph-5xx')!.rule;
  return undefined;
}

/** The row for a Graph failure without an answer, by our code and the low-level signals. */
export function matchGraphCode(code: ErrorCode, signals: Signals): DiagnosisRule | undefined {
  return GRAPH_CODE_MATCHERS.find((m) => m.codes.includes(code) && (m.when === undefined || m.when(signals)))?.rule;
}

/** The Graph scoping commands and the consent fix, for the doctor's graph-token check (same texts as the rows). */
export const GRAPH_SCOPE_TEMPLATES = { EXO_CONNECT, NEW_SP, NEW_SCOPE, NEW_ASSIGNMENT, TEST_SPA, GET_ASSIGNMENTS, CONSENT_FIX } as const;
