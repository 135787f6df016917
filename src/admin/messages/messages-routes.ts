/**
 * The delivery log: recent messages (status, recipient, subject, time, attempts, server reply,
 * diagnosis) filtered by status and paged newest first, the sent/failed-per-hour chart, a
 * detail view with the attempt timeline, and "Retry delivery" for failed messages.
 *
 * Why: when a password-reset email did not arrive, the administrator needs to find it, see
 * what Exchange answered on each attempt and why, fix the cause and send it again — without
 * reading server logs. Everything shown came from API clients or servers, so it all goes
 * through the escaping template (a `<script>` in a subject is text).
 *
 * The list shows the last attempt's reply and diagnosis for failed and retrying messages by
 * reading each such message's detail (at most one page, 25 rows); a store query returning the
 * last attempt with the list would save those reads (see the report of issue 6).
 *
 * Imports: hono, service store types, ../context, ../layout, ../html, ../diagnosis-view,
 * ./delivery-chart.
 */
import { Hono } from 'hono';
import { MESSAGE_STATUSES, type AttemptRecord, type MessageDetail, type MessageRecord, type MessageStatus } from '../../service/store/store.js';
import type { Admin, AdminContext, AdminEnv } from '../context.js';
import { deliveryPauseNotice } from '../delivery-pause.js';
import { diagnosisBlock, timeTag } from '../diagnosis-view.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField, redirect, renderPage } from '../layout.js';
import { chartSince, deliveryChart, hourSlots, HOUR_MS } from './delivery-chart.js';
import { isGuid } from '../../core/settings.js';

const PAGE_SIZE = 25;
const CURSOR = /^[A-Za-z0-9_-]{1,64}$/;

const STATUS_LABEL: Record<MessageStatus, string> = { queued: 'Queued', sending: 'Sending', sent: 'Sent', retrying: 'Retrying', failed: 'Failed' };
const OUTCOME_LABEL: Record<AttemptRecord['outcome'], string> = { sent: 'Sent', retry: 'Will retry', failed: 'Failed', expired: 'Expired', interrupted: 'Interrupted' };

const badge = (s: MessageStatus) => html`<span class="badge badge-${s}">${STATUS_LABEL[s]}</span>`;

function replyCell(m: MessageRecord, detail: MessageDetail | undefined): SafeHtml {
  if (m.status === 'sent') return html`${m.response ?? ''}`;
  const last = detail?.attempts.at(-1);
  if (!last) {
    return m.status === 'queued' && m.nextAttemptAt ? html`<span class="muted">Due ${timeTag(m.nextAttemptAt)}</span>` : html`<span class="muted">—</span>`;
  }
  return html`<div>${last.reply ? html`<div>${last.reply}</div>` : ''}${last.diagnosis ? html`<div class="muted">${last.diagnosis.summary}</div>` : last.code ? html`<div class="muted"><code>${last.code}</code></div>` : ''}</div>`;
}

async function listPage(a: Admin, c: AdminContext): Promise<Response> {
  const store = a.deps.store;
  const statusParam = c.req.query('status') ?? '';
  const cursorParam = c.req.query('cursor');
  const problems: string[] = [];
  const status = (MESSAGE_STATUSES as readonly string[]).includes(statusParam) ? (statusParam as MessageStatus) : undefined;
  if (statusParam && !status) problems.push(`Unknown status "${statusParam.slice(0, 40)}": showing all messages.`);
  const cursor = cursorParam && CURSOR.test(cursorParam) ? cursorParam : undefined;
  if (cursorParam && !cursor) problems.push('That page link is not valid: showing the newest messages.');

  const now = a.deps.now();
  const since = chartSince(now);
  const [page, counts, buckets] = await Promise.all([
    store.list({ status, limit: PAGE_SIZE, cursor }),
    store.countByStatus(),
    store.deliveryHistogram(since, HOUR_MS),
  ]);
  const details = new Map<string, MessageDetail>();
  await Promise.all(page.items.filter((m) => m.status === 'failed' || m.status === 'retrying').map(async (m) => {
    const d = await store.get(m.id);
    if (d) details.set(m.id, d);
  }));
  const total = MESSAGE_STATUSES.reduce((n, s) => n + (counts[s] ?? 0), 0);
  const filterLink = (s: MessageStatus | undefined, label: string, n: number) =>
    html`<li><a href="${a.url(`/messages${s ? `?status=${s}` : ''}`)}"${s === status ? html` aria-current="true"` : ''}>${label} (${n})</a></li>`;
  const query = (extra: string) => a.url(`/messages?${[status ? `status=${status}` : '', extra].filter(Boolean).join('&')}`);

  const body = html`${deliveryPauseNotice(a)}
${problems.map((p) => html`<p class="notice" role="note">${p}</p>`)}
<section aria-labelledby="chart-heading" class="panel">
  <h2 id="chart-heading">Last 24 hours</h2>
  ${deliveryChart(hourSlots(buckets, since))}
</section>
<h2 id="messages-heading">Messages</h2>
<nav aria-label="Filter by status"><ul class="filters">
  ${filterLink(undefined, 'All', total)}
  ${MESSAGE_STATUSES.map((s) => filterLink(s, STATUS_LABEL[s], counts[s] ?? 0))}
</ul></nav>
${page.items.length === 0
    ? html`<p class="muted" data-empty>No ${status ? STATUS_LABEL[status].toLowerCase() : ''} messages${cursor ? ' on this page' : ''}.</p>`
    : html`<div class="table-wrap"><table class="data stack" aria-labelledby="messages-heading">
  <thead><tr><th scope="col">Status</th><th scope="col">Recipient</th><th scope="col">Subject</th><th scope="col">Created</th><th scope="col">Attempts</th><th scope="col">Server reply / diagnosis</th></tr></thead>
  <tbody>${page.items.map((m) => html`<tr data-message="${m.id}">
    <td data-label="Status">${badge(m.status)}</td>
    <td data-label="Recipient">${m.toSummary}${m.recipientCount > 1 ? html` <span class="muted">(${m.recipientCount} recipients)</span>` : ''}</td>
    <td data-label="Subject"><a href="${a.url(`/messages/${m.id}`)}">${m.subject || '(no subject)'}</a></td>
    <td data-label="Created">${timeTag(m.createdAt)}</td>
    <td data-label="Attempts">${m.attemptCount}</td>
    <td data-label="Reply" class="reply-cell">${replyCell(m, details.get(m.id))}</td>
  </tr>`)}</tbody>
</table></div>`}
<div class="pager">
  ${cursor ? html`<a href="${query('')}">Newest</a>` : ''}
  ${page.nextCursor ? html`<a href="${query(`cursor=${encodeURIComponent(page.nextCursor)}`)}">Older messages</a>` : ''}
</div>`;
  return renderPage(a, c, { title: 'Delivery log', active: 'messages', body });
}

