/**
 * buildSetupScript: the complete Exchange Online set-up for the current settings as a
 * ready-to-run, commented PowerShell script (`mailgate setup-script`).
 *
 * Why it exists: the set-up is a dozen manual steps across the Azure portal and Exchange Online
 * PowerShell, and the most common mistake (New-ServicePrincipal with the App Registration's
 * object id) is invisible until a `535 5.7.3`. The script follows docs/m365.md §8 exactly:
 * set-up A (Entra permission SMTP.SendAsApp + New-ServicePrincipal + Add-MailboxPermission
 * FullAccess) by default, set-up B (RBAC for Applications: New-ManagementScope +
 * New-ManagementRoleAssignment -Role "Application SMTP.SendAsApp") by changing one variable;
 * SMTP AUTH enabled for the mailbox; verification with Get-ServicePrincipal,
 * Get-MailboxPermission, Get-CASMailbox and Test-ServicePrincipalAuthorization.
 *
 * With Transport graph or auto (`transport` option, default the settings'), the script also (graph:
 * only) sets up Microsoft Graph's sendMail the least-privilege way (docs/m365.md §6.3): the RBAC
 * for Applications role "Application Mail.Send" scoped to the Authorized from Address
 * (New-ManagementScope + New-ManagementRoleAssignment), checked with
 * Test-ServicePrincipalAuthorization, instead of the tenant-wide Entra Mail.Send. Graph needs no
 * SMTP.SendAsApp, FullAccess or SMTP AUTH; Automatic needs both halves.
 *
 * Values appear only once, as single-quoted variables at the top (./powershell.ts); everything
 * below refers to the variables. The service principal's object id is the token's oid when the
 * caller could get a token, otherwise a clearly marked placeholder that the script refuses to
 * run with. A sender whose From differs from its signed-in mailbox (`sendAs`) adds the Send As
 * step (Add-RecipientPermission with the mailbox as trustee) and its verification. Pure: returns a string.
 *
 * Imports: src/core (settings, clouds), ./powershell.
 */
import { CLOUDS, type CloudId } from '../core/clouds.js';
import type { EmailSettings, TransportId } from '../core/settings.js';
import { assertScriptSafe, psQuote } from './powershell.js';
import { isGuid } from '../core/settings.js';

export interface SetupScriptOptions {
  /** The Enterprise Application object id (the token's `oid`); a placeholder is written when absent. */
  servicePrincipalObjectId?: string;
  /** Why no object id could be found (e.g. "AADSTS7000215"), shown in a comment. Sanitised. */
  objectIdUnavailableReason?: string;
  /** Which transport to set up: smtp (SMTP.SendAsApp), graph (Mail.Send), auto (both). Default: the settings' Transport, else smtp. */
  transport?: TransportId;
  /**
   * From addresses the mailbox (the Authorized from Address, a sender's signed-in mailbox) sends
   * as: each gets `Add-RecipientPermission -Identity <from> -Trustee <mailbox> -AccessRights
   * SendAs` and its verification (issue 16: a sender whose From differs from its signInAs).
   */
  sendAs?: readonly string[];
}

export type SetupScriptSettings = Pick<EmailSettings, 'authorizedFrom' | 'cloud'> & Partial<Pick<EmailSettings, 'clientId' | 'tenantId' | 'transport'>>;


/** `Connect-ExchangeOnline -ExchangeEnvironmentName` for the national clouds (global and GCC use the default). */
const EXCHANGE_ENVIRONMENT: Record<CloudId, string | undefined> = {
  global: undefined,
  'gcc-high': 'O365USGovGCCHigh',
  dod: 'O365USGovDoD',
  china: 'O365China',
};

export const OBJECT_ID_PLACEHOLDER = '<paste the Object ID from Entra ID > Enterprise applications > your app>';
const TENANT_PLACEHOLDER = '<paste the Directory (tenant) ID from App registrations > your app > Overview>';
const APP_PLACEHOLDER = '<paste the Application (client) ID from App registrations > your app > Overview>';

