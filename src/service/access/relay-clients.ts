/**
 * SMTP relay clients (issue 14): the printers, scanners and legacy applications that submit mail
 * to Mailgate's SMTP relay with a username and password (or, for a device that cannot
 * authenticate, from a listed source address only).
 *
 * Why here: like API keys, a relay client is "who may send"; the relay listener
 * (service/intake/relay/), the HTTP routes, the admin tab and the CLI all go through this module
 * so the rules (name format, --no-auth needs a private --allow-ip, the password never stored in
 * clear) live in one place.
 *
 * Exported API (stable: the admin tab, /api/v1/relay-clients, `mailgate relay-client`, metrics
 * and the doctor build on it):
 * - `createRelayClient(store, input: RelayClientInput, { now, actor })` → `CreatedRelayClient`
 *   `{ name, username, password, allowFrom, allowIp, noAuth, fromPolicy, client }`. The username
 *   is generated; the password is generated, returned once (null for a no-auth client) and kept
 *   only as a scrypt verifier. Throws `RelayClientError` (`.code`: invalid-name, invalid-address,
 *   invalid-cidr, invalid-policy, no-auth-needs-ip, public-cidr, exists) with a message that
 *   says what to do.
 * - `listRelayClients(store)` → `RelayClient[]` (revoked included, oldest first, counters,
 *   last used; never a verifier).
 * - `revokeRelayClient(store, name, { now, actor })` → boolean (false: no active client so named).
 * - `authenticateRelayClient(store, username, password, { remoteAddress? })` → `ActiveRelayClient |
 *   undefined` (async scrypt off the event loop; an unknown username costs the same work; a
 *   client with `allowIp` is refused from other addresses; no-auth clients never authenticate).
 * - `relayClientForAddress(store, remoteAddress)` → the active `--no-auth` client whose
 *   `allowIp` contains the address, or undefined.
 * - `isRelayClientActive(store, id)` → whether the client is still active (the listener asks
 *   before each transaction, so a revocation reaches open connections).
 * - `relayClientMaySendAs(client, address, sendable)`: the sender rule (see its comment);
 *   `relayRewriteAddress(client, sendable)`: the address a `rewrite` client's From becomes.
 * - `isPublicCidr(cidr)`, `normaliseCidr(cidr)`, `normaliseRemoteAddress(ip)`,
 *   `RELAY_CLIENT_CACHE_TTL_MS`, `forgetCachedRelayClients(store)`, `generateRelayPassword()`,
 *   `generateRelayUsername(name)`.
 * Types: `RelayClient` (= store's RelayClientRecord), `ActiveRelayClient`, `RelayClientInput`,
 * `CreatedRelayClient`, `RelayFromPolicy`, `RelayClientErrorCode`.
 *
 * Staleness: the active clients are read from the store at most every RELAY_CLIENT_CACHE_TTL_MS
 * (1 s) per store object; a client created or revoked through this module in this process takes
 * effect at once (the cache is emptied), one created or revoked by another process (the CLI while
 * `mailgate serve` runs) within 1 s, inside the 2 s bound.
 *
 * Imports: node:crypto, node:net, ./admin-password (the scrypt verifier), ../outbox/store (types).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { hashPasswordAsync, verifyPassword } from './admin-password.js';
import type { ConfigStore, RelayClientCredentials, RelayClientRecord, RelayFromPolicy } from '../outbox/store.js';

/** A relay client as listed: name, username, rules, counters, last used (never its password). */
export type RelayClient = RelayClientRecord;
/** An active relay client as the relay sees it after authentication or an address match. */
export type ActiveRelayClient = Omit<RelayClientCredentials, 'passwordHash'>;
export type { RelayFromPolicy };

/** What `createRelayClient` takes (the CLI's and the API's options). */
export interface RelayClientInput {
  /** 1–64 letters, digits, dots, dashes or underscores; unique among active clients. */
  name: string;
  /** Addresses the client may send as; empty or absent: any address Mailgate may send as. */
  allowFrom?: readonly string[];
  /** Addresses or CIDRs the client may connect from; empty or absent: anywhere (authenticated clients only). */
  allowIp?: readonly string[];
  /** No SMTP AUTH: matched by source address only; needs at least one `allowIp`. */
  noAuth?: boolean;
  /** What to do with a header From the client may not use: refuse (default) or rewrite. */
  fromPolicy?: RelayFromPolicy;
  /** Accept a public-address CIDR for a no-auth client (an open relay for that network). */
  force?: boolean;
}

