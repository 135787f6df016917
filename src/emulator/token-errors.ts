/**
 * Entra ID token-endpoint errors exactly as Microsoft sends them: the JSON body (`error`,
 * `error_description` = `AADSTSnnnn: text\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ...`,
 * `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`) and the HTTP status
 * (`invalid_client` is 401, everything else 400).
 *
 * Why it exists: clients (MSAL, the product's token code, the doctor) act on these exact
 * fields; keeping every code's `error` value and description text in one table makes them
 * reviewable against the reference (docs/m365.md §7).
 *
 * Imports: ./ids.ts only.
 */
import { newGuid } from './ids.js';

/** The AADSTS codes the emulator can return. */
export type AadstsCode =
  | 90002 | 900023 | 700016 | 7000215 | 7000222 | 7000218 | 700027 | 700024 | 7000112
  | 1002012 | 700022 | 500011 | 900144 | 9001023 | 70003 | 901002 | 90033 | 90055;

type Params = Record<string, string>;

interface CatalogueEntry {
  error: string;
  /** HTTP status (Entra answers `invalid_client` with 401). */
  status?: number;
  describe(p: Params): string;
}

/** Description texts as Entra words them (docs/m365.md §7 and the observed replies it cites). */
const CATALOGUE: Record<AadstsCode, CatalogueEntry> = {
  90002: { error: 'invalid_request', describe: (p) => `Tenant '${p['tenant']}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.` },
  900023: { error: 'invalid_request', describe: (p) => `Specified tenant identifier '${p['tenant']}' is neither a valid DNS name, nor a valid external domain.` },
  700016: { error: 'unauthorized_client', describe: (p) => `Application with identifier '${p['appId']}' was not found in the directory '${p['tenantName']}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.` },
  7000215: { error: 'invalid_client', status: 401, describe: (p) => `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${p['appId']}'.` },
  7000222: { error: 'invalid_client', status: 401, describe: (p) => `The provided client secret keys for app '${p['appId']}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.` },
  7000218: { error: 'invalid_client', status: 401, describe: () => `The request body must contain the following parameter: 'client_assertion' or 'client_secret'.` },
  700027: { error: 'invalid_client', status: 401, describe: (p) => p['detail'] ?? 'Client assertion failed signature validation.' },
  700024: { error: 'invalid_client', status: 401, describe: (p) => `Client assertion is not within its valid time range. Current time: ${p['now']}, assertion valid from ${p['nbf']}, expiry time of assertion ${p['exp']}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .` },
  7000112: { error: 'unauthorized_client', describe: (p) => `Application '${p['appId']}'(${p['displayName']}) is disabled.` },
  1002012: { error: 'invalid_scope', describe: (p) => `The provided value for scope ${p['scope']} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).` },
  700022: { error: 'invalid_scope', describe: (p) => `The provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${p['scope']} is not valid.` },
  500011: { error: 'invalid_resource', describe: (p) => `The resource principal named ${p['resource']} was not found in the tenant named ${p['tenantName']}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.` },
  900144: { error: 'invalid_request', describe: (p) => `The request body must contain the following parameter: '${p['name']}'.` },
  9001023: { error: 'invalid_request', describe: () => `The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.` },
  70003: { error: 'unsupported_grant_type', describe: (p) => `The app requested an unsupported grant type '${p['grantType']}'.` },
  901002: { error: 'invalid_request', describe: () => `The 'resource' request parameter is not supported.` },
  // The two below are only sent by scripted faults (see faults.ts); the codes are Entra's transient/throttling ones.
  90033: { error: 'temporarily_unavailable', describe: () => 'A transient error has occurred. Please try again.' },
  90055: { error: 'temporarily_unavailable', describe: () => 'TenantThrottlingError: There are too many incoming requests. Please try again later.' },
};

export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
}

/** Entra's timestamp format: `2024-05-01 12:34:56Z`. */
export const entraTimestamp = (date: Date): string => `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;

/**
 * Builds the status and JSON body of an Entra error. `status` overrides the catalogue's (for
 * faults); `error` overrides the `error` field (the metadata endpoint says `invalid_tenant`).
 */
export function entraError(code: AadstsCode, params: Params, context: { now: Date; correlationId?: string; status?: number; error?: string }): { status: number; body: EntraErrorBody } {
  const entry = CATALOGUE[code];
  const timestamp = entraTimestamp(context.now);
  const traceId = newGuid();
  const correlationId = context.correlationId ?? newGuid();
  return {
    status: context.status ?? entry.status ?? 400,
    body: {
      error: context.error ?? entry.error,
      error_description: `AADSTS${code}: ${entry.describe(params)}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}
