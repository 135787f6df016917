/**
 * SMTP replies from Exchange Online → what went wrong and the fix.
 *
 * Why: Exchange answers every OAuth failure with the same `535 5.7.3`, and many other
 * failures (SMTP AUTH switched off, Send As denied, throttling, quotas) only as one reply
 * line. This ordered table turns reply code + enhanced status + text into the administrator's
 * explanation, with the Exchange Online PowerShell commands that fix it. The first matching
 * row wins, so specific rows come before the generic 4xx/5xx fallbacks.
 * Source of truth: docs/m365.md §3.4 and §4 (verbatim replies), §8 (cmdlets),
 * §10 (continuous-error throttling, retries).
 *
 * Matching ignores the variable parts of a reply: bracketed server names, timestamps and ids
 * (`[SN2PR00CA0018.namprd00.prod.outlook.com 2024-01-01T00:00:00.000Z 08DB...]`) are removed
 * before the text patterns run.
 *
 * This file is a table and is longer than ~300 lines on purpose: one row per reply, each row
 * self-contained so it can be checked against docs/m365.md on its own.
 *
 * Imports: nothing outside src/core/diagnosis.
 */
import { DOCS } from './docs-links.js';
import type { ValueSource } from './render.js';
import type { DiagnosisContext, DiagnosisRule } from './types.js';

export interface SmtpMatcher {
  /** Basic reply codes the row applies to; omitted = any code of `replyClass` (or any at all). */
  codes?: readonly number[];
  /** 4 (transient) or 5 (permanent), for rows that match a whole class. */
  replyClass?: 4 | 5;
  /** The enhanced status code, exactly. */
  enhanced?: string;
  /** Pattern over the reply text with the bracketed server suffixes removed. */
  text?: RegExp;
  /** Pattern over the SMTP command that provoked the reply (e.g. `AUTH LOGIN`). */
  command?: RegExp;
  /** An extra condition on what the caller knows (e.g. the token's roles). */
  when?: (ctx: DiagnosisContext) => boolean;
  /** Values the reply itself names (e.g. the addresses in a Send As denial). */
  extract?: (text: string) => ValueSource;
  rule: DiagnosisRule;
}

// ---- Commands shared by several rows (docs/m365.md §8.1) -------------------------------------
const EXO_CONNECT = 'Connect-ExchangeOnline -Organization {tenantId}';
const GET_SP = 'Get-ServicePrincipal | Where-Object AppId -eq {clientId} | Format-List';
const NEW_SP = 'New-ServicePrincipal -AppId {clientId} -ObjectId {oid} -DisplayName "Mailgate"';
const ADD_FULLACCESS = 'Add-MailboxPermission -Identity {authorizedFrom} -User {oid} -AccessRights FullAccess';
const GET_FULLACCESS = 'Get-MailboxPermission -Identity {authorizedFrom}';
const SET_CAS = 'Set-CASMailbox -Identity {authorizedFrom} -SmtpClientAuthenticationDisabled $false';
const GET_CAS = 'Get-CASMailbox -Identity {authorizedFrom} | Format-List SmtpClientAuthenticationDisabled';
const SET_TRANSPORT = 'Set-TransportConfig -SmtpClientAuthenticationDisabled $false';
const GET_TRANSPORT = 'Get-TransportConfig | Format-List SmtpClientAuthenticationDisabled';
const ADD_SENDAS = 'Add-RecipientPermission -Identity {from} -Trustee {authorizedFrom} -AccessRights SendAs';
const GET_SENDAS = 'Get-RecipientPermission -Identity {from}';
const RBAC_ASSIGN = 'New-ManagementRoleAssignment -Name "Mailgate SMTP" -Role "Application SMTP.SendAsApp" -App {oid} -CustomResourceScope "<management scope covering {authorizedFrom}>"';

// ---- Texts shared by several rows ---------------------------------------------------------
const OID_FIX =
  'Use the Object ID from Microsoft Entra ID → Enterprise applications → the app {clientId} → Overview, NOT the Object ID from App registrations. It is the oid claim of Mailgate\'s token (`mailgate doctor` prints it).';
const CONSENT_FIX =
  'In App registrations → {clientId} → API permissions, add Office 365 Exchange Online → Application permissions → SMTP.SendAsApp, then click "Grant admin consent for <your organisation>".';
