/**
 * AADSTS codes from the token endpoint (Microsoft Entra ID) → what went wrong and the fix.
 *
 * Why: a refused token request is the first place a set-up goes wrong (secret ID pasted
 * instead of the value, expired secret, wrong tenant or client ID, certificate not uploaded),
 * and Entra says exactly which with an AADSTS number. Microsoft's rule is to act on the codes,
 * never on the description text, so this table is keyed by number only.
 * Source of truth: docs/m365.md §7 (codes), §1 (endpoint), §10 (pitfalls).
 *
 * This file is a table and is longer than ~300 lines on purpose: one row per code, each row
 * self-contained, so a reviewer can check a row against docs/m365.md without jumping around.
 *
 * Imports: nothing outside src/core/diagnosis.
 */
import { aadstsLookup, DOCS } from './docs-links.js';
import type { DiagnosisRule } from './types.js';

type Row = Omit<DiagnosisRule, 'id'>;

const AZ_LOGIN = 'az login --tenant {tenantId} --allow-no-subscriptions';
const LIST_SECRETS =
  'az ad app credential list --id {clientId} --query "[].{keyId:keyId, hint:hint, expires:endDateTime}" --output table';
const NEW_SECRET = 'az ad app credential reset --id {clientId} --append --display-name Mailgate --years 1';
const SHOW_SP = 'az ad sp show --id {clientId} --query "{appId:appId, name:displayName, objectId:id, enabled:accountEnabled}"';
const OPENID = 'curl -s {authorityHost}/{tenantId}/v2.0/.well-known/openid-configuration';
const NEW_SECRET_FIX =
  'Create a new client secret: App registrations → the app {clientId} → Certificates & secrets → New client secret. Copy its Value right away (it is shown only once), not the Secret ID.';
const SET_SECRET_FIX = 'Put that value into Client Secret (MAILGATE_CLIENT_SECRET) and send again.';

