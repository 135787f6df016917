/**
 * One client-credentials token request to Microsoft Entra ID, through Microsoft's own library
 * (@azure/msal-node), which builds the request and signs certificate assertions.
 *
 * MSAL is configured so it sends exactly one request, the token POST:
 * - static `authorityMetadata` + `knownAuthorities`, so there is no instance or OpenID discovery.
 *   Without it, an unknown tenant makes MSAL report only `endpoints_resolution_error`, and the
 *   administrator would never see Entra's AADSTS90002 (docs/dependencies.md §2);
 * - a network module of ours (node:https) that accepts an extra CA, applies an idle timeout and
 *   an overall deadline, caps the response body at 1 MB (https-request.ts), and
 *   records the raw response, so errors are built from what Entra sent (token-errors.ts);
 * - a fresh application object per request: Mailgate's TokenProvider owns caching,
 *   single-flight and retries, and a fresh object means MSAL's own 60 s throttle cache after
 *   a 503/429 cannot turn our backoff into a local error without a request.
 */
import { ConfidentialClientApplication, LogLevel, type Configuration } from '@azure/msal-node';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-common';
import { tokenEndpoint } from '../core/clouds.js';
import type { AccessToken } from '../core/ports.js';
import type { Secret } from '../core/secret.js';
import type { ClientCertificate } from './client-certificate.js';
import { httpsRequest, type HttpsResponse } from './https-request.js';
import { tokenErrorFromNetwork, tokenErrorFromResponse, type TokenRequestContext } from './token-errors.js';
import { MailgateError } from '../core/errors.js';
import { scrubText } from '../core/secret.js';

export interface EntraCredentialConfig {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  scope: string;
  clientSecret?: Secret;
  certificate?: ClientCertificate;
  ca?: string | Buffer;
  timeoutMs?: number;
}

class RecordingNetworkClient implements INetworkModule {
  last?: HttpsResponse;
  networkError?: unknown;
  constructor(private readonly ca: string | Buffer | undefined, private readonly timeoutMs: number) {}

  private async send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    try {
      const res = await httpsRequest(url, { method, headers: options?.headers, body: options?.body, ca: this.ca, timeoutMs: this.timeoutMs });
      this.last = res;
      let body: unknown;
      try {
        body = JSON.parse(res.body);
      } catch {
        body = {};
      }
      return { status: res.status, headers: res.headers, body: body as T };
    } catch (e) {
      this.networkError = e;
      throw e;
    }
  }

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }
}

/** Request one access token. Throws MailgateError TOKEN_REJECTED or TOKEN_UNAVAILABLE. */
export async function requestEntraToken(cfg: EntraCredentialConfig): Promise<AccessToken> {
  const authorityHost = cfg.authorityHost.replace(/\/+$/, '');
  const endpoint = tokenEndpoint(authorityHost, cfg.tenantId);
  const tenantPath = `${authorityHost}/${encodeURIComponent(cfg.tenantId)}`;
  const ctx: TokenRequestContext = {
    tenantId: cfg.tenantId,
    clientId: cfg.clientId,
    tokenEndpoint: endpoint,
    secrets: [cfg.clientSecret?.reveal(), cfg.certificate?.privateKeyPem].filter((v): v is string => !!v),
  };
  const network = new RecordingNetworkClient(cfg.ca, cfg.timeoutMs ?? 30000);
  const config: Configuration = {
    auth: {
      clientId: cfg.clientId,
      authority: tenantPath,
      knownAuthorities: [new URL(authorityHost).host],
      authorityMetadata: JSON.stringify({
        token_endpoint: endpoint,
        authorization_endpoint: `${tenantPath}/oauth2/v2.0/authorize`,
        issuer: `${tenantPath}/v2.0`,
        jwks_uri: `${tenantPath}/discovery/v2.0/keys`,
        end_session_endpoint: `${tenantPath}/oauth2/v2.0/logout`,
      }),
      ...(cfg.certificate
        ? {
            clientCertificate: {
              thumbprintSha256: cfg.certificate.thumbprintSha256,
              privateKey: cfg.certificate.privateKeyPem,
              x5c: cfg.certificate.certificatePem,
            },
          }
        : { clientSecret: cfg.clientSecret?.reveal() }),
    },
    system: {
      networkClient: network,
      loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined },
    },
  };
  let result;
  try {
    const app = new ConfidentialClientApplication(config);
    result = await app.acquireTokenByClientCredential({ scopes: [cfg.scope], skipCache: true });
  } catch (err) {
    if (network.last && network.last.status >= 400) throw tokenErrorFromResponse(network.last, ctx);
    if (network.networkError) throw tokenErrorFromNetwork(network.networkError, ctx);
    throw new MailgateError({
      code: 'TOKEN_REJECTED',
      phase: 'token',
      message: scrubText(`Token request failed before reaching Entra ID: ${(err as Error)?.message ?? String(err)}`, ctx.secrets),
      context: { tenantId: cfg.tenantId, clientId: cfg.clientId, tokenEndpoint: endpoint },
      cause: err,
    });
  }
  if (!result?.accessToken) {
    throw new MailgateError({ code: 'TOKEN_REJECTED', phase: 'token', message: 'The token endpoint answered without an access token', context: { tokenEndpoint: endpoint } });
  }
  const expiresAt = result.expiresOn ? result.expiresOn.getTime() : Date.now() + 3600_000;
  return { token: result.accessToken, expiresAt };
}
