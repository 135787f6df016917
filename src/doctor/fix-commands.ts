/**
 * The doctor's own fix texts and commands, and the one way values get into them.
 *
 * Why it exists: most explanations come from the diagnosis tables (src/core/diagnosis), which
 * the doctor reuses unchanged. A few things only the doctor knows — a host that does not
 * resolve, a port that does not open, a token whose claims are wrong, the order in which to
 * check the Exchange-side steps after a `535 5.7.3` with good claims — need texts of their own.
 * They use the same `{placeholder}` templates and are filled by the same renderer
 * (`resolveValues` + `fillTemplate`), which accepts a value only when it has the right shape
 * (GUID, mailbox address, host name, port). So a secret can never end up in a command, and every
 * filled command is safe to paste into PowerShell.
 *
 * The oid in every command is the access token's `oid` claim (the Enterprise Application's
 * object id); the App Registration's object id never appears, because Mailgate never knows it.
 *
 * Imports: src/core (settings types, diagnosis renderer).
 */
import { contextSource, fillTemplate, resolveValues, type FillValues } from '../core/diagnosis/render.js';
import type { DiagnosisContext } from '../core/diagnosis/types.js';

export type { FillValues } from '../core/diagnosis/render.js';

/** The context for diagnose() and for the doctor's templates: the settings' IDs plus what the doctor learned. */

/** The checked values for a context (anything of the wrong shape is left out and renders as a placeholder). */
export function fillValues(ctx: DiagnosisContext): FillValues {
  return resolveValues(contextSource(ctx));
}

/** Fills templates with checked values. */
export function fillAll(templates: readonly string[], values: FillValues): string[] {
  return templates.map((t) => fillTemplate(t, values));
}

export function fillOne(template: string, values: FillValues): string {
  return fillTemplate(template, values);
}

// ---- Exchange Online PowerShell (docs/m365.md §8.1); the same texts as the diagnosis tables ---------
export const PS = {
  connect: 'Connect-ExchangeOnline -Organization {tenantId}',
  newServicePrincipal: 'New-ServicePrincipal -AppId {clientId} -ObjectId {oid} -DisplayName "Mailgate"',
  addFullAccess: 'Add-MailboxPermission -Identity {authorizedFrom} -User {oid} -AccessRights FullAccess',
  getServicePrincipal: 'Get-ServicePrincipal | Where-Object AppId -eq {clientId} | Format-List',
  getFullAccess: 'Get-MailboxPermission -Identity {authorizedFrom}',
  getMailbox: 'Get-Mailbox -Identity {authorizedFrom}',
} as const;

// ---- Network checks (fallbacks when a diagnosis rule has none) ----------------------------------
export const NET = {
  testPort: 'Test-NetConnection -ComputerName {smtpHost} -Port {smtpPort}',
  resolveSmtp: 'Resolve-DnsName {smtpHost}',
  resolveAuthority: 'Resolve-DnsName {authorityHostName}',
} as const;

/** Where admin consent for SMTP.SendAsApp is granted, click by click (docs/m365.md §8.2 A.1). */
export const CONSENT_PATH =
  'Azure portal → Microsoft Entra ID → App registrations → the app {clientId} → API permissions → Add a permission → APIs my organization uses → Office 365 Exchange Online → Application permissions → SMTP.SendAsApp → Add permissions, then "Grant admin consent for <your organisation>".';

/**
 * After `535 5.7.3` with a token that carries SMTP.SendAsApp for the right tenant and audience,
 * only Exchange-side steps remain. Exchange says nothing about which, so the fix lists them in
 * the order to check them (docs/m365.md §2.3, §8.2 A.2–A.3, §10.12).
 */
export const EXCHANGE_SIDE_FIX = [
  'The token is right (audience, tenant and the SMTP.SendAsApp role), so a step in Exchange Online is missing. Check, in this order:',
  '1. The service principal is not registered in Exchange Online: run New-ServicePrincipal (below).',
  "2. It was registered with the Object ID from App registrations instead of the Object ID from Enterprise applications. The right one is the token's oid, {oid}. If Get-ServicePrincipal shows another ObjectId for app {clientId}, remove that entry (Remove-ServicePrincipal -Identity <its ObjectId>) and run New-ServicePrincipal again.",
  '3. The service principal has no FullAccess on mailbox {authorizedFrom}: run Add-MailboxPermission (below).',
  '4. Authorized from Address {authorizedFrom} is not a mailbox of this tenant (a typo, or a mailbox of another tenant): check it with Get-Mailbox -Identity {authorizedFrom}.',
  'Changes can take 30 minutes or more to apply in Exchange Online; run `mailgate doctor` again after that.',
];
export const EXCHANGE_SIDE_COMMANDS = [PS.connect, PS.getServicePrincipal, PS.newServicePrincipal, PS.addFullAccess, PS.getFullAccess];

/** Joins fix steps into the report's one `fix` string (one step per line). */
export function joinFix(steps: readonly string[]): string {
  return steps.filter((s) => s.trim() !== '').join('\n');
}

/**
 * A credential's name in a command (`mailgate credentials promote NAME`): `default` (the Email
 * Settings') when none is given, a plain name as is, anything else a placeholder.
 */
export function credentialInCommand(credential: string | undefined): string {
  const name = credential ?? 'default';
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) ? name : '<credential>';
}

/** Replacing a credential's secondary (refused, unreadable or expiring), the rotation's way: the CLI or the admin page. */
export function replaceSecondarySteps(credential: string | undefined): string[] {
  const name = credentialInCommand(credential);
  return [
    `Replace the secondary: \`mailgate credentials remove ${name}\`, then \`mailgate credentials add ${name}\` with the new one (--secret-stdin, --secret-file or --certificate) and \`mailgate credentials test ${name}\` (or the credential's Rotate panel on the admin page).`,
  ];
}
