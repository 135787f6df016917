/**
 * Who is signing in: the client address the login limiter counts, behind a reverse proxy or
 * not, and the key it counts under (an IPv6 client by its /64, since one host usually owns a
 * whole /64 and could otherwise rotate through 2^64 addresses).
 *
 * Why: with the TCP peer address alone, every client behind a reverse proxy is the proxy
 * (five wrong passwords from anyone lock every administrator out), and an IPv6 attacker has no
 * limit at all. Trusting a forwarding header is only safe for the hops the operator put in
 * front of Mailgate, so it is off by default (`MAILGATE_TRUST_PROXY`).
 *
 * Which hop is trusted (`trustedHops` = N, `MAILGATE_TRUST_PROXY=on` is N = 1): the chain is
 * the addresses in `X-Forwarded-For` (left to right, as each proxy appends the address it
 * received the request from) followed by the TCP peer. The last N entries were written by our
 * own N proxies; the client is the entry just before them, i.e. with one proxy the right-most
 * `X-Forwarded-For` address. Anything further left was sent by the client and is ignored
 * (a client cannot choose its bucket by sending its own header). When the chain is shorter,
 * the left-most entry is used. `Forwarded: for=` (RFC 7239) is read the same way, only when
 * the request has no `X-Forwarded-For` (the proxy must then set `Forwarded` and drop a
 * client's `X-Forwarded-For`). A trusted entry that is not an IP address falls back to the
 * TCP peer (safe: the proxy's own bucket, never one a client picks).
 *
 * Imports: node:net.
 */
import { isIP } from 'node:net';

/** An address as written in a header: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, `"[::1]"`. */
function bareAddress(raw: string): string | undefined {
  let s = raw.trim().replace(/^"(.*)"$/, '$1').trim();
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracket) s = bracket[1]!;
  else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(':'));
  s = s.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  return isIP(s) ? s.toLowerCase() : undefined;
}

/** The `for=` values of a `Forwarded` header, in order. */
function forwardedFor(header: string): string[] {
  const out: string[] = [];
  for (const element of header.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim().toLowerCase() === 'for') out.push(pair.slice(eq + 1).trim());
    }
  }
  return out;
}

export interface ForwardedHeaders {
  xForwardedFor?: string;
  forwarded?: string;
}

/**
 * The client's address: the TCP peer when `trustedHops` is 0, else the entry of the forwarding
 * chain just before the trusted hops (see the header comment).
 */
export function clientAddressFrom(peer: string, headers: ForwardedHeaders, trustedHops: number): string {
  if (trustedHops <= 0) return peer;
  // Headers repeated by the proxy arrive joined with ", " (Node), which is the same list.
  const listed = headers.xForwardedFor !== undefined
    ? headers.xForwardedFor.split(',')
    : headers.forwarded !== undefined ? forwardedFor(headers.forwarded) : [];
  const entries = listed.map((e) => e.trim()).filter((e) => e.length > 0);
  if (!entries.length) return peer;
  // The chain is [...entries, peer]; the peer is the first trusted hop.
  const index = Math.max(0, entries.length - trustedHops);
  return bareAddress(entries[index]!) ?? peer;
}

/** Expands an IPv6 address to its eight 16-bit groups. */
function ipv6Groups(address: string): number[] | undefined {
  let s = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    s = `${s.slice(0, -v4[1]!.length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - h.length - t.length;
  const groups = [...h, ...Array(Math.max(0, missing)).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * The key the limiter counts an address under: an IPv4 address as is, an IPv6 address by its
 * /64 (`2001:db8:1:2::/64`), anything else (no socket in tests) as given.
 */
export function limiterKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const g = ipv6Groups(address.toLowerCase());
  if (!g) return address;
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}
