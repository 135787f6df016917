/**
 * Relay client routes (admin scope): list, create (the generated password is in the 201 answer,
 * once), revoke. The same rules as `mailgate relay-client` and the admin tab, from
 * service/access/relay-clients.ts; a `RelayClientError` becomes a 422 problem naming the field
 * (409 when the name is taken).
 *
 * The safe choice where the issue is silent: DELETE revokes (the record stays, listed as revoked
 * with its counters, as API keys do); the answer never echoes a password except on create.
 *
 * Imports: hono, zod, ../auth, ../problem, ../json-body, ../../zod-problems, ../../../access.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { relayClientView } from '../../../access/relay-client-view.js';
import { createRelayClient, listRelayClients, RelayClientError, revokeRelayClient, type RelayClientErrorCode } from '../../../access/relay-clients.js';
import { requireScope, type AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { readJsonBody } from '../json-body.js';
import { notFound, problemResponse, validationProblem } from '../problem.js';
import { zodProblems } from '../../zod-problems.js';

export const relayClientCreateSchema = z.strictObject({
  name: z.string().min(1).max(64).meta({ description: 'Letters, digits, dots, dashes or underscores; unique among active clients.' }),
  allowFrom: z.array(z.string().max(254)).max(50).optional().meta({ description: 'Addresses it may send as; absent or empty: any address Mailgate may send as.' }),
  allowIp: z.array(z.string().max(64)).max(50).optional().meta({ description: 'Addresses or CIDRs it may connect from; absent or empty: anywhere.' }),
  noAuth: z.boolean().optional().meta({ description: 'A device that cannot authenticate, recognised by allowIp only (private networks unless force).' }),
  fromPolicy: z.enum(['reject', 'rewrite']).optional().meta({ description: 'A header From it may not use: refuse the message (default) or rewrite it.' }),
  force: z.boolean().optional().meta({ description: 'With noAuth: accept a public network.' }),
});

/** Which request field a model error is about. */
const FIELD: Record<RelayClientErrorCode, string> = {
  'invalid-name': 'name',
  exists: 'name',
  'invalid-address': 'allowFrom',
  'invalid-cidr': 'allowIp',
  'no-auth-needs-ip': 'allowIp',
  'public-cidr': 'allowIp',
  'invalid-policy': 'fromPolicy',
};

export function relayClientRoutes(d: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requireScope(d.store, 'admin', d.dataDir));

  app.get('/', async (c) => c.json({ items: (await listRelayClients(d.store)).map(relayClientView) }));

  app.post('/', async (c) => {
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    const parsed = relayClientCreateSchema.safeParse(body.value);
    if (!parsed.success) return validationProblem(zodProblems(parsed.error, body.value));
    try {
      const created = await createRelayClient(d.store, parsed.data, { now: d.now(), actor: `api-key:${c.get('apiKey').name}` });
      const { name, username, password, allowFrom, allowIp, noAuth, fromPolicy } = created;
      return c.json({ name, username, password, allowFrom, allowIp, noAuth, fromPolicy }, 201, { 'cache-control': 'no-store' });
    } catch (error) {
      if (!(error instanceof RelayClientError)) throw error;
      if (error.code === 'exists') return problemResponse(409, 'conflict', 'Name in use', { detail: error.message });
      return validationProblem([{ key: FIELD[error.code], message: error.message }], 'The relay client was not created; every problem is listed in errors.');
    }
  });

  app.delete('/:name', async (c) => {
    const name = c.req.param('name');
    const done = await revokeRelayClient(d.store, name, { now: d.now(), actor: `api-key:${c.get('apiKey').name}` });
    if (!done) return notFound(`No active relay client is named "${name.slice(0, 64)}".`);
    return c.body(null, 204);
  });

  return app;
}