export interface CreatedRelayClient {
  name: string;
  username: string;
  /** Shown once; null for a no-auth client. */
  password: string | null;
  allowFrom: string[];
  allowIp: string[];
  noAuth: boolean;
  fromPolicy: RelayFromPolicy;
  /** The stored client as `listRelayClients` shows it. */
  client: RelayClient;
}

export type RelayClientErrorCode = 'invalid-name' | 'invalid-address' | 'invalid-cidr' | 'invalid-policy' | 'no-auth-needs-ip' | 'public-cidr' | 'exists';

export class RelayClientError extends Error {
  override readonly name = 'RelayClientError';
  constructor(
    readonly code: RelayClientErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// Deliberately plain: a relay client's allowed sender is a mailbox address, no display name.
const ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const MAX_LIST = 50;
const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const PASSWORD_LENGTH = 24; // ~139 bits; letters and digits only (printer front panels)

/** A generated password: letters and digits only, because device forms often refuse symbols. */
export function generateRelayPassword(): string {
  let s = '';
  for (let i = 0; i < PASSWORD_LENGTH; i++) s += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return s;
}

/** A generated username: recognisable (the name) and unique (random suffix), ≤ 40 characters. */
export function generateRelayUsername(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 24) || 'client';
  return `relay-${slug}-${randomBytes(4).toString('hex')}`;
}

// ---- addresses and CIDRs ----

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses unchanged. */
export function normaliseRemoteAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1] : address;
}

interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

