/**
 * Message routes: submit (202, idempotent), get one with its attempts, list with keyset
 * paging, and the admin retry of a failed message.
 *
 * Who reads what: a send key lists and reads only the messages it submitted (recipients,
 * subjects and delivery replies of other applications are not its business); an admin key
 * reads all. Idempotency keys are scoped per API key by the store.
 *
 * Imports: hono, ../../message-request, ../views, ../problem, ../auth, ../deps.
 */
import { Hono } from 'hono';
import { parseMessageRequest } from '../../message-request.js';
import { MESSAGE_STATUSES, type MessageStatus } from '../../../outbox/store.js';
import { requireScope, type AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { readJsonBody } from '../json-body.js';
import { notFound, problemResponse, validationProblem } from '../problem.js';
import { messageDetailView, messageView } from '../views.js';
import { isGuid } from '../../../../core/settings.js';
import { chooseSender } from '../../../../core/senders.js';
import type { ApiKeyRecord, MessageRecord } from '../../../outbox/store.js';

/** The submitter filter for a key's reads: none for an admin key, its own id for a send key. */
const readableBy = (key: ApiKeyRecord): string | undefined => (key.scope === 'admin' ? undefined : key.id);

const mayRead = (key: ApiKeyRecord, m: MessageRecord): boolean => key.scope === 'admin' || m.apiKeyId === key.id;

const LIST_PARAMS = new Set(['status', 'limit', 'cursor', 'sender']);

export function messageRoutes(d: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const send = requireScope(d.store, 'send', d.dataDir);
  const admin = requireScope(d.store, 'admin', d.dataDir);

  app.post('/', send, async (c) => {
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    const parsed = parseMessageRequest(body.value, body.text, { idempotencyKeyHeader: c.req.header('idempotency-key') });
    if (!parsed.ok) return validationProblem(parsed.problems);
    const key = c.get('apiKey');
    let sender: { address: string; signInAs: string } | undefined;
    const from = parsed.request.payload.from;
    const configured = d.senders?.list() ?? [];
    // Nothing configured yet and no `from`: accepted and queued as before (delivered once the
    // Email Settings are entered). Otherwise the sender must be one this key may use.
    if (from !== undefined || configured.length > 0 || key.senders?.length) {
      const choice = chooseSender(from, configured, key.senders);
      if (!choice.ok) {
        return problemResponse(422, 'sender-not-allowed', 'Not a sender this API key may use', { detail: choice.message, senders: choice.allowed });
      }
      sender = { address: choice.sender.address, signInAs: choice.sender.signInAs };
    }
    const r = await d.outbox.submit(parsed.request, { apiKeyId: key.id, ...(sender ? { sender } : {}) });
    if (r.outcome === 'conflict') {
      return problemResponse(409, 'idempotency-conflict', 'Idempotency key reused with a different request', {
        detail: 'This API key already sent a message with this idempotency key and different content; use a new key for a new message.',
        id: r.message.id,
      });
    }
    if (r.outcome === 'created') d.metrics.accepted();
    const status = r.outcome === 'created' ? 202 : 200;
    return c.json({ id: r.message.id, status: r.message.status, messageId: r.message.messageIdHeader }, status);
  });

  app.get('/', send, async (c) => {
    const q = c.req.query();
    const problems: { key: string; message: string }[] = [];
    for (const k of Object.keys(q)) if (!LIST_PARAMS.has(k)) problems.push({ key: k, message: `${k}: unknown query parameter (use status, sender, limit, cursor)` });
    if (q.status !== undefined && !(MESSAGE_STATUSES as readonly string[]).includes(q.status)) {
      problems.push({ key: 'status', message: `status: must be one of ${MESSAGE_STATUSES.join(', ')}` });
    }
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) problems.push({ key: 'limit', message: 'limit: must be a whole number from 1 to 200' });
    if (q.cursor !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(q.cursor)) problems.push({ key: 'cursor', message: 'cursor: use the nextCursor of a previous page' });
    if (q.sender !== undefined && (q.sender.length > 254 || /[\s<>]/.test(q.sender))) problems.push({ key: 'sender', message: 'sender: must be a sender\'s address' });
    if (problems.length) return validationProblem(problems);
    const page = await d.store.list({ status: q.status as MessageStatus | undefined, apiKeyId: readableBy(c.get('apiKey')), ...(q.sender ? { sender: q.sender.toLowerCase() } : {}), limit, cursor: q.cursor });
    return c.json({ items: page.items.map(messageView), nextCursor: page.nextCursor ?? null });
  });

  app.get('/:id', send, async (c) => {
    const id = c.req.param('id');
    const found = isGuid(id) ? await d.store.get(id.toLowerCase()) : undefined;
    // Another key's message answers exactly like a missing one (404, not 403): a send key must
    // not learn that an id exists, let alone whose it is.
    const m = found && mayRead(c.get('apiKey'), found) ? found : undefined;
    if (!m) return notFound(`No message with id ${id.slice(0, 64)}.`);
    return c.json(messageDetailView(m));
  });

  app.post('/:id/retry', admin, async (c) => {
    const id = c.req.param('id');
    const r = isGuid(id) ? await d.outbox.retry(id.toLowerCase(), `api-key:${c.get('apiKey').name}`) : { outcome: 'not-found' as const };
    if (r.outcome === 'not-found') return notFound(`No message with id ${id.slice(0, 64)}.`);
    if (r.outcome === 'not-failed') {
      return problemResponse(409, 'not-failed', 'Only failed messages can be retried', { detail: `The message is ${r.message.status}.`, messageStatus: r.message.status });
    }
    return c.json({ id: r.message.id, status: r.message.status }, 202);
  });

  return app;
}
