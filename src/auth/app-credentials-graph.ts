/**
 * The real expiry of the app registration's own credentials, from Microsoft Graph: `GET
 * {graph}/v1.0/applications(appId='{clientId}')?$select=...` → `passwordCredentials` (secrets:
 * keyId, displayName, hint = the value's first three characters, endDateTime) and
 * `keyCredentials` (certificates: customKeyIdentifier = the SHA-1 thumbprint, endDateTime).
 *
 * Why it exists: Entra never says when a secret expires at token time (issue 17). When the app
 * may read itself (the Graph application permission `Application.Read.All`, or an owner-granted
 * `Application.ReadWrite.OwnedBy`), detected from the Graph token's `roles`, Mailgate uses the
 * real `endDateTime` instead of the date an administrator typed. Without the role, no Graph
 * request is made at all (a 403 would only be noise in the tenant's audit log).
 *
 * The answer is untrusted input: capped (64 KB, net/https-exchange.ts) and parsed once with zod.
 * The token never leaves this module; errors carry no token and no secret.
 *
 * Imports: zod, src/net/https-exchange, ./entra-token-source, ./jwt-claims.
 */
import { z } from 'zod';
import { httpsExchange } from '../net/https-exchange.js';
import { requestEntraToken, type EntraCredentialConfig } from './entra-token-source.js';
import { decodeTokenClaims } from './jwt-claims.js';

/** The roles that let an app read its own registration's credentials. */
export const SELF_READ_ROLES: readonly string[] = ['Application.Read.All', 'Application.ReadWrite.OwnedBy', 'Application.ReadWrite.All'];

export interface GraphPasswordCredential {
  keyId: string;
  displayName?: string;
  /** The first three characters of the secret's value. */
  hint?: string;
  endDateTime: number;
}

export interface GraphKeyCredential {
  keyId: string;
  displayName?: string;
  /** The SHA-1 thumbprint, 40 upper-case hex digits, when Graph gives it. */
  thumbprintSha1?: string;
  endDateTime: number;
}

export interface AppCredentialFacts {
  passwordCredentials: GraphPasswordCredential[];
  keyCredentials: GraphKeyCredential[];
  /** When they were read (epoch ms). */
  readAt: number;
}

export type AppCredentialsRead =
  | { ok: true; facts: AppCredentialFacts; roles: string[] }
  /** `no-role`: the token has none of SELF_READ_ROLES (nothing was asked of Graph). */
  | { ok: false; reason: 'no-role' | 'token' | 'graph'; message: string; roles?: string[] };

const dateTime = z.string().max(40).transform((s, ctx) => {
  const at = Date.parse(s);
  if (Number.isNaN(at)) ctx.addIssue({ code: 'custom', message: 'not a date-time' });
  return at;
});
const applicationSchema = z.object({
  passwordCredentials: z.array(z.object({
    keyId: z.string().max(64),
    displayName: z.string().max(256).nullish(),
    hint: z.string().max(16).nullish(),
    endDateTime: dateTime,
  })).max(100).default([]),
  keyCredentials: z.array(z.object({
    keyId: z.string().max(64),
    displayName: z.string().max(256).nullish(),
    customKeyIdentifier: z.string().max(200).nullish(),
    endDateTime: dateTime,
  })).max(100).default([]),
});

/**
 * Graph's customKeyIdentifier of a certificate: the SHA-1 thumbprint, seen as 40 hex digits, or
 * as base64 (Edm.Binary) of its 20 bytes or of its hex text. Anything else: unknown.
 */
export function thumbprintFromKeyIdentifier(v: string | null | undefined): string | undefined {
  if (!v) return undefined;
  if (/^[0-9a-fA-F]{40}$/.test(v)) return v.toUpperCase();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(v)) return undefined;
  const bytes = Buffer.from(v, 'base64');
  if (bytes.length === 20) return bytes.toString('hex').toUpperCase();
  const text = bytes.toString('latin1');
  return /^[0-9a-fA-F]{40}$/.test(text) ? text.toUpperCase() : undefined;
}

/**
 * One Graph token (the cloud's Graph scope), then, only when its roles allow, one GET of the
 * app's own registration. Never throws.
 */
export async function readAppCredentials(cfg: EntraCredentialConfig & { graphEndpoint: string; now?: () => number }): Promise<AppCredentialsRead> {
  let token: string;
  try {
    token = (await requestEntraToken(cfg)).token;
  } catch (error) {
    return { ok: false, reason: 'token', message: `no Microsoft Graph token: ${(error as Error).message}` };
  }
  const roles = (decodeTokenClaims(token)?.roles ?? []).filter((r): r is string => typeof r === 'string');
  if (!roles.some((r) => SELF_READ_ROLES.includes(r))) {
    return { ok: false, reason: 'no-role', roles, message: `the Graph token's roles (${roles.join(', ') || 'none'}) include neither Application.Read.All nor Application.ReadWrite.OwnedBy, so the app cannot read its own credentials` };
  }
  const url = `${cfg.graphEndpoint.replace(/\/+$/, '')}/v1.0/applications(appId='${encodeURIComponent(cfg.clientId)}')?$select=passwordCredentials,keyCredentials`;
  try {
    const res = await httpsExchange(url, { method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, ca: cfg.ca, timeoutMs: cfg.timeoutMs ?? 15_000 });
    if (res.status !== 200) {
      let code = '';
      try { code = String((JSON.parse(res.body) as { error?: { code?: unknown } }).error?.code ?? ''); } catch { /* not JSON */ }
      return { ok: false, reason: 'graph', roles, message: `Microsoft Graph answered ${res.status}${code ? ` ${code.slice(0, 60)}` : ''} to the read of application ${cfg.clientId}` };
    }
    const parsed = applicationSchema.safeParse(JSON.parse(res.body));
    if (!parsed.success) return { ok: false, reason: 'graph', roles, message: `Microsoft Graph's application ${cfg.clientId} has an unexpected shape (${parsed.error.issues[0]?.message ?? 'invalid'})` };
    return {
      ok: true,
      roles,
      facts: {
        readAt: (cfg.now ?? Date.now)(),
        passwordCredentials: parsed.data.passwordCredentials.map((p) => ({ keyId: p.keyId, ...(p.displayName ? { displayName: p.displayName } : {}), ...(p.hint ? { hint: p.hint } : {}), endDateTime: p.endDateTime })),
        keyCredentials: parsed.data.keyCredentials.map((k) => {
          const thumbprintSha1 = thumbprintFromKeyIdentifier(k.customKeyIdentifier);
          return { keyId: k.keyId, ...(k.displayName ? { displayName: k.displayName } : {}), ...(thumbprintSha1 ? { thumbprintSha1 } : {}), endDateTime: k.endDateTime };
        }),
      },
    };
  } catch (error) {
    return { ok: false, reason: 'graph', roles, message: `Microsoft Graph could not be read: ${(error as Error).message}` };
  }
}
