/**
 * Random identifiers shaped like Microsoft's: GUIDs, Exchange front-end server names,
 * Entra trace ids, SMTP session ids.
 *
 * Why it exists: replies that quote a server name or an id must look like the real ones
 * (tests and humans compare them), and every module needs the same few generators.
 *
 * Imports: node built-ins only.
 */
import { randomBytes, randomUUID } from 'node:crypto';

export const newGuid = (): string => randomUUID();

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function pick(alphabet: string, count: number): string {
  const bytes = randomBytes(count);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/** A front-end server name such as `SN4PR0501CA0054` (as in `SN4PR0501CA0054.namprd05.prod.outlook.com`). */
export function newFrontEndName(): string {
  const digits = '0123456789';
  return `${pick(LETTERS, 2)}${pick(digits, 1)}PR${pick(digits, 2)}CA${pick(digits, 4)}`;
}

/** A mailbox server name such as `BN0PR04MB8080` (quoted as `[Hostname=...]` after DATA). */
export function newMailboxServerName(): string {
  const digits = '0123456789';
  return `${pick(LETTERS, 2)}${pick(digits, 1)}PR${pick(digits, 2)}MB${pick(digits, 4)}`;
}

/** A 16-hex-digit id as Exchange appends to 5.7.3 replies (e.g. `08DC1A2B3C4D5E6F`). */
export const newExchangeId = (): string => randomBytes(8).toString('hex').toUpperCase();

/** A short id for emulator records (messages, SMTP sessions). */
export const newShortId = (): string => randomBytes(6).toString('base64url');