function attemptItem(a: Admin, t: AttemptRecord, messageId: string): SafeHtml {
  const needsOid = t.diagnosis?.commands?.some((cmd) => cmd.includes("(the token's oid)>")) === true;
  return html`<li class="t-${t.outcome}" data-attempt="${t.attempt}">
  <h3>Attempt ${t.attempt}: ${OUTCOME_LABEL[t.outcome]}</h3>
  <p class="muted">${timeTag(t.at)}${t.code ? html` · <code>${t.code}</code>` : ''}</p>
  ${t.reply ? html`<p>The server replied:</p><pre class="reply">${t.reply}</pre>` : ''}
  ${t.diagnosis ? diagnosisBlock(t.diagnosis, `m-${messageId.slice(0, 8)}-a${t.attempt}`, 4) : ''}
  ${needsOid ? html`<p class="notice notice-info">The commands above need the Enterprise Application's object id. <a href="${a.url('/diagnostics')}">Run diagnostics</a>: it reads it from the access token and fills it in.</p>` : ''}
</li>`;
}

function detailPage(a: Admin, c: AdminContext, m: MessageDetail): Response {
  const facts: [string, SafeHtml | string][] = [
    ['Status', badge(m.status)],
    ['To', m.toSummary],
    ['Subject', m.subject || '(no subject)'],
    ['From mailbox', m.mailbox || '—'],
    ['Recipients', String(m.recipientCount)],
    ['Created', timeTag(m.createdAt)],
    ['Updated', timeTag(m.updatedAt)],
  ];
  if ((m.status === 'queued' || m.status === 'retrying') && m.nextAttemptAt) facts.push(['Next attempt', timeTag(m.nextAttemptAt)]);
  if (m.sentAt) facts.push(['Sent', timeTag(m.sentAt)]);
  if (m.status !== 'sent' && m.status !== 'failed') facts.push(['Expires', timeTag(m.expiresAt)]);
  if (m.response) facts.push(['Server reply', m.response]);
  if (m.lastCode) facts.push(['Last error code', html`<code>${m.lastCode}</code>`]);
  facts.push(['Message-ID', html`<code>${m.messageIdHeader}</code>`], ['API id', html`<code>${m.id}</code>`]);

  const body = html`<p><a href="${a.url('/messages')}">← Delivery log</a></p>
${deliveryPauseNotice(a)}
<section class="panel" aria-labelledby="msg-heading">
  <h2 id="msg-heading">${m.subject || '(no subject)'}</h2>
  <dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
  ${m.status === 'failed'
    ? html`<form method="post" action="${a.url(`/messages/${m.id}/retry`)}" class="actions">${csrfField(c.get('session'))}<button type="submit" class="button">Retry delivery</button><span class="muted">Queues the message again (same Message-ID); fix the cause first.</span></form>`
    : ''}
</section>
<h2>Attempts</h2>
${m.attempts.length ? html`<ol class="timeline">${m.attempts.map((t) => attemptItem(a, t, m.id))}</ol>` : html`<p class="muted">No attempt yet.</p>`}`;
  return renderPage(a, c, { title: 'Message', active: 'messages', body });
}

function notFoundPage(a: Admin, c: AdminContext): Response {
  return renderPage(a, c, { title: 'Message not found', active: 'messages', status: 404, body: html`<p>There is no message with that id. <a href="${a.url('/messages')}">Back to the delivery log</a>.</p>` });
}

export function messagesRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  app.get('/', (c) => listPage(a, c));

  app.get('/:id', async (c) => {
    const id = c.req.param('id');
    const m = isGuid(id) ? await a.deps.store.get(id.toLowerCase()) : undefined;
    return m ? detailPage(a, c, m) : notFoundPage(a, c);
  });

  app.post('/:id/retry', async (c) => {
    const id = c.req.param('id');
    if (!isGuid(id)) return notFoundPage(a, c);
    const r = await a.deps.outbox.retry(id.toLowerCase(), 'admin');
    if (r.outcome === 'not-found') return notFoundPage(a, c);
    const session = c.get('session');
    if (r.outcome === 'not-failed') {
      if (session) session.flash = { kind: 'error', text: `Only failed messages can be retried; this one is ${STATUS_LABEL[r.message.status].toLowerCase()}.` };
    } else {
      if (session) session.flash = { kind: 'success', text: 'The message is queued again for delivery.' };
    }
    return redirect(c, a.url(`/messages/${r.message.id}`));
  });
  return app;
}