const MAILBOX_FIX = 'Make sure Authorized from Address ({authorizedFrom}) is exactly the mailbox the service principal was granted FullAccess on.';
const PROPAGATION_CAUSE = 'The fix was made only minutes ago: Exchange Online can take 30 minutes or more to apply new service principals and permissions.';
const NO_RETRY_5XX = 'Do not resend in a loop: repeated permanent failures get the mailbox throttled (550 5.2.25x). Mailgate never retries 5xx replies.';
const USE_OAUTH_FIXES = [
  'Turn on "Use modern SMTP Authentication" (MAILGATE_USE_MODERN_AUTH=true) and set Application (client) ID, Client Secret and Directory (tenant) ID: Microsoft retires Basic authentication for SMTP AUTH.',
  'Then run `mailgate setup-script` for the Exchange Online commands and `mailgate doctor` to check every step.',
];

const SHARED_CAUSE = '{authorizedFrom} is a shared mailbox: it has no sign-in of its own, and as the XOAUTH2 user= Exchange refuses it unless the service principal has FullAccess on it.';
const SHARED_FIX = 'For a shared mailbox: sign in as a licensed mailbox that has Send As on it (its address as the signed-in mailbox, the shared address as From), or give the service principal FullAccess on the shared mailbox.';
const AUTH_CAUSES = [
  'The service principal was registered in Exchange Online with the Object ID from App registrations instead of the Object ID from Enterprise applications (the token\'s oid), so Exchange does not recognise the app.',
  'New-ServicePrincipal was never run for application {clientId} in Exchange Online.',
  'The service principal has no FullAccess on mailbox {authorizedFrom} (with RBAC for Applications: no "Application SMTP.SendAsApp" role assignment covering it).',
  'The app has no Office 365 Exchange Online application permission SMTP.SendAsApp, or admin consent was not granted: the token then carries no roles.',
  'Authorized from Address {authorizedFrom} (the XOAUTH2 user=) is not the mailbox the permission was granted on, or not a mailbox of tenant {tenantId}.',
  SHARED_CAUSE,
  PROPAGATION_CAUSE,
];
const AUTH_FIXES = [
  OID_FIX,
  'Check what Exchange Online has registered for the app (Get-ServicePrincipal below). If it shows an ObjectId that differs from the Enterprise applications Object ID, remove that entry (Remove-ServicePrincipal -Identity <its ObjectId>) and register again with New-ServicePrincipal.',
  'Register the service principal (New-ServicePrincipal) and grant it FullAccess on {authorizedFrom} (Add-MailboxPermission).',
  CONSENT_FIX,
  MAILBOX_FIX,
  SHARED_FIX,
];
const AUTH_COMMANDS = [EXO_CONNECT, GET_SP, NEW_SP, ADD_FULLACCESS, GET_FULLACCESS];
const AUTH_DOCS = [DOCS.MS_EXO_OAUTH, DOCS.PS_NEWSP, DOCS.PS_ADDMBXPERM, DOCS.MS_SMTP_RBAC];

const hasSendAsRole = (ctx: DiagnosisContext) => ctx.tokenRoles?.includes('SMTP.SendAsApp') === true;
const ADDRESS = '[A-Za-z0-9._%+=-]+@[A-Za-z0-9.-]+';
const SEND_AS_PAIR = new RegExp(`(${ADDRESS}) not allowed to send as (${ADDRESS})`);
const extractSendAs = (text: string): ValueSource => {
  const m = SEND_AS_PAIR.exec(text);
  return m ? { authorizedFrom: m[1], from: m[2] } : {};
};

const SEND_AS_RULE = (id: string, code: string): DiagnosisRule => ({
  id,
  summary: `Exchange Online refused to send as {from}: mailbox {authorizedFrom} has no Send As permission on it (${code}).`,
  causes: [
    'The message\'s From address ({from}) differs from the Authorized from Address ({authorizedFrom}) that Mailgate signed in as.',
    'Send As on {from} was never granted to {authorizedFrom}, or was granted minutes ago and has not applied yet.',
  ],
  fixes: [
    'Simplest: send as {authorizedFrom} (leave From empty and Mailgate uses the Authorized from Address).',
    'Or grant Send As on {from} to {authorizedFrom} with Add-RecipientPermission (below).',
    NO_RETRY_5XX,
  ],
  commands: [EXO_CONNECT, ADD_SENDAS, GET_SENDAS],
  docs: [DOCS.MS_EXO_OAUTH, DOCS.PS_ADDRCPTPERM, DOCS.EXO_CONT_ERR],
});

const THROTTLED: ReadonlyArray<{ n: number; what: string; fix: string; commands?: string[] }> = [
  { n: 251, what: 'mailbox full', fix: 'Free space in mailbox {authorizedFrom} (empty Sent Items or add a retention policy for it).' },
  { n: 252, what: 'Send As denied', fix: 'Send as {authorizedFrom}, or grant Send As on the From address (Add-RecipientPermission).', commands: [EXO_CONNECT, ADD_SENDAS] },
  { n: 253, what: 'invalid licence', fix: 'Assign an Exchange Online licence to mailbox {authorizedFrom}.' },
  { n: 254, what: 'too many recipients', fix: 'Send to fewer recipients per message (500 by default).' },
  { n: 255, what: 'invalid recipients', fix: 'Remove the invalid recipient addresses the application keeps sending to.' },
];

