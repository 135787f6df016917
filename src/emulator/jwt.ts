/**
 * Compact JWS (JWT) encoding, decoding and signature checks with node:crypto: RS256 and PS256,
 * the algorithms Entra uses for access tokens (RS256) and accepts for client assertions
 * (PS256, and RS256 from older libraries).
 *
 * Why it exists: the emulator both issues tokens and verifies client assertions; a dozen
 * lines over node:crypto are clearer than a JWT library whose validation rules would hide
 * the exact Entra/Exchange checks the emulator must make itself.
 *
 * Imports: node built-ins only.
 */
import { constants, sign, verify, type KeyObject } from 'node:crypto';

export type JsonObject = Record<string, unknown>;

export const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** Signs `header.payload` with RS256 or PS256 and returns the compact token. */
export function signJwt(header: JsonObject, payload: JsonObject, privateKey: KeyObject): string {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const alg = header['alg'];
  const signature = sign('sha256', Buffer.from(input), alg === 'PS256'
    ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
    : { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
  return `${input}.${base64url(signature)}`;
}

export interface DecodedJwt {
  header: JsonObject;
  payload: JsonObject;
  signingInput: string;
  signature: Buffer;
}

const SEGMENT = /^[A-Za-z0-9_-]*$/;

/** Splits and parses a compact JWS; `undefined` when it is not one (wrong shape, bad base64url, not JSON objects). */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p)) || !parts[0] || !parts[1]) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (!isObject(header) || !isObject(payload)) return undefined;
    return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2]!, 'base64url') };
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the signature of a decoded token with `publicKey` for its header's `alg` (RS256 or PS256 only). */
export function verifyJwtSignature(jwt: DecodedJwt, publicKey: KeyObject): boolean {
  const alg = jwt.header['alg'];
  if (alg !== 'RS256' && alg !== 'PS256') return false;
  try {
    return verify('sha256', Buffer.from(jwt.signingInput), alg === 'PS256'
      ? { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
      : { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, jwt.signature);
  } catch {
    return false;
  }
}

/** A numeric claim (seconds since the epoch), or undefined when absent or not a number. */
export function numericClaim(payload: JsonObject, name: string): number | undefined {
  const value = payload[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function stringClaim(payload: JsonObject, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' ? value : undefined;
}
