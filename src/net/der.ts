/**
 * A minimal DER (ASN.1 Distinguished Encoding Rules) writer, just enough to build X.509 v3
 * certificates: the emulator's PKI, `mailgate cert create` and the SMTP relay's self-signed certificate
 * (extension() and certificatePem() build and sign the certificate itself). One copy in
 * net/ because the relay (service/) may not import the emulator and the emulator imports
 * nothing of the product but this Node-only encoder (scripts/import-rules.mjs).
 *
 * Why it exists: node:crypto signs and parses certificates but cannot create them, and
 * @peculiar/x509 needs a global Reflect-metadata polyfill (tsyringe) that a library must not
 * install into its host process. Certificates are a fixed, small structure, so a ~100-line
 * encoder is simpler and safer than patching globals.
 *
 * Imports: node built-ins only.
 */
import { randomBytes } from 'node:crypto';

/** Encodes a DER length (short form below 128, long form above). */
function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A tag-length-value triple. */
export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
export const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
export const boolean = (value: boolean): Buffer => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
export const octetString = (value: Buffer): Buffer => tlv(0x04, value);
export const utf8String = (value: string): Buffer => tlv(0x0c, Buffer.from(value, 'utf8'));
/** A BIT STRING whose last byte has `unusedBits` padding bits. */
export const bitString = (value: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), value]));
/** Context-specific constructed tag [n] (explicit tagging). */
export const explicit = (n: number, value: Buffer): Buffer => tlv(0xa0 | n, value);
/** Context-specific primitive tag [n] (implicit tagging of a primitive value). */
export const implicitPrimitive = (n: number, value: Buffer): Buffer => tlv(0x80 | n, value);

/** A non-negative INTEGER from big-endian bytes (a leading zero is added when the top bit is set). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let body = bytes.subarray(start);
  if (body[0]! & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
  return tlv(0x02, body);
}

export const smallInteger = (n: number): Buffer => unsignedInteger(Buffer.from([n & 0xff]));

/** An OBJECT IDENTIFIER from its dotted form, e.g. "2.5.4.3". */
export function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes: number[] = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let n = Math.floor(part / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime for years 1950-2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const compact = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z'; // YYYYMMDDHHMMSSZ
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(compact.slice(2), 'ascii'));
  return tlv(0x18, Buffer.from(compact, 'ascii'));
}

/** One X.509 v3 extension (RFC 5280 §4.1.2.9): id, the critical flag when set, the value. */
export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/**
 * A signed X.509 v3 certificate as PEM (RFC 5280 §4.1): a random positive 128-bit serial, the
 * TBSCertificate from its parts, signed by `sign` with the algorithm identifier `algorithm`.
 * The one place the emulator's PKI, `mailgate cert create` and the relay's certificate build it.
 */
export function certificatePem(o: {
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Buffer[];
  algorithm: Buffer;
  sign: (tbs: Buffer) => Buffer;
}): string {
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    o.algorithm,
    o.issuer,
    sequence(time(o.notBefore), time(o.notAfter)),
    o.subject,
    o.spki,
    explicit(3, sequence(...o.extensions)),
  );
  const certificate = sequence(tbs, o.algorithm, bitString(o.sign(tbs)));
  return `-----BEGIN CERTIFICATE-----\n${certificate.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
}