const ROWS: Record<number, Row> = {
  7000215: {
    summary: 'Microsoft Entra ID refused the client secret (AADSTS7000215): Client Secret is not a valid secret of application {clientId}.',
    causes: [
      'Client Secret holds the secret\'s ID (the GUID in the "Secret ID" column) instead of its Value.',
      'The value was copied incompletely or with extra characters (quotes, spaces, a line break).',
      'The secret belongs to another app registration than Application (client) ID {clientId}, or was deleted.',
    ],
    fixes: [
      NEW_SECRET_FIX,
      SET_SECRET_FIX,
      'To check an existing secret: the "hint" column of the listing below shows the first three characters of each secret\'s value; the Client Secret setting must start with one of them.',
      'Consider a certificate instead: Microsoft recommends certificates over secrets for production.',
    ],
    commands: [AZ_LOGIN, LIST_SECRETS, NEW_SECRET],
    docs: [DOCS.ENTRA_CREDS],
  },
  70002: {
    summary: 'Microsoft Entra ID could not validate the client credentials of application {clientId} (AADSTS70002).',
    causes: [
      'Client Secret does not match any secret of the app registration (a secret ID instead of the value, or a typo).',
      'The secret belongs to another app registration.',
    ],
    fixes: [NEW_SECRET_FIX, SET_SECRET_FIX],
    commands: [AZ_LOGIN, LIST_SECRETS, NEW_SECRET],
    docs: [DOCS.ENTRA_CREDS],
  },
  7000222: {
    summary: 'The client secret of application {clientId} has expired (AADSTS7000222).',
    causes: [
      'Client secrets live at most 24 months (Microsoft recommends less than 12); this one passed its end date.',
    ],
    fixes: [
      NEW_SECRET_FIX,
      SET_SECRET_FIX,
      'Note the new expiry date and plan the next rotation, or switch to a certificate.',
      'Delete the expired secret from Certificates & secrets once the new one works.',
    ],
    commands: [AZ_LOGIN, LIST_SECRETS, NEW_SECRET],
    docs: [DOCS.ENTRA_CREDS],
  },
  7000218: {
    summary: 'The token request carried no credential (AADSTS7000218): neither a client secret nor a certificate assertion.',
    causes: [
      'Client Secret and Client certificate are both empty in the settings that reached the token request.',
      'The app registration is treated as a public client ("Allow public client flows" is on) while a confidential client is expected.',
    ],
    fixes: [
      'Set Client Secret (MAILGATE_CLIENT_SECRET) to the secret\'s Value, or Client certificate (MAILGATE_CLIENT_CERTIFICATE_PATH) to a PEM file with the certificate and its private key.',
      'In App registrations → {clientId} → Authentication, set "Allow public client flows" to No.',
    ],
    docs: [DOCS.ENTRA_CC],
  },
  700016: {
    summary: 'Application {clientId} was not found in the directory {tenantId} (AADSTS700016).',
    causes: [
      'Application (client) ID is wrong: it must be the "Application (client) ID" from the app registration\'s Overview page (not its Object ID, not a secret ID).',
      'Directory (tenant) ID points to another tenant than the one the app is registered in.',
      'The app is multi-tenant and was never consented in tenant {tenantId}, so that tenant has no Enterprise application (service principal) for it.',
    ],
    fixes: [
      'Copy Application (client) ID and Directory (tenant) ID again from App registrations → the app → Overview.',
      'For a multi-tenant app registered elsewhere: have an administrator of {tenantId} grant consent by opening {authorityHost}/{tenantId}/v2.0/adminconsent?client_id={clientId}&redirect_uri=<the app\'s redirect URI>&scope={scope}',
      'Check that the app exists in the tenant (the command below prints its Enterprise application).',
    ],
    commands: [AZ_LOGIN, SHOW_SP],
    docs: [DOCS.MS_EXO_OAUTH, DOCS.ENTRA_SPLESS],
  },
  90002: {
    summary: 'Tenant {tenantId} was not found at {authorityHost} (AADSTS90002).',
    causes: [
      'Directory (tenant) ID has a typo, or the domain name given is not a verified domain of any tenant.',
      'The tenant is in another Microsoft cloud (GCC High, DoD, China) than the authority host in use: set Cloud accordingly.',
      'The tenant was deleted.',
    ],
    fixes: [
      'Copy the Directory (tenant) ID GUID from App registrations → the app → Overview.',
      'If the tenant is in a national cloud, set Cloud (MAILGATE_CLOUD) to gcc-high, dod or china; this sets the authority host and SMTP host together.',
      'The command below answers with the tenant\'s metadata when the tenant exists at this authority host, or with AADSTS90002 again.',
    ],
    commands: [OPENID],
    docs: [DOCS.ENTRA_NATCLOUD],
  },
  900023: {
    summary: 'Directory (tenant) ID "{tenantId}" is not a tenant GUID or domain name (AADSTS900023).',
    causes: [
      'Directory (tenant) ID is empty, malformed, or contains something else (a URL fragment, "undefined", a client ID with a typo).',
    ],
    fixes: [
      'Set Directory (tenant) ID (MAILGATE_TENANT_ID) to the GUID from App registrations → the app → Overview, or to a verified domain such as contoso.onmicrosoft.com.',
    ],
    commands: [OPENID],
    docs: [DOCS.ENTRA_CC],
  },
  90038: {
    summary: 'Tenant {tenantId} belongs to another national cloud than {authorityHost} (AADSTS90038).',
    causes: ['The tenant is in GCC High, DoD or China (21Vianet) and the request went to another cloud\'s authority host.'],
    fixes: ['Set Cloud (MAILGATE_CLOUD) to the tenant\'s cloud (gcc-high, dod or china); a token from one cloud is not accepted by another.'],
    docs: [DOCS.ENTRA_NATCLOUD],
  },
  9001023: {
    summary: 'The client-credentials grant is not supported on the /common or /consumers endpoint (AADSTS9001023).',
    causes: ['Directory (tenant) ID is set to "common", "organizations" or "consumers" instead of the tenant.'],
    fixes: ['Set Directory (tenant) ID (MAILGATE_TENANT_ID) to the tenant\'s GUID from App registrations → the app → Overview.'],
    docs: [DOCS.ENTRA_CC],
  },
  700027: {
    summary: 'The certificate assertion of application {clientId} failed signature validation (AADSTS700027).',
    causes: [
      'The certificate was never uploaded to the app registration (Certificates & secrets → Certificates), or was uploaded to another app.',
      'The PEM holds a different private key than the certificate that was uploaded (for example after a certificate renewal).',
      'The uploaded certificate was removed or has expired.',
    ],
    fixes: [
      'Upload the public certificate (.cer/.pem, without the key) to App registrations → {clientId} → Certificates & secrets → Certificates.',
      'Compare the thumbprint shown there with the thumbprint of the certificate in Client certificate (command below).',
    ],
    commands: [
      'openssl x509 -in <Client certificate PEM file> -noout -fingerprint -sha1',
      AZ_LOGIN,
      'az ad app credential list --id {clientId} --cert --query "[].{keyId:keyId, thumbprint:customKeyIdentifier, expires:endDateTime}" --output table',
    ],
    docs: [DOCS.ENTRA_CERT, DOCS.ENTRA_CREDS],
  },
  700024: {
    summary: 'The certificate assertion is not within its valid time range (AADSTS700024): this machine\'s clock is probably wrong.',
    causes: [
      'The system clock is off by minutes (no NTP), so the assertion\'s nbf/exp are in the future or past for Entra.',
      'The assertion was built with local time instead of UTC.',
    ],
    fixes: ['Synchronise the clock with NTP and send again.'],
    commands: ['timedatectl status', 'w32tm /query /status'],
    docs: [DOCS.ENTRA_CERT],
  },
  50012: {
    summary: 'Microsoft Entra ID could not authenticate application {clientId} (AADSTS50012).',
    causes: [
      'The certificate assertion has an invalid signature or was signed with a key the app does not know.',
      'A secret or certificate of another app registration was used.',
    ],
    fixes: [
      'Check that the certificate in Client certificate is the one uploaded to App registrations → {clientId} → Certificates & secrets, or use a fresh client secret.',
    ],
    commands: [AZ_LOGIN, 'az ad app credential list --id {clientId} --cert --output table'],
    docs: [DOCS.ENTRA_CERT],
  },
  700030: {
    summary: 'The certificate is not authorised for application {clientId} by subject name and issuer (AADSTS700030).',
    causes: ['The app registration trusts certificates by subject name and issuer (SN+I), and this certificate\'s subject or issuer does not match.'],
    fixes: ['Upload this certificate to the app registration, or use a certificate whose subject and issuer match the app\'s trusted subject configuration.'],
    docs: [DOCS.ENTRA_CERT],
  },
  500011: {
    summary: 'The resource in the token scope ({scope}) was not found in tenant {tenantId} (AADSTS500011).',
    causes: [
      'The scope has a typo: for SMTP it must be https://outlook.office365.com/.default (global cloud).',
      'The scope belongs to another cloud than the tenant (Cloud setting).',
      'The tenant has no Exchange Online (no licence ever assigned), so the "Office 365 Exchange Online" resource does not exist there.',
    ],
    fixes: [
      'Leave Token scope (MAILGATE_SCOPE) at its default for the cloud, or set it to https://outlook.office365.com/.default.',
      'Check that the tenant has Exchange Online: the command below must find the service principal of "Office 365 Exchange Online".',
    ],
    commands: [AZ_LOGIN, 'az ad sp show --id 00000002-0000-0ff1-ce00-000000000000 --query "{name:displayName, objectId:id}"'],
    docs: [DOCS.ENTRA_CC, DOCS.MS_EXO_OAUTH],
  },
  1002012: {
    summary: 'The token scope {scope} is not valid for the client-credentials flow (AADSTS1002012): it must end with /.default.',
    causes: ['A scope naming a single permission (such as SMTP.Send) was requested; app-only tokens take the resource with /.default.'],
    fixes: ['Set Token scope (MAILGATE_SCOPE) to https://outlook.office365.com/.default (global cloud), or remove the setting to use the cloud\'s default.'],
    docs: [DOCS.ENTRA_CC],
  },
  70011: {
    summary: 'The token scope {scope} is not valid (AADSTS70011).',
    causes: [
      'Token scope is not "<resource>/.default", or names a resource that does not exist.',
      'The delegated scope https://outlook.office.com/SMTP.Send was used; app-only sending needs https://outlook.office365.com/.default.',
    ],
    fixes: ['Set Token scope (MAILGATE_SCOPE) to https://outlook.office365.com/.default (global cloud), or remove the setting to use the cloud\'s default.'],
    docs: [DOCS.ENTRA_CC],
  },
  700022: {
    summary: 'The token request named scopes of more than one resource (AADSTS700022).',
    causes: ['Scopes for Microsoft Graph and Exchange Online were requested together; one token serves one resource.'],
    fixes: ['Request only https://outlook.office365.com/.default for SMTP (Token scope, MAILGATE_SCOPE).'],
    docs: [DOCS.ENTRA_CC],
  },
  901002: {
    summary: 'The token request used the v1 "resource" parameter on the v2 endpoint (AADSTS901002).',
    causes: ['A custom token provider sent resource= instead of scope=.'],
    fixes: ['Request the token with scope={scope} on /oauth2/v2.0/token.'],
    docs: [DOCS.ENTRA_CC],
  },
  900144: {
    summary: 'The token request is missing a required parameter (AADSTS900144).',
    causes: ['A custom token provider built an incomplete request (client_id, scope, grant_type or the credential missing).'],
    fixes: ['Use Mailgate\'s built-in token provider, or check the request of the custom one against the client-credentials documentation.'],
    docs: [DOCS.ENTRA_CC],
  },
  7000112: {
    summary: 'Application {clientId} is disabled in tenant {tenantId} (AADSTS7000112).',
    causes: ['The Enterprise application was disabled ("Enabled for users to sign-in?" set to No), or the app was disabled by an administrator or by Microsoft.'],
    fixes: [
      'In Microsoft Entra ID → Enterprise applications → the app {clientId} → Properties, set "Enabled for users to sign-in?" to Yes.',
      'If Microsoft disabled the app, the Entra admin center shows why; resolve that first.',
    ],
    commands: [AZ_LOGIN, 'az ad sp update --id {clientId} --set accountEnabled=true'],
    docs: [DOCS.ENTRA_ERR],
  },
  70001: {
    summary: 'Application {clientId} is disabled or not usable in tenant {tenantId} (AADSTS70001).',
    causes: ['The Enterprise application is disabled in the tenant.'],
    fixes: ['In Microsoft Entra ID → Enterprise applications → the app {clientId} → Properties, set "Enabled for users to sign-in?" to Yes.'],
    commands: [AZ_LOGIN, SHOW_SP, 'az ad sp update --id {clientId} --set accountEnabled=true'],
    docs: [DOCS.ENTRA_ERR],
  },
  53003: {
    summary: 'A Conditional Access policy blocked the token request of application {clientId} (AADSTS53003).',
    causes: [
      'A Conditional Access policy for workload identities blocks this app, typically by location (this server\'s outbound IP address is not in a trusted location).',
    ],
    fixes: [
      'In Microsoft Entra ID → Sign-in logs → Service principal sign-ins, open the failed sign-in of {clientId} and read which policy applied.',
      'Add this server\'s outbound IP address to the trusted named location, or exclude the app from the policy, as your security policy allows.',
    ],
    docs: [DOCS.ENTRA_ERR],
  },
  530035: {
    summary: 'Security defaults blocked the token request (AADSTS530035).',
    causes: ['Entra security defaults consider the request unsafe or legacy.'],
    fixes: ['Check the Service principal sign-ins log for {clientId}; do not weaken security defaults, fix the request it objects to.'],
    docs: [DOCS.ENTRA_ERR],
  },
  50196: {
    summary: 'Microsoft Entra ID detected a token request loop (AADSTS50196): too many identical token requests.',
    causes: [
      'Several processes or a restart loop request a new token for every message instead of reusing a cached one.',
    ],
    fixes: [
      'Wait a minute; Mailgate retries later on its own.',
      'Run one Mailgate instance per credential, or make sure the instances do not restart in a loop.',
    ],
    docs: [DOCS.ENTRA_CC],
  },
  90055: {
    summary: 'Microsoft Entra ID throttled token requests for tenant {tenantId} (AADSTS90055).',
    causes: ['Too many token requests were sent for the tenant in a short time.'],
    fixes: ['Wait; Mailgate retries later on its own, honouring Retry-After.', 'Reduce the number of processes requesting tokens.'],
    docs: [DOCS.ENTRA_ERR],
  },
  650057: {
    summary: 'Application {clientId} asks for a permission that is not configured or not consented (AADSTS650057).',
    causes: ['The Office 365 Exchange Online permission is not in the app\'s API permissions, or admin consent was not granted.'],
    fixes: ['In App registrations → {clientId} → API permissions, add Office 365 Exchange Online → Application permissions → SMTP.SendAsApp and click "Grant admin consent".'],
    docs: [DOCS.MS_EXO_OAUTH],
  },
  500021: {
    summary: 'Tenant restrictions on this network block access to tenant {tenantId} (AADSTS500021).',
    causes: ['A proxy on this network injects a Restrict-Access-To-Tenant header that does not allow the tenant.'],
    fixes: ['Ask the network team to allow tenant {tenantId} in the proxy\'s tenant restrictions, or bypass the proxy for {authorityHostName}.'],
    docs: [DOCS.ENTRA_ERR],
  },
};