const throttledRows: SmtpMatcher[] = THROTTLED.map(({ n, what, fix, commands }) => ({
  codes: [550],
  enhanced: `5.2.${n}`,
  text: /throttled/i,
  rule: {
    id: `smtp-550-5.2.${n}`,
    summary: `Exchange Online is throttling mailbox {authorizedFrom} because its messages kept failing with "${what}" errors (550 5.2.${n}).`,
    causes: [
      `Messages kept failing permanently with "${what}" and were sent again; Exchange Online now blocks the mailbox for a while (continuous-error throttling).`,
    ],
    fixes: [
      `Fix the cause first: ${fix.charAt(0).toLowerCase()}${fix.slice(1)}`,
      'Then wait for the throttle to expire; Microsoft support cannot lift it. Sending through another mailbox works in the meantime.',
      'Stop any other application that resends failed messages through this mailbox; Mailgate never retries 5xx replies.',
    ],
    ...(commands ? { commands } : {}),
    docs: [DOCS.EXO_CONT_ERR],
  },
}));

const SIZE_RULE_BODY = {
  causes: [
    'The message with its attachments is larger than the mailbox\'s MaxSendSize (35 MB by default, at most 150 MB).',
    'Attachments grow by about a third when encoded for mail.',
  ],
  fixes: [
    'Send smaller attachments, or a link to the file instead.',
    'Or raise MaxSendSize of {authorizedFrom} (up to 150 MB) with Set-Mailbox.',
  ],
  commands: [EXO_CONNECT, 'Get-Mailbox -Identity {authorizedFrom} | Format-List MaxSendSize', 'Set-Mailbox -Identity {authorizedFrom} -MaxSendSize 50MB'],
  docs: [DOCS.SUP_SMTP_SUB],
};

/** Any other temporary reply (also used when an SMTP_TRANSIENT error carries no reply). */
export const SMTP_TRANSIENT_RULE: DiagnosisRule = {
  id: 'smtp-4xx',
  summary: 'The SMTP server answered with a temporary error (4xx); a later attempt can succeed.',
  causes: ['The server is busy, throttling, or has a transient problem.'],
  fixes: ['Nothing to do for one message: Mailgate waits and sends again.', 'If it keeps happening, read the server reply and check the Microsoft 365 Service health page.'],
  docs: [DOCS.SUP_SMTP_SUB],
};

/** Any other permanent reply (also used when an SMTP_REJECTED error carries no reply). */
export const SMTP_PERMANENT_RULE: DiagnosisRule = {
  id: 'smtp-5xx',
  summary: 'The SMTP server refused the message permanently (5xx); sending it again will not help.',
  causes: ['The server rejected the sender, a recipient or the message itself; the reply text says which.'],
  fixes: ['Read the server reply and fix what it names (sender, recipient address, size).', NO_RETRY_5XX],
  docs: [DOCS.EXO_NDR, DOCS.EXO_CONT_ERR],
};

