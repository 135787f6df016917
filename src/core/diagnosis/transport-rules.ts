/**
 * Failures without a server reply → what went wrong and the fix: our own error codes
 * (CONNECT_TIMEOUT, CONNECT_FAILED, GREETING_TIMEOUT, STARTTLS_UNAVAILABLE, TLS_FAILED,
 * CONNECTION_LOST, TOKEN_UNAVAILABLE, TOKEN_REJECTED without an AADSTS code, AUTH_FAILED,
 * SETTINGS_INVALID, ARGUMENT_INVALID, INTERRUPTED, INTERNAL), refined by the low-level signal (ECONNREFUSED,
 * ENOTFOUND, which certificate error, HTTP status of the token endpoint).
 *
 * Why: the most common first-day failure is a firewall silently dropping outbound port 587,
 * which looks to the application like a bare timeout. Each row says what the network is doing
 * and gives the commands that prove it from the same machine (Test-NetConnection, nc, openssl).
 * Ordered: first match wins; specific signals before the generic row of each code.
 *
 * This file is a table and is longer than ~300 lines on purpose (one self-contained row per
 * failure).
 *
 * Imports: nothing outside src/core.
 */
import type { ErrorCode, TokenEndpointReply } from '../errors.js';
import { DOCS } from './docs-links.js';
import { hasGroup, type Signals } from './signals.js';
import { SMTP_PERMANENT_RULE, SMTP_TRANSIENT_RULE } from './smtp-rules.js';
import type { DiagnosisRule } from './types.js';

export interface TransportMatcher {
  /** The MailgateError codes this row explains. */
  codes: readonly ErrorCode[];
  /** An extra condition on the low-level signals and the token endpoint's answer. */
  when?: (signals: Signals, token: TokenEndpointReply | undefined) => boolean;
  rule: DiagnosisRule;
}

const TEST_NET = 'Test-NetConnection -ComputerName {smtpHost} -Port {smtpPort}';
const NC = 'nc -vz -w 10 {smtpHost} {smtpPort}';
const OPENSSL = 'openssl s_client -starttls smtp -connect {smtpHost}:{smtpPort} -servername {smtpHost} -brief';
const TEST_AUTHORITY = 'Test-NetConnection -ComputerName {authorityHostName} -Port {authorityPort}';
const CURL_AUTHORITY = "curl -sS -o /dev/null -w '%{http_code}\\n' {authorityHost}/{tenantId}/v2.0/.well-known/openid-configuration";
const DNS = ['nslookup {smtpHost}', 'Resolve-DnsName {smtpHost}'];
const NODE_EXTRA_CA = 'If your organisation inspects TLS with its own certificate authority, give Mailgate that CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem (never turn certificate checks off).';
const SMTP_ENDPOINT_FIX = 'Use SMTP Client Server smtp.office365.com and Port 587 (global cloud); other clouds: set Cloud and leave SMTP Client Server at its default.';

/** The classic: outbound 587 dropped by a firewall. Shared by CONNECT_TIMEOUT and a timed-out CONNECT_FAILED. */
const CONNECT_TIMEOUT_RULE: DiagnosisRule = {
  id: 'connect-timeout',
  summary: 'The connection to {smtpHost} on port {smtpPort} timed out: nothing answered, which usually means a firewall drops outbound traffic to that port.',
  causes: [
    'A firewall, security group or proxy blocks outbound TCP port {smtpPort} to {smtpHost} (many networks and cloud providers block outbound SMTP ports).',
    'The machine has no route to the internet, or outbound traffic must go through a proxy that Mailgate does not use.',
    'SMTP Client Server or Port is wrong (Microsoft 365 submission is smtp.office365.com, port 587).',
  ],
  fixes: [
    'From this machine, test the port with the commands below. A timeout there too confirms the network blocks it.',
    'Ask the network team to allow outbound TCP {smtpPort} to {smtpHost} (Microsoft publishes the endpoint ranges in "Microsoft 365 URLs and IP address ranges").',
    SMTP_ENDPOINT_FIX,
  ],
  commands: [TEST_NET, NC],
  docs: [DOCS.M365_ENDPOINTS, DOCS.SUP_PRINTERS],
};

