/**
 * The public JSON view of a relay client, shared by `mailgate relay-client list --json` and
 * GET /api/v1/relay-clients so the two never drift: ISO timestamps, explicit nulls, the message
 * counters; never a password or its verifier (the record carries neither).
 *
 * Imports: ./relay-clients types.
 */
import type { RelayClient } from './relay-clients.js';

const iso = (t: number | undefined): string | null => (t === undefined ? null : new Date(t).toISOString());

export interface RelayClientView {
  name: string;
  username: string;
  noAuth: boolean;
  allowFrom: string[];
  allowIp: string[];
  fromPolicy: 'reject' | 'rewrite';
  createdAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  messagesSent: number;
  messagesFailed: number;
}

export function relayClientView(c: RelayClient): RelayClientView {
  return {
    name: c.name,
    username: c.username,
    noAuth: c.noAuth,
    allowFrom: [...c.allowFrom],
    allowIp: [...c.allowIp],
    fromPolicy: c.fromPolicy,
    createdAt: iso(c.createdAt),
    revokedAt: iso(c.revokedAt),
    lastUsedAt: iso(c.lastUsedAt),
    messagesSent: c.messagesSent,
    messagesFailed: c.messagesFailed,
  };
}