/** The ordered table: first match wins. */
export const SMTP_MATCHERS: readonly SmtpMatcher[] = [
  // ---- Authentication (AUTH) ----
  {
    codes: [535], enhanced: '5.7.3', command: /^AUTH (?:LOGIN|PLAIN)\b/i,
    rule: {
      id: 'smtp-535-5.7.3-basic-auth',
      summary: 'Exchange Online refused the username and password for {authorizedFrom} (535 5.7.3, Basic authentication).',
      causes: [
        'The SMTP username or password is wrong, or the password changed.',
        'The account has multi-factor authentication, security defaults or a Conditional Access policy that blocks Basic authentication.',
        'SMTP AUTH is turned off for the mailbox or the organisation.',
      ],
      fixes: [...USE_OAUTH_FIXES, 'Meanwhile check the password and that SMTP AUTH is on for the mailbox (Get-CASMailbox).'],
      commands: [EXO_CONNECT, GET_CAS, GET_TRANSPORT],
      docs: [DOCS.SUP_PRINTERS, DOCS.BLOG_BASIC_2026],
    },
  },
  {
    // A shared mailbox as user= (docs/m365.md §3.3, §13): the commonest Send As trap. The reply is
    // the generic one; the row applies only when the caller knows the mailbox is shared.
    codes: [535], enhanced: '5.7.3', when: (ctx) => ctx.signInMailboxType === 'shared',
    rule: {
      id: 'smtp-535-5.7.3-shared-mailbox',
      summary: 'Exchange Online refused the XOAUTH2 sign-in as {authorizedFrom} (535 5.7.3): {authorizedFrom} is a shared mailbox, which has no sign-in of its own.',
      causes: [
        'The shared mailbox {authorizedFrom} is used as the signed-in mailbox (the XOAUTH2 user=), and the service principal has no FullAccess on it.',
        'Send As on a shared mailbox is granted to the mailboxes that send as it, not to the shared mailbox itself.',
      ],
      fixes: [
        'Sign in as a licensed mailbox with Send As on {authorizedFrom}: make that mailbox the signed-in mailbox and keep {authorizedFrom} as the From address.',
        'Grant the Send As if it is missing (Add-RecipientPermission below, with the signed-in mailbox as Trustee).',
        'Or give the service principal FullAccess on {authorizedFrom} (Add-MailboxPermission below), which Microsoft documents for a shared mailbox as user=.',
      ],
      commands: [EXO_CONNECT, 'Add-RecipientPermission -Identity {authorizedFrom} -Trustee <the licensed mailbox that signs in> -AccessRights SendAs', 'Get-RecipientPermission -Identity {authorizedFrom}', ADD_FULLACCESS],
      docs: [DOCS.MS_EXO_OAUTH, DOCS.PS_ADDRCPTPERM, DOCS.PS_ADDMBXPERM],
    },
  },
  {
    codes: [535], enhanced: '5.7.3', when: (ctx) => ctx.tokenRoles !== undefined && !hasSendAsRole(ctx),
    rule: {
      id: 'smtp-535-5.7.3-no-role',
      summary: 'Exchange Online refused the XOAUTH2 sign-in as {authorizedFrom} (535 5.7.3), and the access token carries no SMTP.SendAsApp role.',
      causes: [
        'Admin consent was not granted for the SMTP.SendAsApp permission.',
        'The permission is missing, was added as a Delegated permission, or is Microsoft Graph Mail.Send instead of Office 365 Exchange Online SMTP.SendAsApp.',
        'With RBAC for Applications (where the token has no role by design): the "Application SMTP.SendAsApp" role assignment for the service principal is missing or does not cover {authorizedFrom}.',
      ],
      fixes: [
        CONSENT_FIX,
        'Mailgate requests a new token on the next attempt; the new token must list SMTP.SendAsApp in roles (`mailgate doctor` shows it).',
        'If you use RBAC for Applications instead of the Entra permission, assign the role to the service principal (New-ManagementRoleAssignment below).',
      ],
      commands: [EXO_CONNECT, GET_SP, RBAC_ASSIGN],
      docs: [DOCS.MS_EXO_OAUTH, DOCS.MS_SMTP_RBAC, DOCS.ENTRA_CLAIMS],
    },
  },
  {
    codes: [535], enhanced: '5.7.3', when: hasSendAsRole,
    rule: {
      id: 'smtp-535-5.7.3-exchange-side',
      summary: 'Exchange Online refused the XOAUTH2 sign-in as {authorizedFrom} (535 5.7.3) although the token carries SMTP.SendAsApp: a step on the Exchange side is missing.',
      causes: AUTH_CAUSES.filter((c) => !c.includes('SMTP.SendAsApp, or admin consent')),
      fixes: AUTH_FIXES.filter((f) => f !== CONSENT_FIX),
      commands: AUTH_COMMANDS,
      docs: AUTH_DOCS,
    },
  },
  {
    codes: [535], enhanced: '5.7.3',
    rule: {
      id: 'smtp-535-5.7.3',
      summary: 'Exchange Online refused the XOAUTH2 sign-in as {authorizedFrom} (535 5.7.3). Exchange gives this one reply for every OAuth failure; one of the set-up steps below is missing or wrong.',
      causes: AUTH_CAUSES,
      fixes: AUTH_FIXES,
      commands: AUTH_COMMANDS,
      docs: AUTH_DOCS,
    },
  },
  {
    codes: [535], enhanced: '5.7.139', text: /disabled for the Tenant/i,
    rule: {
      id: 'smtp-535-5.7.139-tenant',
      summary: 'SMTP AUTH is turned off for the whole organisation (535 5.7.139); this blocks OAuth sign-ins too.',
      causes: [
        'The organisation\'s SmtpClientAuthenticationDisabled is $true (the default for tenants created after January 2020) and mailbox {authorizedFrom} has no override.',
      ],
      fixes: [
        'Turn SMTP AUTH on for the sending mailbox only (least change): Set-CASMailbox below. The mailbox setting wins over the organisation\'s.',
        'Or turn it on for the whole organisation with Set-TransportConfig (affects every mailbox).',
        'Check the result with the Get- commands; it can take a while to apply.',
      ],
      commands: [EXO_CONNECT, SET_CAS, GET_CAS, `${SET_TRANSPORT}  # alternative: the whole organisation`, GET_TRANSPORT],
      docs: [DOCS.AKA_SMTP_AUTH_DISABLED, DOCS.PS_SETCAS, DOCS.PS_SETTRANSPORT, DOCS.EXO_SMTPAUTH],
    },
  },
  {
    codes: [535], enhanced: '5.7.139', text: /disabled for the Mailbox/i,
    rule: {
      id: 'smtp-535-5.7.139-mailbox',
      summary: 'SMTP AUTH is turned off for mailbox {authorizedFrom} (535 5.7.139); this blocks OAuth sign-ins too.',
      causes: ['SmtpClientAuthenticationDisabled is $true on mailbox {authorizedFrom} ("Authenticated SMTP" unticked in its email apps).'],
      fixes: ['Turn SMTP AUTH on for the mailbox (Set-CASMailbox below), then check it with Get-CASMailbox.'],
      commands: [EXO_CONNECT, SET_CAS, GET_CAS],
      docs: [DOCS.AKA_SMTP_AUTH_DISABLED, DOCS.PS_SETCAS, DOCS.EXO_SMTPAUTH],
    },
  },
  {
    codes: [535], enhanced: '5.7.139', text: /basic authentication is disabled/i,
    rule: {
      id: 'smtp-535-5.7.139-basic-auth-disabled',
      summary: 'Exchange Online no longer accepts a password for {authorizedFrom} (535 5.7.139: basic authentication is disabled).',
      causes: ['Mailgate signed in with a username and password ("Use modern SMTP Authentication" is off); the tenant has Basic authentication for SMTP AUTH disabled. App passwords do not help either.'],
      fixes: USE_OAUTH_FIXES,
      docs: [DOCS.MS_EXO_OAUTH, DOCS.BLOG_BASIC_2026],
    },
  },
  {
    codes: [535], enhanced: '5.7.139', text: /security defaults/i,
    rule: {
      id: 'smtp-535-5.7.139-security-defaults',
      summary: 'Microsoft Entra security defaults block the password sign-in of {authorizedFrom} (535 5.7.139).',
      causes: ['Security defaults block Basic (password) authentication; Mailgate is in Basic authentication mode.'],
      fixes: [...USE_OAUTH_FIXES, 'Do not turn security defaults off to make a password work.'],
      docs: [DOCS.EXO_SMTPAUTH, DOCS.MS_EXO_OAUTH],
    },
  },
  {
    codes: [535], enhanced: '5.7.139', text: /did not meet the criteria/i,
    rule: {
      id: 'smtp-535-5.7.139-criteria',
      summary: 'A sign-in policy rejected the password sign-in of {authorizedFrom} (535 5.7.139: the request did not meet the criteria).',
      causes: ['Conditional Access or multi-factor authentication blocks Basic (password) authentication for this account.'],
      fixes: [...USE_OAUTH_FIXES, 'The account\'s sign-in log in Microsoft Entra ID names the policy that applied.'],
      docs: [DOCS.MS_EXO_OAUTH, DOCS.SUP_PRINTERS],
    },
  },
  {
    codes: [535], enhanced: '5.7.139', text: /federated STS/i,
    rule: {
      id: 'smtp-535-5.7.139-federated-sts',
      summary: 'The password sign-in of {authorizedFrom} needs the federation server (ADFS), which Exchange Online could not use (535 5.7.139).',
      causes: ['The account is federated and Basic authentication goes through the federation server, which is unreachable or not on HTTPS.'],
      fixes: USE_OAUTH_FIXES,
      docs: [DOCS.SUP_PRINTERS],
    },
  },
  {
    codes: [535], enhanced: '5.7.139',
    rule: {
      id: 'smtp-535-5.7.139',
      summary: 'Exchange Online blocked the SMTP AUTH sign-in of {authorizedFrom} by policy (535 5.7.139).',
      causes: [
        'SMTP AUTH is turned off for the mailbox or the organisation.',
        'Basic (password) authentication is blocked by policy.',
      ],
      fixes: ['Check SMTP AUTH for the mailbox and the organisation (commands below) and turn it on for {authorizedFrom}.', USE_OAUTH_FIXES[0]!],
      commands: [EXO_CONNECT, GET_CAS, GET_TRANSPORT, SET_CAS],
      docs: [DOCS.AKA_SMTP_AUTH_DISABLED, DOCS.PS_SETCAS],
    },
  },
  {
    codes: [535],
    rule: {
      id: 'smtp-535',
      summary: 'The SMTP server refused the sign-in as {authorizedFrom} (535).',
      causes: AUTH_CAUSES,
      fixes: AUTH_FIXES,
      commands: AUTH_COMMANDS,
      docs: AUTH_DOCS,
    },
  },
  {
    codes: [550], enhanced: '5.7.30',
    rule: {
      id: 'smtp-550-5.7.30',
      summary: 'Exchange Online no longer accepts Basic authentication for client submission (550 5.7.30).',
      causes: ['Mailgate signed in with a username and password ("Use modern SMTP Authentication" is off).'],
      fixes: USE_OAUTH_FIXES,
      docs: [DOCS.BLOG_BASIC_2026, DOCS.MS_EXO_OAUTH],
    },
  },
  {
    codes: [501], enhanced: '5.5.124',
    rule: {
      id: 'smtp-501-5.5.124',
      summary: 'The SMTP server could not read the XOAUTH2 sign-in data (501 5.5.124 Invalid XOAUTH2 auth data).',
      causes: [
        'The SMTP host {smtpHost} is an endpoint with other XOAUTH2 rules (seen with the High Volume Email endpoint).',
        'Something between Mailgate and the server altered the AUTH line (an SMTP-inspecting proxy or firewall).',
        'Authorized from Address contains characters the server does not accept.',
      ],
      fixes: [
        'Use SMTP Client Server smtp.office365.com, port 587, for mailbox sending.',
        'Run `mailgate doctor`; if it persists, report it with the doctor\'s output (it never contains the token).',
      ],
      docs: [DOCS.MS_EXO_OAUTH],
    },
  },
  {
    codes: [530, 550], enhanced: '5.7.57',
    rule: {
      id: 'smtp-530-5.7.57',
      summary: 'Exchange Online refused the sender because the session was not signed in (5.7.57 Client not authenticated to send mail).',
      causes: [
        'The sign-in did not happen on this connection: an SMTP-inspecting firewall or proxy between Mailgate and {smtpHost} removed STARTTLS or AUTH.',
        'SMTP Client Server {smtpHost} is not the client-submission endpoint (for example the MX endpoint *.mail.protection.outlook.com, which takes no sign-in).',
        'SMTP AUTH is turned off for the mailbox or the organisation.',
      ],
      fixes: [
        'Set SMTP Client Server to smtp.office365.com (global cloud) and Port to 587.',
        'Turn off SMTP inspection ("ESMTP inspection"/"SMTP fixup") for Mailgate\'s traffic on the firewall.',
        'Check SMTP AUTH for {authorizedFrom} (commands below).',
      ],
      commands: [EXO_CONNECT, GET_CAS, GET_TRANSPORT],
      docs: [DOCS.EXO_NDR, DOCS.SUP_PRINTERS],
    },
  },
  // ---- Send As ----
  { codes: [550], enhanced: '5.7.60', rule: SEND_AS_RULE('smtp-550-5.7.60', '550 5.7.60') },
  { codes: [554], enhanced: '5.2.252', text: /SendAsDenied/i, extract: extractSendAs, rule: SEND_AS_RULE('smtp-554-5.2.252-send-as-denied', '554 5.2.252 SendAsDenied') },
  { codes: [554], enhanced: '5.2.0', text: /SendAsDenied/i, extract: extractSendAs, rule: SEND_AS_RULE('smtp-554-5.2.0-send-as-denied', '554 5.2.0 SendAsDeniedException') },
  // ---- Continuous-error throttling (never retry 5xx) ----
  ...throttledRows,
  // ---- Limits and quotas ----
  {
    codes: [432], enhanced: '4.3.2', text: /concurrent connections|sender thread limit/i,
    rule: {
      id: 'smtp-432-4.3.2-concurrent-connections',
      summary: 'Mailbox {authorizedFrom} already has 3 SMTP connections submitting mail, the most Exchange Online allows (432 4.3.2).',
      causes: [
        'Another Mailgate instance or another application sends through the same mailbox at the same time.',
        'Another client leaves its connections open.',
      ],
      fixes: [
        'Nothing to do for one message: this is temporary, and Mailgate waits and sends again.',
        'If it keeps happening, let a single Mailgate instance send for each mailbox (it keeps at most 3 connections), or give other applications their own mailbox.',
      ],
      docs: [DOCS.SUP_SMTP_SUB],
    },
  },
  {
    codes: [554, 550], text: /SubmissionQuotaExceeded/i,
    rule: {
      id: 'smtp-554-5.2.0-submission-quota',
      summary: 'Mailbox {authorizedFrom} reached its recipient limit: 10,000 recipients in 24 hours (554 5.2.0 SubmissionQuotaExceeded).',
      causes: [
        'The application sent to more than 10,000 recipients from this mailbox in the last 24 hours.',
        'The account is compromised and sends spam, if that volume is unexpected.',
      ],
      fixes: [
        'Wait until the 24-hour window rolls off; administrators cannot lift this limit.',
        'If the volume is unexpected, check the mailbox for compromise before anything else.',
        'For bulk or high-volume mail use a service built for it (Azure Communication Services Email); Exchange Online is not meant for it.',
      ],
      docs: [DOCS.EXO_NDR_QUOTA, DOCS.SUP_SMTP_SUB, DOCS.DEF_LIMITS],
    },
  },
  {
    codes: [554, 550], text: /OutboundSpamException/i,
    rule: {
      id: 'smtp-554-5.2.0-outbound-spam',
      summary: 'Exchange Online refused the message as outbound spam or over a sending quota (554 5.2.0 OutboundSpamException).',
      causes: [
        'The sending account is restricted for suspected spam or its sending quota (reports with "WASCL" come from unverified consumer Outlook.com accounts).',
        'The account may be compromised.',
      ],
      fixes: [
        'For a Microsoft 365 mailbox: check Restricted entities in the Microsoft Defender portal and the account\'s recent activity.',
        'For an Outlook.com account: verify the account; better, send from a Microsoft 365 mailbox.',
      ],
      docs: [DOCS.DEF_LIMITS, DOCS.EXO_NDR],
    },
  },
  {
    codes: [550], enhanced: '5.1.8',
    rule: {
      id: 'smtp-550-5.1.8',
      summary: 'Mailbox {authorizedFrom} is blocked from sending: it is on the Restricted entities list (550 5.1.8 bad outbound sender).',
      causes: ['Microsoft 365 saw spam sent from this mailbox, usually because the account was compromised.'],
      fixes: [
        'Secure the account first (reset credentials, check inbox rules and delegates).',
        'Then remove it from Restricted entities in the Microsoft Defender portal (Email & collaboration → Review → Restricted entities).',
      ],
      docs: [DOCS.EXO_NDR, DOCS.DEF_LIMITS],
    },
  },
  {
    codes: [550], enhanced: '5.7.705',
    rule: {
      id: 'smtp-550-5.7.705',
      summary: 'The whole tenant {tenantId} is blocked from sending (550 5.7.705 tenant has exceeded threshold).',
      causes: ['Too much spam or bulk mail left the tenant (often a compromised account), or the subscription lapsed.'],
      fixes: ['Find and fix the compromise or the bulk sender, then open a case with Microsoft support to unblock the tenant.'],
      docs: [DOCS.EXO_NDR_700],
    },
  },
  {
    codes: [550], enhanced: '5.7.708',
    rule: {
      id: 'smtp-550-5.7.708',
      summary: 'Exchange Online does not accept mail from this tenant\'s traffic yet (550 5.7.708 traffic not accepted from this IP).',
      causes: ['The tenant is new or a trial and its outbound traffic has low reputation.'],
      fixes: ['Open a case with Microsoft support for an exception, or add paid licences to the tenant.'],
      docs: [DOCS.EXO_NDR_700],
    },
  },
  {
    codes: [550], enhanced: '5.7.750',
    rule: {
      id: 'smtp-550-5.7.750',
      summary: 'Exchange Online blocks sending from domains not registered in the tenant (550 5.7.750 unregistered domains).',
      causes: ['The From address {from} uses a domain that is not an accepted (verified) domain of tenant {tenantId}.'],
      fixes: ['Add and verify the sending domain in the Microsoft 365 admin center (Settings → Domains), or send from an address in a verified domain.'],
      docs: [DOCS.EXO_NDR_700, DOCS.EXO_NDR],
    },
  },
  {
    codes: [554, 552, 550], text: /mailbox full|ShutoffQuotaExceeded|MapiExceptionQuotaExceeded/i,
    rule: {
      id: 'smtp-554-5.2.2-mailbox-full',
      summary: 'The sending mailbox {authorizedFrom} is full (554 5.2.2 mailbox full).',
      causes: ['Every message sent over SMTP AUTH is saved in Sent Items and counts toward the mailbox size; Sent Items filled the mailbox.'],
      fixes: ['Empty Sent Items of {authorizedFrom}, and add a retention policy that deletes old Sent Items.'],
      commands: [EXO_CONNECT, 'Get-MailboxFolderStatistics -Identity {authorizedFrom} -FolderScope SentItems | Format-List FolderSize,ItemsInFolder'],
      docs: [DOCS.SUP_SMTP_SUB],
    },
  },
  { text: /MaxSubmissionExceeded|exceeds maximum size limit/i, rule: { id: 'smtp-max-submission-exceeded', summary: 'The message is larger than mailbox {authorizedFrom} may send (MessageSubmissionExceededException).', ...SIZE_RULE_BODY } },
  { codes: [552], enhanced: '5.3.4', rule: { id: 'smtp-552-5.3.4', summary: 'The message is larger than the server accepts (552 5.3.4 message size exceeds the maximum).', ...SIZE_RULE_BODY } },
  // ---- Connection-level replies ----
  {
    codes: [421], enhanced: '4.7.66',
    rule: {
      id: 'smtp-421-4.7.66',
      summary: 'Exchange Online refused TLS 1.0/1.1 (421 4.7.66): TLS 1.2 or later is required.',
      causes: [
        'A device between Mailgate and {smtpHost} (a TLS-inspecting proxy or firewall) talks to Exchange Online with TLS 1.0 or 1.1; Mailgate itself requires TLS 1.2.',
        'The Node.js/OpenSSL configuration of this machine was changed to allow only old TLS versions.',
      ],
      fixes: ['Let Mailgate connect to {smtpHost}:{smtpPort} directly, or update the intercepting device to TLS 1.2+.'],
      commands: ['openssl s_client -starttls smtp -connect {smtpHost}:{smtpPort} -tls1_2 -brief'],
      docs: [DOCS.AKA_SMTP_AUTH_TLS, DOCS.SUP_PRINTERS],
    },
  },
  {
    codes: [421, 451], enhanced: '4.7.0', text: /PRX4|Temporary server error/i,
    rule: {
      id: 'smtp-4xx-4.7.0-prx4',
      summary: 'Exchange Online had a temporary front-end error (4.7.0 Temporary server error, PRX4).',
      causes: ['A transient problem on Microsoft\'s side.'],
      fixes: ['Nothing to do: Mailgate waits and sends again. If it lasts, check the Microsoft 365 Service health page.'],
      docs: [DOCS.SUP_SMTP_SUB],
    },
  },
  {
    codes: [421], enhanced: '4.3.2', text: /Service not active/i,
    rule: {
      id: 'smtp-421-4.3.2-service-not-active',
      summary: 'The Exchange Online server closed the connection because it is being taken out of service (421 4.3.2 Service not active).',
      causes: ['The front-end server is draining; another server takes the next connection.'],
      fixes: ['Nothing to do: Mailgate reconnects and sends again.'],
      docs: [DOCS.SUP_SMTP_SUB],
    },
  },
  // ---- Fallbacks ----
  { replyClass: 4, rule: SMTP_TRANSIENT_RULE },
  { replyClass: 5, rule: SMTP_PERMANENT_RULE },
];