const untrustedTls = (s: Signals) => hasGroup(s, 'tlsUntrusted');

export const TRANSPORT_MATCHERS: readonly TransportMatcher[] = [
  // ---- Connecting ----
  { codes: ['CONNECT_TIMEOUT'], rule: CONNECT_TIMEOUT_RULE },
  {
    codes: ['CONNECT_FAILED'],
    when: (s) => hasGroup(s, 'dns'),
    rule: {
      id: 'connect-dns',
      summary: 'The SMTP host name {smtpHost} could not be resolved (DNS).',
      causes: [
        'SMTP Client Server has a typo.',
        'This machine\'s DNS resolver is not working or cannot resolve internet names.',
      ],
      fixes: ['Check SMTP Client Server (smtp.office365.com for the global cloud).', 'Check DNS from this machine with the commands below.'],
      commands: DNS,
      docs: [DOCS.M365_ENDPOINTS],
    },
  },
  {
    codes: ['CONNECT_FAILED'],
    when: (s) => hasGroup(s, 'refused'),
    rule: {
      id: 'connect-refused',
      summary: 'The connection to {smtpHost} on port {smtpPort} was refused: nothing listens there, or a firewall rejects it.',
      causes: [
        'Port is wrong (Microsoft 365 submission listens on 587).',
        'A local firewall or proxy actively rejects outbound connections to port {smtpPort}.',
        'SMTP Client Server points to a machine that runs no SMTP service.',
      ],
      fixes: [SMTP_ENDPOINT_FIX, 'Test the port from this machine with the commands below.'],
      commands: [TEST_NET, NC],
      docs: [DOCS.M365_ENDPOINTS],
    },
  },
  { codes: ['CONNECT_FAILED'], when: (s) => hasGroup(s, 'timeout'), rule: CONNECT_TIMEOUT_RULE },
  {
    codes: ['CONNECT_FAILED'],
    when: (s) => hasGroup(s, 'unreachable'),
    rule: {
      id: 'connect-unreachable',
      summary: 'This machine has no network route to {smtpHost} (host or network unreachable).',
      causes: ['No internet access from this machine, or a local firewall policy forbids the connection.'],
      fixes: ['Check the machine\'s network and outbound firewall rules for TCP {smtpPort} to {smtpHost}.'],
      commands: [TEST_NET, NC],
      docs: [DOCS.M365_ENDPOINTS],
    },
  },
  {
    codes: ['CONNECT_FAILED'],
    rule: {
      id: 'connect-failed',
      summary: 'The connection to {smtpHost} on port {smtpPort} failed.',
      causes: ['A network problem between this machine and {smtpHost}: DNS, firewall or proxy.'],
      fixes: ['Test name resolution and the port from this machine with the commands below.', SMTP_ENDPOINT_FIX],
      commands: [...DNS.slice(0, 1), TEST_NET, NC],
      docs: [DOCS.M365_ENDPOINTS],
    },
  },
  {
    codes: ['GREETING_TIMEOUT'],
    rule: {
      id: 'greeting-timeout',
      summary: '{smtpHost}:{smtpPort} accepted the connection but never sent the SMTP greeting.',
      causes: [
        'Port {smtpPort} expects TLS from the first byte (port 465); Microsoft 365 submission uses port 587 with STARTTLS.',
        'A proxy, load balancer or antivirus "mail shield" accepts the connection and then holds it.',
        'The server behind SMTP Client Server is not an SMTP server or is overloaded.',
      ],
      fixes: ['Set Port to 587.', 'Check that something between this machine and {smtpHost} does not intercept SMTP; the commands below show the greeting the server sends.'],
      commands: [NC, OPENSSL],
      docs: [DOCS.SUP_PRINTERS],
    },
  },
  {
    codes: ['STARTTLS_UNAVAILABLE'],
    rule: {
      id: 'starttls-unavailable',
      summary: '{smtpHost}:{smtpPort} did not offer STARTTLS, so Mailgate sent no credentials (they must never cross an unencrypted connection).',
      causes: [
        'A firewall with SMTP inspection ("ESMTP inspection", "SMTP fixup") hides STARTTLS from the server\'s capability list.',
        'SMTP Client Server points to another server than Microsoft 365 (a local relay without TLS).',
      ],
      fixes: [
        'Turn off SMTP inspection for Mailgate\'s traffic on the firewall.',
        SMTP_ENDPOINT_FIX,
        'The command below shows whether STARTTLS works from this machine.',
      ],
      commands: [OPENSSL],
      docs: [DOCS.SUP_PRINTERS],
    },
  },
  // ---- TLS ----
  {
    codes: ['TLS_FAILED'],
    when: untrustedTls,
    rule: {
      id: 'tls-untrusted-certificate',
      summary: 'The certificate presented for {smtpHost} is not trusted: something between this machine and Microsoft 365 is intercepting TLS.',
      causes: [
        'A TLS-inspecting proxy or firewall replaces Microsoft\'s certificate with one signed by your organisation\'s own certificate authority.',
        'SMTP Client Server points to a server with a self-signed certificate.',
      ],
      fixes: [NODE_EXTRA_CA, 'Or exempt {smtpHost} from TLS inspection.', 'The command below shows who issued the certificate this machine receives.'],
      commands: [OPENSSL],
      docs: [DOCS.SUP_PRINTERS],
    },
  },
  {
    codes: ['TLS_FAILED'],
    when: (s) => hasGroup(s, 'tlsHostname'),
    rule: {
      id: 'tls-hostname-mismatch',
      summary: 'The certificate presented does not belong to {smtpHost} (host name mismatch).',
      causes: [
        'SMTP Client Server is an IP address or an alias that is not in the certificate (use the name smtp.office365.com).',
        'A proxy answers with its own certificate.',
      ],
      fixes: [SMTP_ENDPOINT_FIX, 'The command below shows the names in the certificate this machine receives.'],
      commands: [OPENSSL],
      docs: [DOCS.SUP_PRINTERS],
    },
  },
  {
    codes: ['TLS_FAILED'],
    when: (s) => hasGroup(s, 'tlsExpired'),
    rule: {
      id: 'tls-certificate-expired',
      summary: 'The certificate presented for {smtpHost} is expired or not yet valid.',
      causes: ['This machine\'s clock is wrong.', 'A TLS-inspecting proxy presents an expired certificate.'],
      fixes: ['Synchronise the clock with NTP.', 'Check the certificate with the command below.'],
      commands: ['timedatectl status', OPENSSL],
      docs: [DOCS.SUP_PRINTERS],
    },
  },
  {
    codes: ['TLS_FAILED'],
    when: (s) => hasGroup(s, 'tlsVersion'),
    rule: {
      id: 'tls-version',
      summary: 'The TLS handshake with {smtpHost}:{smtpPort} failed on the protocol version: Mailgate requires TLS 1.2 or later.',
      causes: [
        'The server (or a device in between) offers only TLS 1.0/1.1, which Microsoft 365 itself no longer accepts.',
        'The port answered in plain text where TLS was expected (a port/TLS mode mismatch, e.g. port 465 vs 587).',
      ],
      fixes: [SMTP_ENDPOINT_FIX, 'Update or bypass the device that downgrades TLS.', 'The command below tests TLS 1.2 from this machine.'],
      commands: ['openssl s_client -starttls smtp -connect {smtpHost}:{smtpPort} -tls1_2 -brief'],
      docs: [DOCS.AKA_SMTP_AUTH_TLS, DOCS.SUP_PRINTERS],
    },
  },
  {
    codes: ['TLS_FAILED'],
    rule: {
      id: 'tls-failed',
      summary: 'The TLS handshake with {smtpHost}:{smtpPort} failed.',
      causes: ['A TLS-inspecting proxy or firewall, an untrusted certificate, or a TLS version below 1.2.'],
      fixes: [NODE_EXTRA_CA, SMTP_ENDPOINT_FIX, 'The command below shows the handshake from this machine.'],
      commands: [OPENSSL],
      docs: [DOCS.SUP_PRINTERS],
    },
  },
  {
    codes: ['CONNECTION_LOST'],
    rule: {
      id: 'connection-lost',
      summary: 'The connection to {smtpHost} closed or stalled in the middle of the SMTP dialogue.',
      causes: [
        'A network interruption, or a firewall/NAT that drops idle connections.',
        'The server closed the connection (maintenance, or too many errors on it).',
      ],
      fixes: ['Nothing to do for one message: Mailgate reconnects and sends again.', 'If it keeps happening, check the firewall\'s idle timeout for connections to {smtpHost}:{smtpPort}.'],
      commands: [TEST_NET],
    },
  },
  // ---- Token endpoint without an AADSTS code ----
  {
    codes: ['TOKEN_UNAVAILABLE', 'TOKEN_REJECTED'],
    when: (_s, t) => t?.status === 429,
    rule: {
      id: 'token-unavailable-throttled',
      summary: 'Microsoft Entra ID is throttling token requests (HTTP 429).',
      causes: ['Too many token requests for this app or tenant in a short time (several instances, or a restart loop).'],
      fixes: ['Nothing to do for one message: Mailgate waits as long as Retry-After says and asks again.', 'Run one Mailgate instance per credential, so tokens are reused.'],
      docs: [DOCS.ENTRA_ERR],
    },
  },
  {
    codes: ['TOKEN_UNAVAILABLE', 'TOKEN_REJECTED'],
    when: (_s, t) => (t?.status ?? 0) >= 500 || t?.error === 'temporarily_unavailable',
    rule: {
      id: 'token-unavailable-server',
      summary: 'Microsoft Entra ID answered the token request with a server error (HTTP 5xx).',
      causes: ['A transient problem at Microsoft Entra ID, or a proxy in between failing.'],
      fixes: ['Nothing to do for one message: Mailgate retries with backoff.', 'If it lasts, check the Microsoft 365/Azure service health and any proxy between this machine and {authorityHostName}.'],
      commands: [CURL_AUTHORITY],
      docs: [DOCS.ENTRA_CC],
    },
  },
  {
    codes: ['TOKEN_UNAVAILABLE'],
    when: untrustedTls,
    rule: {
      id: 'token-unavailable-tls',
      summary: 'The certificate presented for {authorityHostName} is not trusted: something is intercepting TLS to Microsoft Entra ID.',
      causes: ['A TLS-inspecting proxy re-signs traffic with your organisation\'s own certificate authority.'],
      fixes: [NODE_EXTRA_CA, 'Or exempt {authorityHostName} from TLS inspection.'],
      commands: ['openssl s_client -connect {authorityHostName}:{authorityPort} -servername {authorityHostName} -brief'],
      docs: [DOCS.M365_ENDPOINTS],
    },
  },
  {
    codes: ['TOKEN_UNAVAILABLE'],
    rule: {
      id: 'token-unavailable-network',
      summary: 'Mailgate could not reach the token endpoint at {authorityHost}.',
      causes: [
        'Outbound HTTPS (port {authorityPort}) to {authorityHostName} is blocked by a firewall, or must go through a proxy.',
        'DNS cannot resolve {authorityHostName}.',
        'Authority host is wrong for the tenant\'s cloud (set Cloud rather than the host).',
      ],
      fixes: [
        'Test the token endpoint from this machine with the commands below (a 200 from curl means it is reachable).',
        'Allow outbound HTTPS from this machine to {authorityHostName} (Microsoft publishes the endpoints in "Microsoft 365 URLs and IP address ranges").',
      ],
      commands: [TEST_AUTHORITY, CURL_AUTHORITY],
      docs: [DOCS.M365_ENDPOINTS, DOCS.ENTRA_NATCLOUD],
    },
  },
  {
    codes: ['TOKEN_REJECTED'],
    rule: {
      id: 'token-rejected',
      summary: 'Microsoft Entra ID refused to issue a token to application {clientId}.',
      causes: [
        'The client credentials (secret or certificate), the client ID or the tenant are wrong.',
      ],
      fixes: [
        'Check Application (client) ID, Directory (tenant) ID and Client Secret against App registrations → the app → Overview and Certificates & secrets.',
        'The failed sign-in appears in Microsoft Entra ID → Sign-in logs → Service principal sign-ins, with the reason.',
      ],
      docs: [DOCS.ENTRA_ERR, DOCS.ENTRA_CC],
    },
  },
  // ---- Codes whose server reply was missing ----
  {
    codes: ['AUTH_FAILED'],
    rule: {
      id: 'auth-failed',
      summary: 'The SMTP server refused the sign-in as {authorizedFrom}.',
      causes: [
        'Exchange Online has no service principal for application {clientId}, or it was registered with the App registrations Object ID instead of the Enterprise applications Object ID.',
        'The service principal has no FullAccess on {authorizedFrom}, or admin consent for SMTP.SendAsApp is missing.',
      ],
      fixes: ['Run `mailgate doctor`: it checks every step and prints the fix with your IDs.'],
      commands: ['Connect-ExchangeOnline -Organization {tenantId}', 'Get-ServicePrincipal | Where-Object AppId -eq {clientId} | Format-List'],
      docs: [DOCS.MS_EXO_OAUTH],
    },
  },
  { codes: ['SMTP_TRANSIENT'], rule: SMTP_TRANSIENT_RULE },
  { codes: ['SMTP_REJECTED'], rule: SMTP_PERMANENT_RULE },
  // ---- Before any network call ----
  {
    codes: ['SETTINGS_INVALID'],
    rule: {
      id: 'settings-invalid',
      summary: 'Some settings are missing or invalid; nothing was sent.',
      causes: ['The Email Settings (or their MAILGATE_* environment variables) are incomplete or have a wrong format.'],
      fixes: ['Correct each setting listed below, then send again.'],
    },
  },
  {
    codes: ['ARGUMENT_INVALID'],
    rule: {
      id: 'argument-invalid',
      summary: 'The message or a command-line argument is invalid; nothing was sent.',
      causes: ['An address is malformed, or a field contains a line break (which could inject mail headers).'],
      fixes: ['Correct each field listed below, then send again.'],
    },
  },
  {
    codes: ['INTERRUPTED'],
    rule: {
      id: 'send-interrupted',
      summary: 'Mailgate stopped this send itself; the message goes back to the queue and is sent again.',
      causes: [
        'The service was stopping and the send was still waiting or running after the shutdown grace period.',
        'The Email Settings changed while the message waited for a connection of the old settings.',
        'The delivery thread ended unexpectedly and was restarted (see the service log).',
      ],
      fixes: ['Nothing to do when it is rare. If the log shows the delivery thread ending repeatedly, report it with the log lines around it.'],
    },
  },
  {
    codes: ['INTERNAL'],
    rule: {
      id: 'internal-error',
      summary: 'Mailgate hit an unexpected internal error.',
      causes: ['A bug in Mailgate or one of its libraries.'],
      fixes: ['Run `mailgate doctor` and report the problem with its output (it never contains secrets).'],
    },
  },
];

/** For anything that is not a MailgateError and has no recognisable network signal. */
export const UNKNOWN_ERROR_RULE: DiagnosisRule = {
  id: 'unknown-error',
  summary: 'An unexpected error occurred; Mailgate cannot tell more from it.',
  causes: ['An error that Mailgate did not classify (a library or environment problem).'],
  fixes: ['Run `mailgate doctor` to check settings, network, token and sign-in step by step.'],
};

/** The first row for a MailgateError code and its signals. */
export function matchTransport(code: ErrorCode, signals: Signals, token: TokenEndpointReply | undefined): TransportMatcher | undefined {
  return TRANSPORT_MATCHERS.find((m) => m.codes.includes(code) && (m.when === undefined || m.when(signals, token)));
}