function sanitizeReason(reason: string | undefined): string | undefined {
  if (!reason) return undefined;
  const s = reason.replace(/[^A-Za-z0-9 .,:;()_/-]/g, '').replace(/\s+/g, ' ').trim().slice(0, 160);
  return s || undefined;
}

/**
 * The script for the given settings.
 *
 * @example
 * const script = buildSetupScript(settings, { servicePrincipalObjectId: claims.oid });
 * writeFileSync('mailgate-setup.ps1', script);
 */
export function buildSetupScript(settings: SetupScriptSettings, options: SetupScriptOptions = {}): string {
  const mailbox = settings.authorizedFrom;
  const tenantId = settings.tenantId?.trim() || undefined;
  const appId = settings.clientId?.trim() || undefined;
  const oid = options.servicePrincipalObjectId && isGuid(options.servicePrincipalObjectId) ? options.servicePrincipalObjectId : undefined;
  for (const [name, value] of [['authorizedFrom', mailbox], ['tenantId', tenantId], ['clientId', appId]] as const) {
    if (value !== undefined) assertScriptSafe(name, value);
  }
  // Send As From addresses: distinct, the mailbox itself left out (it needs no Send As).
  const seen = new Set<string>([mailbox.toLowerCase()]);
  const sendAs = (options.sendAs ?? []).map((a) => a.trim()).filter((a) => !seen.has(a.toLowerCase()) && seen.add(a.toLowerCase()));
  for (const from of sendAs) assertScriptSafe('sendAs', from);
  const cloud = CLOUDS[settings.cloud] ?? CLOUDS.global;
  const environment = EXCHANGE_ENVIRONMENT[settings.cloud];
  const reason = sanitizeReason(options.objectIdUnavailableReason);
  // Values in comments are safe: assertScriptSafe refused line breaks above.
  const show = (v: string | undefined, missing: string) => v ?? missing;

  const transport: TransportId = options.transport ?? settings.transport ?? 'smtp';
  const smtp = transport !== 'graph';
  const graph = transport !== 'smtp';
  const L: string[] = [];
  const add = (...lines: string[]) => L.push(...lines);
  /** Lines of one transport only, kept in place. */
  const only = (on: boolean, lines: string[]) => (on ? lines : []);
  const GRAPH_INTRO = [
    '# Microsoft Graph (sendMail) needs the permission Mail.Send. This script grants it the least-privilege',
    '# way: an Exchange role assignment "Application Mail.Send" (RBAC for Applications) limited to the mailbox.',
    '# Do NOT also add the Entra application permission Microsoft Graph > Mail.Send: it is tenant-wide (the',
    '# app could send as any mailbox) and RBAC grants add to it, they do not limit it (`mailgate doctor`',
    '# warns when the token carries it). No SMTP.SendAsApp, FullAccess or SMTP AUTH is needed for Graph.',
  ];

  add(
    transport === 'smtp'
      ? '# Mailgate: Exchange Online set-up for sending mail with OAuth2 (SMTP AUTH, XOAUTH2, client credentials)'
      : transport === 'graph'
        ? '# Mailgate: Exchange Online set-up for sending mail with OAuth2 through Microsoft Graph sendMail (client credentials)'
        : '# Mailgate: Exchange Online set-up for Automatic: SMTP AUTH (XOAUTH2) and Microsoft Graph sendMail (client credentials)',
    '#',
    '# Generated by `mailgate setup-script` for:',
    `#   Application (client) ID           ${show(appId, '(not set: fill in $AppId below)')}`,
    `#   Directory (tenant) ID             ${show(tenantId, '(not set: fill in $TenantId below)')}`,
    `#   Mailbox (Authorized from Address) ${mailbox}`,
    `#   Cloud                             ${cloud.label}`,
    `#   Transport                         ${transport}`,
    ...sendAs.map((from) => `#   Send As (From address)            ${from}`),
    '#',
    '# Run it in PowerShell 7 (or Windows PowerShell 5.1) as an Exchange administrator, for example:',
    '#   pwsh ./mailgate-setup.ps1',
    '# It is safe to run again: steps already done are only confirmed.',
    '#',
    ...only(graph, [...GRAPH_INTRO, '#']),
    ...only(smtp, [
    '# SMTP: Microsoft documents two set-ups; choose one with $SetUp below:',
    '#   A  (default) Entra permission + mailbox permission: the app has the Office 365 Exchange Online',
    '#      application permission SMTP.SendAsApp with admin consent, and its service principal gets',
    '#      FullAccess on the mailbox.',
    '#   B  RBAC for Applications (least privilege): NO SMTP.SendAsApp permission in Entra; an Exchange',
    '#      role assignment "Application SMTP.SendAsApp" limited to this mailbox. No mailbox permission.',
    '#',
    '# Before running, in the Azure portal (once):',
    '#   1. Microsoft Entra ID > App registrations > your app: the Application (client) ID and the',
    '#      Directory (tenant) ID are on its Overview page.',
    '#   2. Certificates & secrets: a client secret (copy its Value, not its Secret ID) or a certificate.',
    '#   3. Set-up A only: API permissions > Add a permission > APIs my organization uses >',
    '#      Office 365 Exchange Online > Application permissions > SMTP.SendAsApp > Add permissions,',
    '#      then "Grant admin consent for <your organisation>".',
    '#      Set-up B: do NOT add SMTP.SendAsApp (Microsoft: it would trigger an unnecessary check for',
    '#      mailbox permissions).',
    ]),
    ...only(!smtp, [
    '# Before running, in the Azure portal (once):',
    '#   1. Microsoft Entra ID > App registrations > your app: the Application (client) ID and the',
    '#      Directory (tenant) ID are on its Overview page.',
    '#   2. Certificates & secrets: a client secret (copy its Value, not its Secret ID) or a certificate.',
    ]),
    '',
    "$ErrorActionPreference = 'Stop'",
    ...only(smtp, ["$SetUp = 'A'   # 'A' = Entra permission + FullAccess (default), 'B' = RBAC for Applications"]),
    '',
    "# ---- Values (from Mailgate's settings) -------------------------------------------------------",
    tenantId ? `$TenantId = ${psQuote(tenantId, 'tenantId')}` : `$TenantId = "${TENANT_PLACEHOLDER}"`,
    appId ? `$AppId = ${psQuote(appId, 'clientId')}` : `$AppId = "${APP_PLACEHOLDER}"`,
    `$Mailbox = ${psQuote(mailbox, 'authorizedFrom')}`,
    ...(sendAs.length ? [
      '# The From addresses $Mailbox sends as (Send As senders: they sign in as $Mailbox).',
      `$SendAsFrom = @(${sendAs.map((a) => psQuote(a, 'sendAs')).join(', ')})`,
    ] : []),
    '# The service principal\'s Object ID: the one from Enterprise applications, NOT from App registrations',
    '# (using the App registration\'s Object ID is the most common mistake: Exchange then answers 535 5.7.3).',
  );
  if (oid) {
    add(
      '# Taken from the oid claim of an access token Mailgate obtained for this app: this is the right one.',
      `$ServicePrincipalObjectId = ${psQuote(oid, 'servicePrincipalObjectId')}`,
    );
  } else {
    add(
      `# >>> FILL THIS IN: Mailgate could not obtain a token for this app${reason ? ` (${reason})` : ''}, so the Object ID is unknown.`,
      '#     Azure portal > Microsoft Entra ID > Enterprise applications > search for the Application (client) ID',
      `#     ${appId ?? '(your app)'} (clear the "Application type" filter if it is not listed) > Overview > Object ID.`,
      '#     Or run `mailgate doctor` once the token works: it prints the token\'s oid, which is this Object ID.',
      ...(appId ? [`#     Or with Microsoft Graph PowerShell: (Get-MgServicePrincipal -Filter "appId eq '${appId}'").Id`] : []),
      `$ServicePrincipalObjectId = "${OBJECT_ID_PLACEHOLDER}"`,
    );
  }
  add(
    "$DisplayName = 'Mailgate'",
    '',
    '# Check the values before changing anything.',
    "$GuidPattern = '^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$'",
    "if ($TenantId -like '<*') { throw 'Set $TenantId at the top of this script to the Directory (tenant) ID.' }",
    "if ($AppId -notmatch $GuidPattern) { throw 'Set $AppId at the top of this script to the Application (client) ID.' }",
    "if ($ServicePrincipalObjectId -notmatch $GuidPattern) { throw 'Set $ServicePrincipalObjectId at the top of this script to the Object ID from Microsoft Entra ID > Enterprise applications > your app > Overview (not from App registrations).' }",
    ...only(smtp, ["if ($SetUp -notin @('A', 'B')) { throw 'Set $SetUp to A or B.' }"]),
    '',
    '# ---- Step 1: the Exchange Online PowerShell module ---------------------------------------------',
    'if (-not (Get-Module -ListAvailable -Name ExchangeOnlineManagement)) {',
    '    Install-Module -Name ExchangeOnlineManagement -Scope CurrentUser',
    '}',
    'Import-Module ExchangeOnlineManagement',
    '',
    '# ---- Step 2: connect to the tenant (sign in as an Exchange administrator) ----------------------',
    environment ? `Connect-ExchangeOnline -Organization $TenantId -ExchangeEnvironmentName ${environment}` : 'Connect-ExchangeOnline -Organization $TenantId',
    '',
    '# ---- Step 3: register the app\'s service principal in Exchange Online ----------------------------',
    '$ServicePrincipal = Get-ServicePrincipal | Where-Object AppId -eq $AppId',
    'if ($ServicePrincipal) {',
    '    $Registered = "$($ServicePrincipal.ObjectId)"',
    '    if ($Registered -and $Registered -ne $ServicePrincipalObjectId) {',
    '        # Registered with another Object ID, typically the App registration\'s: Exchange will not recognise the app.',
    '        throw "The service principal of $AppId is registered with ObjectId $Registered instead of $ServicePrincipalObjectId. Remove it (Remove-ServicePrincipal -Identity $Registered) and run this script again."',
    '    }',
    '    Write-Host "Service principal for $AppId already registered."',
    '} else {',
    '    New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalObjectId -DisplayName $DisplayName',
    '}',
    '',
    ...only(smtp, [
    "if ($SetUp -eq 'A') {",
    '    # ---- Step 4 (set-up A): FullAccess on the mailbox for the service principal -----------------',
    '    Add-MailboxPermission -Identity $Mailbox -User $ServicePrincipalObjectId -AccessRights FullAccess',
    '} else {',
    '    # ---- Step 4 (set-up B): RBAC for Applications, limited to this mailbox ----------------------',
    '    # The scope matches the mailbox by UserPrincipalName (Microsoft\'s example). For a shared mailbox whose',
    "    # UPN differs from its address, use \"PrimarySmtpAddress -eq '...'\" or a group (MemberOfGroup) instead.",
    "    $ScopeName = 'Mailgate SMTP mailboxes'",
    "    $AssignmentName = 'Mailgate SMTP'",
    "    $Filter = \"UserPrincipalName -eq '\" + ($Mailbox -replace \"'\", \"''\") + \"'\"",
    '    if (-not (Get-ManagementScope | Where-Object Name -eq $ScopeName)) {',
    '        New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $Filter',
    '    }',
    '    if (-not (Get-ManagementRoleAssignment | Where-Object Name -eq $AssignmentName)) {',
    "        New-ManagementRoleAssignment -Name $AssignmentName -Role 'Application SMTP.SendAsApp' -App $ServicePrincipalObjectId -CustomResourceScope $ScopeName",
    '    }',
    '    # RBAC grants add to Entra grants: remove SMTP.SendAsApp from the app\'s API permissions if it is there.',
    '}',
    '',
    '# ---- Step 5: turn SMTP AUTH on for the mailbox (it blocks OAuth sign-ins too when off) ----------',
    '# Tenants created after January 2020 have SMTP AUTH off by default; the mailbox setting wins.',
    'Set-CASMailbox -Identity $Mailbox -SmtpClientAuthenticationDisabled $false',
    '# Alternative for the whole organisation (affects every mailbox):',
    '# Set-TransportConfig -SmtpClientAuthenticationDisabled $false',
    '',
    ...only(!sendAs.length, [
    '# ---- Optional: send with another From address ---------------------------------------------------',
    '# Only if the application sends with a From other than $Mailbox: grant Send As on that address.',
    "# Add-RecipientPermission -Identity '<the other From address>' -Trustee $Mailbox -AccessRights SendAs",
    '',
    ]),
    ]),
    ...only(sendAs.length > 0, [
    '# ---- Send As: $Mailbox sends with these From addresses (SMTP and Graph alike) ---------------------',
    '# The trustee is the signed-in mailbox, not the service principal. Without it Exchange refuses every',
    '# message with 554 5.2.252 SendAsDenied (Graph: ErrorSendAsDenied). That is, with the values above:',
    ...sendAs.map((from) => `#   Add-RecipientPermission -Identity ${from} -Trustee ${mailbox} -AccessRights SendAs`),
    'foreach ($From in $SendAsFrom) {',
    '    Add-RecipientPermission -Identity $From -Trustee $Mailbox -AccessRights SendAs -Confirm:$false',
    '}',
    '',
    ]),
    ...only(graph, [
    `# ---- Step ${smtp ? 6 : 4} (Microsoft Graph): "Application Mail.Send" limited to this mailbox (RBAC for Applications)`,
    '# The scope matches the mailbox by its primary SMTP address (the same commands `mailgate doctor` prints).',
    "$GraphScopeName = 'Mailgate sender ' + $Mailbox",
    "$GraphAssignmentName = 'Mailgate Graph Mail.Send'",
    "$GraphFilter = \"PrimarySmtpAddress -eq '\" + ($Mailbox -replace \"'\", \"''\") + \"'\"",
    'if (-not (Get-ManagementScope | Where-Object Name -eq $GraphScopeName)) {',
    '    New-ManagementScope -Name $GraphScopeName -RecipientRestrictionFilter $GraphFilter',
    '}',
    'if (-not (Get-ManagementRoleAssignment | Where-Object Name -eq $GraphAssignmentName)) {',
    "    New-ManagementRoleAssignment -Name $GraphAssignmentName -Role 'Application Mail.Send' -App $ServicePrincipalObjectId -CustomResourceScope $GraphScopeName",
    '}',
    '',
    ]),
    `# ---- Step ${graph ? (smtp ? 7 : 5) : 6}: verify -----------------------------------------------------------------------------`,
    'Get-ServicePrincipal | Where-Object AppId -eq $AppId | Format-List',
    ...only(smtp, [
    "if ($SetUp -eq 'A') {",
    "    Get-MailboxPermission -Identity $Mailbox | Where-Object { $_.AccessRights -like '*FullAccess*' } | Format-Table -AutoSize",
    '}',
    'Get-CASMailbox -Identity $Mailbox | Format-List SmtpClientAuthenticationDisabled',
    ]),
    smtp && graph
      ? '# Lists the RBAC for Applications grants (Application Mail.Send must be InScope True; SMTP set-up B: also Application SMTP.SendAsApp).'
      : graph
        ? '# Lists the RBAC for Applications grants: "Application Mail.Send" must show InScope True for the mailbox.'
        : '# Lists the RBAC for Applications grants (set-up B: InScope must be True; set-up A: none is expected).',
    'Test-ServicePrincipalAuthorization -Identity $ServicePrincipalObjectId -Resource $Mailbox | Format-Table -AutoSize',
    ...only(sendAs.length > 0, [
    '# Send As: $Mailbox must be listed with AccessRights SendAs on each From address.',
    'foreach ($From in $SendAsFrom) { Get-RecipientPermission -Identity $From -Trustee $Mailbox | Format-Table -AutoSize }',
    ]),
    '',
    "Write-Host 'Done. Exchange Online can take 30 minutes or more to apply these changes; then run: mailgate doctor'",
  );
  return L.join('\n') + '\n';
}