/** Shown when a reply line cannot be parsed at all. */
export const UNRECOGNIZED_REPLY_RULE: DiagnosisRule = {
  id: 'smtp-unrecognized-reply',
  summary: 'The SMTP server sent a reply Mailgate could not read.',
  causes: ['SMTP Client Server {smtpHost}:{smtpPort} is not an SMTP server, or a proxy in between answers instead of it.'],
  fixes: ['Check SMTP Client Server and Port (smtp.office365.com and 587 for the global cloud).'],
  commands: ['Test-NetConnection -ComputerName {smtpHost} -Port {smtpPort}', 'openssl s_client -starttls smtp -connect {smtpHost}:{smtpPort} -brief'],
};

/** The reply text without code, enhanced code and bracketed server names/timestamps. */
function replyText(raw: string): string {
  return raw
    .split(/\r?\n/)
    .map((line) => line.replace(/^\d{3}[ -](?:\d\.\d{1,3}\.\d{1,3}\s+)?/, ''))
    .join(' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The first row matching a parsed reply, or undefined (only for codes outside 4xx/5xx). */
export function matchSmtpReply(
  reply: { code: number; enhanced?: string; raw: string; command?: string },
  ctx: DiagnosisContext,
): SmtpMatcher | undefined {
  const text = replyText(reply.raw);
  return SMTP_MATCHERS.find(
    (m) =>
      (m.codes === undefined || m.codes.includes(reply.code)) &&
      (m.replyClass === undefined || Math.floor(reply.code / 100) === m.replyClass) &&
      (m.enhanced === undefined || m.enhanced === reply.enhanced) &&
      (m.text === undefined || m.text.test(text)) &&
      (m.command === undefined || (reply.command !== undefined && m.command.test(reply.command))) &&
      (m.when === undefined || m.when(ctx)),
  );
}
