/**
 * Unit tests of buildSetupScript and the PowerShell quoting: the script carries the real values
 * (once, as single-quoted variables), quotes hostile values safely, has a clearly marked
 * placeholder when the object id is unknown, and follows docs/m365.md §8 (set-ups A and B).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSettings, type EmailSettings } from '../../src/core/settings.js';
import { MailgateError } from '../../src/core/errors.js';
import { buildSetupScript, OBJECT_ID_PLACEHOLDER } from '../../src/doctor/setup-script.js';
import { psQuote } from '../../src/doctor/powershell.js';

const CLIENT = '11111111-2222-3333-4444-555555555555';
const TENANT = '99999999-8888-7777-6666-555555555555';
const OID = '6d000000-aaaa-bbbb-cccc-000000000001';
const MAILBOX = 'noreply@contoso.onmicrosoft.com';
const SECRET = 'abc8Q~DEF_ghi.jkl-MNOpqrSTUvwxYZ0123456789';

function settings(extra: Record<string, unknown> = {}): EmailSettings {
  const r = parseSettings({ clientId: CLIENT, tenantId: TENANT, clientSecret: SECRET, authorizedFrom: MAILBOX, ...extra });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.settings;
}

/** The script's lines without comments, to check what actually runs. */
const code = (script: string) => script.split('\n').filter((l) => !/^\s*#/.test(l) && l.trim() !== '');

test('psQuote doubles every kind of single quote and refuses line breaks and control characters', () => {
  assert.equal(psQuote("o'brien@contoso.com"), "'o''brien@contoso.com'");
  assert.equal(psQuote('a\u2019b'), "'a\u2019\u2019b'");
  assert.equal(psQuote('$(Remove-Item C:\\)'), "'$(Remove-Item C:\\)'", 'single quotes: no expansion');
  for (const bad of ['a\nb', 'a\rb', 'a\u0000b', 'a\u2028b', 'a\u001bb']) {
    assert.throws(() => psQuote(bad), (e: MailgateError) => e.code === 'ARGUMENT_INVALID', JSON.stringify(bad));
  }
});

test('the script carries the real values once, as variables, with the oid from the token', () => {
  const script = buildSetupScript(settings(), { servicePrincipalObjectId: OID });
  const lines = code(script);
  assert.ok(lines.includes(`$TenantId = '${TENANT}'`));
  assert.ok(lines.includes(`$AppId = '${CLIENT}'`));
  assert.ok(lines.includes(`$Mailbox = '${MAILBOX}'`));
  assert.ok(lines.includes(`$ServicePrincipalObjectId = '${OID}'`));
  assert.match(script, /Taken from the oid claim of an access token/);
  assert.ok(!script.includes(OBJECT_ID_PLACEHOLDER));
  assert.ok(!script.includes(SECRET), 'never the secret');
});

test('set-up A: module, connect, New-ServicePrincipal, FullAccess, SMTP AUTH, verification', () => {
  const script = buildSetupScript(settings(), { servicePrincipalObjectId: OID });
  const lines = code(script).map((l) => l.trim());
  const order = [
    'Install-Module -Name ExchangeOnlineManagement -Scope CurrentUser',
    'Import-Module ExchangeOnlineManagement',
    'Connect-ExchangeOnline -Organization $TenantId',
    'New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalObjectId -DisplayName $DisplayName',
    'Add-MailboxPermission -Identity $Mailbox -User $ServicePrincipalObjectId -AccessRights FullAccess',
    'Set-CASMailbox -Identity $Mailbox -SmtpClientAuthenticationDisabled $false',
    'Get-ServicePrincipal | Where-Object AppId -eq $AppId | Format-List',
    'Get-CASMailbox -Identity $Mailbox | Format-List SmtpClientAuthenticationDisabled',
    'Test-ServicePrincipalAuthorization -Identity $ServicePrincipalObjectId -Resource $Mailbox | Format-Table -AutoSize',
  ];
  let last = -1;
  for (const step of order) {
    const i = lines.indexOf(step);
    assert.ok(i > last, `"${step}" missing or out of order`);
    last = i;
  }
  assert.ok(lines.some((l) => l.startsWith('Get-MailboxPermission -Identity $Mailbox')));
  assert.ok(lines.includes("$ErrorActionPreference = 'Stop'"));
  assert.match(script, /NOT from App registrations/);
});

test('set-up B (RBAC for Applications) is in the script, selected by $SetUp', () => {
  const script = buildSetupScript(settings(), { servicePrincipalObjectId: OID });
  const lines = code(script).map((l) => l.trim());
  assert.ok(lines.includes("$SetUp = 'A'   # 'A' = Entra permission + FullAccess (default), 'B' = RBAC for Applications"));
  assert.ok(lines.includes('New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $Filter'));
  assert.ok(lines.includes("New-ManagementRoleAssignment -Name $AssignmentName -Role 'Application SMTP.SendAsApp' -App $ServicePrincipalObjectId -CustomResourceScope $ScopeName"));
  // The OPATH filter escapes quotes in the mailbox address itself.
  assert.ok(lines.includes(`$Filter = "UserPrincipalName -eq '" + ($Mailbox -replace "'", "''") + "'"`));
  assert.match(script, /do NOT add SMTP\.SendAsApp/);
});

test('no oid: a clearly marked placeholder, instructions, and a guard that stops the script', () => {
  const script = buildSetupScript(settings(), { objectIdUnavailableReason: 'the token request failed with AADSTS7000215' });
  assert.ok(script.includes(`$ServicePrincipalObjectId = "${OBJECT_ID_PLACEHOLDER}"`));
  assert.ok(script.includes(OBJECT_ID_PLACEHOLDER));
  assert.match(script, /FILL THIS IN: Mailgate could not obtain a token for this app \(the token request failed with AADSTS7000215\)/);
  assert.match(script, /Enterprise applications > search for the Application \(client\) ID/);
  assert.ok(script.includes(`(Get-MgServicePrincipal -Filter "appId eq '${CLIENT}'").Id`));
  assert.ok(code(script).some((l) => l.startsWith('if ($ServicePrincipalObjectId -notmatch $GuidPattern) { throw')));
});

test('a hostile mailbox address is quoted, never interpolated', () => {
  // zod accepts apostrophes in addresses; the script must survive them.
  const s = settings({ authorizedFrom: "o'brien@contoso.onmicrosoft.com" });
  const script = buildSetupScript(s, { servicePrincipalObjectId: OID });
  assert.ok(code(script).includes("$Mailbox = 'o''brien@contoso.onmicrosoft.com'"));
  // Values are written once; every command uses the variable.
  assert.equal(script.split("o'brien").length - 1, 1, 'the raw value appears only in the header comment');
});

test('values with line breaks are refused (a comment or statement could be broken out of)', () => {
  const s = { ...settings(), authorizedFrom: `${MAILBOX}\nRemove-Mailbox -Identity ceo` };
  assert.throws(() => buildSetupScript(s, { servicePrincipalObjectId: OID }), (e: MailgateError) => e.code === 'ARGUMENT_INVALID');
});

test('an oid that is not a GUID is not trusted: the placeholder is used', () => {
  const script = buildSetupScript(settings(), { servicePrincipalObjectId: "x'; Remove-Mailbox" });
  assert.ok(script.includes(OBJECT_ID_PLACEHOLDER));
  assert.ok(!script.includes('Remove-Mailbox'));
});

test('national clouds connect to their Exchange environment; missing IDs get guarded placeholders', () => {
  assert.ok(buildSetupScript(settings({ cloud: 'gcc-high' }), { servicePrincipalObjectId: OID }).includes('Connect-ExchangeOnline -Organization $TenantId -ExchangeEnvironmentName O365USGovGCCHigh'));
  assert.ok(buildSetupScript(settings({ cloud: 'china' }), { servicePrincipalObjectId: OID }).includes('-ExchangeEnvironmentName O365China'));
  const basic = buildSetupScript({ authorizedFrom: MAILBOX, cloud: 'global' });
  assert.match(basic, /\$AppId = "<paste the Application \(client\) ID/);
  assert.match(basic, /\$TenantId = "<paste the Directory \(tenant\) ID/);
});

// ---- Transport graph and auto (issue 15 item 6) ---------------------------------------------------

const MAIL_SEND_ASSIGNMENT = "New-ManagementRoleAssignment -Name $GraphAssignmentName -Role 'Application Mail.Send' -App $ServicePrincipalObjectId -CustomResourceScope $GraphScopeName";

test('--transport graph: service principal + "Application Mail.Send" scoped to the mailbox + Test-ServicePrincipalAuthorization; nothing of SMTP', () => {
  const script = buildSetupScript(settings(), { servicePrincipalObjectId: OID, transport: 'graph' });
  const lines = code(script).map((l) => l.trim());
  const order = [
    'Connect-ExchangeOnline -Organization $TenantId',
    'New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalObjectId -DisplayName $DisplayName',
    'New-ManagementScope -Name $GraphScopeName -RecipientRestrictionFilter $GraphFilter',
    MAIL_SEND_ASSIGNMENT,
    'Test-ServicePrincipalAuthorization -Identity $ServicePrincipalObjectId -Resource $Mailbox | Format-Table -AutoSize',
  ];
  let at = -1;
  for (const step of order) {
    const i = lines.indexOf(step);
    assert.ok(i > at, `${step} missing or out of order`);
    at = i;
  }
  assert.ok(lines.includes("$GraphScopeName = 'Mailgate sender ' + $Mailbox"));
  assert.ok(lines.includes(`$ServicePrincipalObjectId = '${OID}'`));
  for (const smtpOnly of [/Add-MailboxPermission/, /Set-CASMailbox/, /SMTP\.SendAsApp'/, /\$SetUp/]) {
    assert.ok(!lines.some((l) => smtpOnly.test(l)), `${smtpOnly} must not run for Graph`);
  }
  assert.match(script, /Do NOT also add the Entra application permission Microsoft Graph > Mail\.Send: it is tenant-wide/);
  assert.match(script, /Transport {25}graph/);
});

test('--transport auto: both halves (SMTP set-up A/B, SMTP AUTH, and Graph Mail.Send scoped)', () => {
  const lines = code(buildSetupScript(settings(), { servicePrincipalObjectId: OID, transport: 'auto' })).map((l) => l.trim());
  for (const step of [
    'Add-MailboxPermission -Identity $Mailbox -User $ServicePrincipalObjectId -AccessRights FullAccess',
    "New-ManagementRoleAssignment -Name $AssignmentName -Role 'Application SMTP.SendAsApp' -App $ServicePrincipalObjectId -CustomResourceScope $ScopeName",
    'Set-CASMailbox -Identity $Mailbox -SmtpClientAuthenticationDisabled $false',
    MAIL_SEND_ASSIGNMENT,
    'Test-ServicePrincipalAuthorization -Identity $ServicePrincipalObjectId -Resource $Mailbox | Format-Table -AutoSize',
  ]) assert.ok(lines.includes(step), step);
});

test('the transport defaults to the Transport setting, and smtp sets up nothing of Graph', () => {
  assert.ok(code(buildSetupScript(settings({ transport: 'graph' }), { servicePrincipalObjectId: OID })).some((l) => l.trim() === MAIL_SEND_ASSIGNMENT));
  const smtp = buildSetupScript(settings(), { servicePrincipalObjectId: OID });
  assert.ok(!smtp.includes('Application Mail.Send'));
  assert.ok(!smtp.includes('$GraphScopeName'));
});
