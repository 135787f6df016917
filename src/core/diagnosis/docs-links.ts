/**
 * Links to Microsoft documentation that the diagnosis rules cite.
 *
 * Why: one place for every address, so a moved page is fixed once. The keys follow the
 * source keys of docs/m365.md (its Sources table), which is where each fact
 * in the rule tables comes from.
 *
 * Imports: nothing.
 */

const LEARN = 'https://learn.microsoft.com';
const EXO_PS = `${LEARN}/powershell/module/exchangepowershell`;
const NDR = `${LEARN}/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online`;

export const DOCS = {
  /** How to authenticate an IMAP, POP or SMTP application by using OAuth (the set-up guide). */
  MS_EXO_OAUTH: `${LEARN}/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth`,
  MS_SMTP_RBAC: `${LEARN}/exchange/client-developer/legacy-protocols/smtp-app-rbac-onboarding`,
  PS_NEWSP: `${EXO_PS}/new-serviceprincipal`,
  PS_GETSP: `${EXO_PS}/get-serviceprincipal`,
  PS_ADDMBXPERM: `${EXO_PS}/add-mailboxpermission`,
  PS_ADDRCPTPERM: `${EXO_PS}/add-recipientpermission`,
  PS_SETCAS: `${EXO_PS}/set-casmailbox`,
  PS_SETTRANSPORT: `${EXO_PS}/set-transportconfig`,
  PS_NEWMRA: `${EXO_PS}/new-managementroleassignment`,
  ENTRA_CC: `${LEARN}/entra/identity-platform/v2-oauth2-client-creds-grant-flow`,
  ENTRA_ERR: `${LEARN}/entra/identity-platform/reference-error-codes`,
  ENTRA_CREDS: `${LEARN}/entra/identity-platform/how-to-add-credentials`,
  ENTRA_CERT: `${LEARN}/entra/identity-platform/certificate-credentials`,
  ENTRA_NATCLOUD: `${LEARN}/entra/identity-platform/authentication-national-cloud`,
  ENTRA_CLAIMS: `${LEARN}/entra/identity-platform/access-token-claims-reference`,
  ENTRA_SPLESS: `${LEARN}/entra/identity-platform/deprecate-service-principal-less-authentication`,
  SUP_SMTP_SUB: `${LEARN}/exchange/troubleshoot/send-emails/smtp-submission-improvements`,
  SUP_PRINTERS: `${LEARN}/exchange/troubleshoot/email-delivery/fix-issues-with-printers-scanners-and-lob-applications-that-send-email-using-off`,
  EXO_SMTPAUTH: `${LEARN}/exchange/clients-and-mobile-in-exchange-online/authenticated-client-smtp-submission`,
  EXO_CONT_ERR: `${LEARN}/exchange/mail-flow-best-practices/continuous-error-throttling-smtp-auth-submissions`,
  EXO_NDR: `${NDR}/non-delivery-reports-in-exchange-online`,
  EXO_NDR_700: `${NDR}/fix-error-code-5-7-700-through-5-7-750`,
  EXO_NDR_QUOTA: `${NDR}/fix-error-for-submission-quota-exceeded-in-exchange-online`,
  DEF_LIMITS: `${LEARN}/defender-office-365/outbound-spam-sending-limits-troubleshoot`,
  M365_ENDPOINTS: `${LEARN}/microsoft-365/enterprise/urls-and-ip-address-ranges`,
  BLOG_BASIC_2026: 'https://techcommunity.microsoft.com/blog/exchange/updated-exchange-online-smtp-auth-basic-authentication-deprecation-timeline/4489835',
  /** The short links Exchange Online puts in its own replies. */
  AKA_SMTP_AUTH_DISABLED: 'https://aka.ms/smtp_auth_disabled',
  AKA_SMTP_AUTH_TLS: 'https://aka.ms/smtp_auth_tls',
} as const;

/** Entra's own lookup page for one AADSTS code (the `error_uri` of a token error). */
export function aadstsLookup(code: number): string {
  return `https://login.microsoftonline.com/error?code=${code}`;
}