/** Codes explained by another code's row (same cause, same fix). */
const ALIASES: Record<number, number> = { 650056: 650057, 500022: 500021 };

function build(code: number, row: Row): DiagnosisRule {
  const docs = [...(row.docs ?? []), DOCS.ENTRA_ERR, aadstsLookup(code)];
  return { id: `aadsts-${code}`, ...row, docs: docs.filter((d, i) => docs.indexOf(d) === i) };
}

const RULES = new Map<number, DiagnosisRule>(Object.entries(ROWS).map(([code, row]) => [Number(code), build(Number(code), row)]));

/** The rule for an AADSTS code, or undefined when the table has none. */
export function aadstsRule(code: number): DiagnosisRule | undefined {
  const own = RULES.get(code);
  if (own) return own;
  const alias = ALIASES[code];
  const row = alias === undefined ? undefined : ROWS[alias];
  return row ? build(code, row) : undefined;
}

/** The AADSTS codes that have their own row (for docs and tests). */
export const AADSTS_CODES: readonly number[] = [...RULES.keys(), ...Object.keys(ALIASES).map(Number)];

/** The explanation for an AADSTS code the table does not know. */
export function unknownAadstsRule(code: number): DiagnosisRule {
  return {
    id: 'aadsts-unknown',
    summary: `Microsoft Entra ID refused to issue a token (AADSTS${code}).`,
    causes: [`AADSTS${code} is not in Mailgate's table; Microsoft's page for the code explains it.`],
    fixes: [
      `Look the code up at ${aadstsLookup(code)}.`,
      'Check the failed sign-in in Microsoft Entra ID → Sign-in logs → Service principal sign-ins for application {clientId}.',
    ],
    docs: [aadstsLookup(code), DOCS.ENTRA_ERR],
  };
}