function parseCidr(text: string): Cidr | undefined {
  const [rawAddress, rawPrefix, ...rest] = text.trim().split('/');
  if (rest.length > 0 || rawAddress === undefined) return undefined;
  const address = normaliseRemoteAddress(rawAddress);
  const v = isIP(address);
  if (v === 0) return undefined;
  const max = v === 4 ? 32 : 128;
  if (rawPrefix !== undefined && !/^\d{1,3}$/.test(rawPrefix)) return undefined;
  const prefix = rawPrefix === undefined ? max : Number(rawPrefix);
  if (prefix > max) return undefined;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** `10.0.0.7` → `10.0.0.7/32`; undefined when not an address or CIDR. */
export function normaliseCidr(text: string): string | undefined {
  const c = parseCidr(text);
  return c ? `${c.address}/${c.prefix}` : undefined;
}

/** Private, loopback, link-local and shared (CGNAT) ranges: a device network, not the Internet. */
const NON_PUBLIC: readonly Cidr[] = [
  { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
  { address: '172.16.0.0', prefix: 12, family: 'ipv4' },
  { address: '192.168.0.0', prefix: 16, family: 'ipv4' },
  { address: '127.0.0.0', prefix: 8, family: 'ipv4' },
  { address: '169.254.0.0', prefix: 16, family: 'ipv4' },
  { address: '100.64.0.0', prefix: 10, family: 'ipv4' },
  { address: '::1', prefix: 128, family: 'ipv6' },
  { address: 'fc00::', prefix: 7, family: 'ipv6' },
  { address: 'fe80::', prefix: 10, family: 'ipv6' },
];

function blockOf(c: Cidr): BlockList {
  const b = new BlockList();
  b.addSubnet(c.address, c.prefix, c.family);
  return b;
}
const NON_PUBLIC_BLOCKS = NON_PUBLIC.map((c) => ({ c, block: blockOf(c) }));

/** Whether any address of the CIDR is outside the private/loopback/link-local/CGNAT ranges. */
export function isPublicCidr(text: string): boolean {
  const c = parseCidr(text);
  if (!c) return true;
  return !NON_PUBLIC_BLOCKS.some(({ c: r, block }) => r.family === c.family && c.prefix >= r.prefix && block.check(c.address, c.family));
}

function addressInCidrs(remoteAddress: string, cidrs: readonly string[]): boolean {
  const address = normaliseRemoteAddress(remoteAddress);
  const v = isIP(address);
  if (v === 0) return false;
  const family = v === 4 ? 'ipv4' : 'ipv6';
  return cidrs.some((text) => {
    const c = parseCidr(text);
    return !!c && c.family === family && blockOf(c).check(address, family);
  });
}

// ---- create, list, revoke ----

function validate(input: RelayClientInput): { allowFrom: string[]; allowIp: string[]; noAuth: boolean; fromPolicy: RelayFromPolicy } {
  if (typeof input.name !== 'string' || !NAME.test(input.name)) {
    throw new RelayClientError('invalid-name', `The relay client name "${String(input.name).slice(0, 80)}" is invalid: use 1–64 letters, digits, dots, dashes or underscores.`);
  }
  const fromPolicy = input.fromPolicy ?? 'reject';
  if (fromPolicy !== 'reject' && fromPolicy !== 'rewrite') throw new RelayClientError('invalid-policy', `The from policy "${String(fromPolicy).slice(0, 40)}" is invalid: use reject or rewrite.`);
  const allowFrom: string[] = [];
  for (const a of input.allowFrom ?? []) {
    const address = typeof a === 'string' ? a.trim().toLowerCase() : '';
    if (!ADDRESS.test(address) || address.length > 254) throw new RelayClientError('invalid-address', `"${String(a).slice(0, 100)}" is not an email address (--allow-from takes a plain address such as scanner@contoso.com).`);
    if (!allowFrom.includes(address)) allowFrom.push(address);
  }
  const allowIp: string[] = [];
  for (const text of input.allowIp ?? []) {
    const cidr = typeof text === 'string' ? normaliseCidr(text) : undefined;
    if (!cidr) throw new RelayClientError('invalid-cidr', `"${String(text).slice(0, 60)}" is not an IP address or CIDR (--allow-ip takes e.g. 192.168.1.20 or 192.168.1.0/24).`);
    if (!allowIp.includes(cidr)) allowIp.push(cidr);
  }
  if (allowFrom.length > MAX_LIST || allowIp.length > MAX_LIST) throw new RelayClientError('invalid-address', `A relay client may list at most ${MAX_LIST} addresses and ${MAX_LIST} networks.`);
  const noAuth = input.noAuth === true;
  if (noAuth && allowIp.length === 0) {
    throw new RelayClientError('no-auth-needs-ip', 'A --no-auth client is recognised by its address only, so it needs at least one --allow-ip (the device\'s address or network, e.g. --allow-ip 192.168.1.20).');
  }
  if (noAuth && !input.force) {
    const open = allowIp.filter((c) => isPublicCidr(c));
    if (open.length > 0) {
      throw new RelayClientError(
        'public-cidr',
        `Refusing --no-auth for the public address range ${open.join(', ')}: anyone who can reach the relay from there could send as your mailbox without a password (an open relay). Use the device's private address, or a client with a password; give --force only if that network is really yours alone.`,
      );
    }
  }
  return { allowFrom, allowIp, noAuth, fromPolicy };
}

/** Create a client; the password is returned once and stored only as a scrypt verifier. */
export async function createRelayClient(store: ConfigStore, input: RelayClientInput, o: { now: number; actor: string }): Promise<CreatedRelayClient> {
  const rules = validate(input);
  const username = generateRelayUsername(input.name);
  const password = rules.noAuth ? null : generateRelayPassword();
  const passwordHash = password === null ? undefined : await hashPasswordAsync(password);
  forgetCachedRelayClients(store);
  const created = await store.createRelayClient({ name: input.name, username, ...(passwordHash ? { passwordHash } : {}), ...rules, createdAt: o.now });
  forgetCachedRelayClients(store);
  if (!created) throw new RelayClientError('exists', `An active relay client named "${input.name}" exists already; revoke it first (mailgate relay-client revoke ${input.name}).`);
  await store.appendAudit({ at: o.now, actor: o.actor, action: 'relay-client.create', detail: { name: input.name, username, noAuth: rules.noAuth, allowFrom: rules.allowFrom, allowIp: rules.allowIp, fromPolicy: rules.fromPolicy, ...(input.force ? { force: true } : {}) } });
  const client = (await store.listRelayClients()).filter((c) => c.name === input.name && c.revokedAt === undefined).pop()!;
  return { name: input.name, username, password, ...rules, client };
}

export function listRelayClients(store: ConfigStore): Promise<RelayClient[]> {
  return store.listRelayClients();
}

/** Revoke the active client so named; it is refused at once here, within 1 s elsewhere. */
export async function revokeRelayClient(store: ConfigStore, name: string, o: { now: number; actor: string }): Promise<boolean> {
  forgetCachedRelayClients(store);
  const done = await store.revokeRelayClient(name, o.now);
  forgetCachedRelayClients(store);
  if (done) await store.appendAudit({ at: o.now, actor: o.actor, action: 'relay-client.revoke', detail: { name } });
  return done;
}

// ---- the relay's view: a short-lived snapshot of the active clients ----

/** How long the snapshot of active clients is reused before the store is asked again (ms). */
export const RELAY_CLIENT_CACHE_TTL_MS = 1_000;

interface Snapshot {
  clients: RelayClientCredentials[];
  until: number;
}
interface RelayCache {
  snapshot?: Snapshot;
  loading?: Promise<RelayClientCredentials[]>;
  generation: number;
  /** Last "last used" write per client id (monotonic ms): at most one per TTL. */
  touched: Map<string, number>;
}
const caches = new WeakMap<ConfigStore, RelayCache>();

function cacheOf(store: ConfigStore): RelayCache {
  let c = caches.get(store);
  if (!c) caches.set(store, (c = { generation: 0, touched: new Map() }));
  return c;
}

/** Drop the cached snapshot for this store (its clients changed). */
export function forgetCachedRelayClients(store: ConfigStore): void {
  const c = caches.get(store);
  if (!c) return;
  c.snapshot = undefined;
  c.loading = undefined;
  c.generation++;
}

async function activeClients(store: ConfigStore, now = performance.now()): Promise<RelayClientCredentials[]> {
  const cache = cacheOf(store);
  if (cache.snapshot && cache.snapshot.until > now) return cache.snapshot.clients;
  if (!cache.loading) {
    const generation = cache.generation;
    const loading = store.activeRelayClients().then(
      (clients) => {
        if (cache.generation === generation) {
          cache.snapshot = { clients, until: performance.now() + RELAY_CLIENT_CACHE_TTL_MS };
          cache.loading = undefined;
        }
        return clients;
      },
      (error: unknown) => {
        if (cache.loading === loading) cache.loading = undefined;
        throw error;
      },
    );
    cache.loading = loading;
  }
  return cache.loading;
}

function publicView(c: RelayClientCredentials): ActiveRelayClient {
  const { passwordHash: _omit, ...rest } = c;
  return Object.freeze(rest);
}

function noteUse(store: ConfigStore, id: string): void {
  const cache = cacheOf(store);
  const t = performance.now();
  const last = cache.touched.get(id);
  if (last !== undefined && t - last < RELAY_CLIENT_CACHE_TTL_MS) return;
  cache.touched.set(id, t);
  store.touchRelayClient(id, Date.now()).catch(() => undefined);
}

let dummyVerifier: Promise<string> | undefined;

/**
 * The active client for a username and password, or undefined. The check runs scrypt on the
 * thread pool; an unknown username runs it too (against a throw-away verifier) so the answer's
 * cost does not reveal which usernames exist. A client with `allowIp` authenticates only from
 * those networks.
 */
export async function authenticateRelayClient(store: ConfigStore, username: string, password: string, o: { remoteAddress?: string } = {}): Promise<ActiveRelayClient | undefined> {
  if (typeof username !== 'string' || typeof password !== 'string' || username.length > 256 || password.length > 1024) return undefined;
  const client = (await activeClients(store)).find((c) => c.username === username && !c.noAuth && c.passwordHash !== undefined);
  if (!client) {
    dummyVerifier ??= hashPasswordAsync(generateRelayPassword());
    await verifyPassword(password, await dummyVerifier);
    return undefined;
  }
  if (!(await verifyPassword(password, client.passwordHash!))) return undefined;
  if (client.allowIp.length > 0 && (o.remoteAddress === undefined || !addressInCidrs(o.remoteAddress, client.allowIp))) return undefined;
  noteUse(store, client.id);
  return publicView(client);
}

/** The active `--no-auth` client whose networks contain `remoteAddress` (the first created wins). */
export async function relayClientForAddress(store: ConfigStore, remoteAddress: string): Promise<ActiveRelayClient | undefined> {
  const client = (await activeClients(store)).find((c) => c.noAuth && addressInCidrs(remoteAddress, c.allowIp));
  if (!client) return undefined;
  noteUse(store, client.id);
  return publicView(client);
}

/** Whether the client with this id is still active (revocations reach open connections). */
export async function isRelayClientActive(store: ConfigStore, id: string): Promise<boolean> {
  return (await activeClients(store)).some((c) => c.id === id);
}

/**
 * Whether `client` may send as `address`. `sendable`: the addresses Mailgate may send as (today
 * the Authorized from Address). A client with `allowFrom` may use those of them it lists; one
 * without may use any of them. Compared case-insensitively.
 */
export function relayClientMaySendAs(client: Pick<RelayClient, 'allowFrom'>, address: string, sendable: readonly string[]): boolean {
  const a = address.trim().toLowerCase();
  const mailgate = sendable.map((s) => s.trim().toLowerCase());
  if (!mailgate.includes(a)) return false;
  return client.allowFrom.length === 0 || client.allowFrom.includes(a);
}

/** The address a rewritten header From gets: the client's first allowed address Mailgate may send as. */
export function relayRewriteAddress(client: Pick<RelayClient, 'allowFrom'>, sendable: readonly string[]): string | undefined {
  const mailgate = sendable.map((s) => s.trim().toLowerCase());
  return client.allowFrom.find((a) => mailgate.includes(a)) ?? mailgate[0];
}
