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
 * The reply column is short (the SMTP code and enhanced status, e.g. `535 5.7.3`, linking to
 * the message's page with the full text); while delivery is paused a waiting message says
 * "Paused until HH:MM" instead of a due time already past; test emails carry a "Test" mark.
 *
 * The list shows the last attempt's reply and diagnosis for failed and retrying messages by
 * reading each such message's detail (at most one page, 25 rows); a store query returning the
 * last attempt with the list would save those reads (see the report of issue 6).
 *
 * Imports: hono, service store types, ../context, ../layout, ../html, ../diagnosis-view,
 * ./delivery-chart.
 */
import { Hono } from 'hono';
import { MESSAGE_STATUSES, type AttemptRecord, type MessageDetail, type MessageRecord, type MessageStatus } from '../../service/outbox/store.js';
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

/**
 * The short form of a server reply for the list: the SMTP code and enhanced status
 * (`250 2.0.0`, `535 5.7.3`), or for a reply that is not an SMTP line (a token endpoint error)
 * the error code. The full text is on the message's page (and in the cell's title).
 */
export function shortReply(reply: string | undefined, code?: string): string | undefined {
  const m = reply ? /^([2-5]\d\d)(?:[ -]+([245]\.\d{1,3}\.\d{1,3}))?/.exec(reply.trim()) : null;
  if (m) return m[2] ? `${m[1]} ${m[2]}` : m[1];
  return code ?? (reply ? reply.slice(0, 40) + (reply.length > 40 ? '…' : '') : undefined);
}

/** "HH:MM UTC" (the date only when it is not today), as a `<time>` with the full time in its title. */
function clockTime(ms: number, now: number): SafeHtml {
  const iso = new Date(ms).toISOString();
  const sameDay = iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10);
  return html`<time datetime="${iso}" title="${iso.slice(0, 19).replace('T', ' ')} UTC">${sameDay ? '' : `${iso.slice(0, 10)} `}${iso.slice(11, 16)} UTC</time>`;
}

/** While delivery is paused, a waiting message's due time means nothing: say until when it waits. */
function waitingText(a: Admin, m: MessageRecord, now: number): SafeHtml | undefined {
  if (m.status !== 'queued' && m.status !== 'retrying') return undefined;
  const paused = a.deps.worker?.activity().paused;
  if (paused && paused.until > now && (m.nextAttemptAt === undefined || m.nextAttemptAt < paused.until)) {
    return html`<span class="muted" data-paused>Paused until ${clockTime(paused.until, now)}</span>`;
  }
  if (m.nextAttemptAt === undefined) return undefined;
  return m.nextAttemptAt <= now ? html`<span class="muted">Due now</span>` : html`<span class="muted">Due ${clockTime(m.nextAttemptAt, now)}</span>`;
}

function replyCell(a: Admin, m: MessageRecord, detail: MessageDetail | undefined, now: number): SafeHtml {
  if (m.status === 'sent') {
    const short = shortReply(m.response);
    return short ? html`<a href="${a.url(`/messages/${m.id}`)}" class="reply-short" title="${m.response ?? ''}"><code>${short}</code></a>` : html``;
  }
  const last = detail?.attempts.at(-1);
  const waiting = waitingText(a, m, now);
  if (!last) return waiting ?? html`<span class="muted">—</span>`;
  const short = shortReply(last.reply, last.code);
  return html`<div>${short ? html`<a href="${a.url(`/messages/${m.id}`)}" class="reply-short" title="${last.reply ?? ''}"><code>${short}</code></a>` : ''}${last.diagnosis ? html`<div class="muted">${last.diagnosis.summary}</div>` : ''}${waiting ? html`<div>${waiting}</div>` : ''}</div>`;
}

const testMark = (m: MessageRecord) => (m.test ? html` <span class="badge badge-test" title="Sent from the Test page (or the settings test API), outside the queue">Test</span>` : '');

async function listPage(a: Admin, c: AdminContext): Promise<Response> {
  const store = a.deps.store;
  const statusParam = c.req.query('status') ?? '';
  const cursorParam = c.req.query('cursor');
  const problems: string[] = [];
  const status = (MESSAGE_STATUSES as readonly string[]).includes(statusParam) ? (statusParam as MessageStatus) : undefined;
  if (statusParam && !status) problems.push(`Unknown status "${statusParam.slice(0, 40)}": showing all messages.`);
  const cursor = cursorParam && CURSOR.test(cursorParam) ? cursorParam : undefined;
  if (cursorParam && !cursor) problems.push('That page link is not valid: showing the newest messages.');
  // The sender filter (issue 16): one of the configured senders, or any address-like value
  // (a sender deleted since still has messages).
  const senderParam = (c.req.query('sender') ?? '').trim().toLowerCase();
  const sender = /^[^\s<>@&?#]{1,64}@[a-z0-9.-]{1,253}$/.test(senderParam) ? senderParam : undefined;
  if (senderParam && !sender) problems.push('That sender is not an address: showing every sender.');
  const senders = a.deps.senders?.list() ?? [];

  const now = a.deps.now();
  const since = chartSince(now);
  const [page, counts, buckets] = await Promise.all([
    store.list({ status, ...(sender ? { sender } : {}), limit: PAGE_SIZE, cursor }),
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
    html`<li><a href="${a.url(`/messages${s || sender ? `?${[s ? `status=${s}` : '', sender ? `sender=${encodeURIComponent(sender)}` : ''].filter(Boolean).join('&')}` : ''}`)}"${s === status ? html` aria-current="true"` : ''}>${label} (${n})</a></li>`;
  const query = (extra: string) => a.url(`/messages?${[status ? `status=${status}` : '', sender ? `sender=${encodeURIComponent(sender)}` : '', extra].filter(Boolean).join('&')}`);
  const senderLink = (addr: string | undefined, label: string) =>
    html`<li><a href="${a.url(`/messages?${[status ? `status=${status}` : '', addr ? `sender=${encodeURIComponent(addr)}` : ''].filter(Boolean).join('&')}`)}"${addr === sender ? html` aria-current="true"` : ''}>${label}</a></li>`;

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
${senders.length > 1 || sender ? html`<nav aria-label="Filter by sender"><ul class="filters">
  ${senderLink(undefined, 'Every sender')}
  ${senders.map((x) => senderLink(x.address, x.address))}
</ul></nav>` : ''}
${page.items.length === 0
    ? html`<p class="muted" data-empty>No ${status ? STATUS_LABEL[status].toLowerCase() : ''} messages${cursor ? ' on this page' : ''}.</p>`
    : html`<div class="table-wrap"><table class="data stack" aria-labelledby="messages-heading">
  <thead><tr><th scope="col">Status</th><th scope="col">Recipient</th><th scope="col">Subject</th><th scope="col">Created</th><th scope="col">Attempts</th><th scope="col">Server reply / diagnosis</th></tr></thead>
  <tbody>${page.items.map((m) => html`<tr data-message="${m.id}">
    <td data-label="Status">${badge(m.status)}</td>
    <td data-label="Recipient">${m.toSummary}${m.recipientCount > 1 ? html` <span class="muted">(${m.recipientCount} recipients)</span>` : ''}</td>
    <td data-label="Subject"><a href="${a.url(`/messages/${m.id}`)}">${m.subject || '(no subject)'}</a>${testMark(m)}</td>
    <td data-label="Created">${timeTag(m.createdAt)}</td>
    <td data-label="Attempts">${m.attemptCount}</td>
    <td data-label="Reply" class="reply-cell">${replyCell(a, m, details.get(m.id), now)}</td>
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
  const now = a.deps.now();
  const facts: [string, SafeHtml | string][] = [
    ['Status', html`${badge(m.status)}${testMark(m)}`],
    ['To', m.toSummary],
    ['Subject', m.subject || '(no subject)'],
    ['From mailbox', m.mailbox || '—'],
    ...(m.sender && m.sender !== m.mailbox.toLowerCase() ? [['Sender (From)', m.sender] as [string, string]] : []),
    ['Recipients', String(m.recipientCount)],
    ['Created', timeTag(m.createdAt)],
    ['Updated', timeTag(m.updatedAt)],
  ];
  if (m.test) facts.push(['Kind', 'Test email, sent at once from the Test page (or the settings test API), outside the queue']);
  if (m.source !== undefined) facts.push(['Source', `SMTP relay client ${m.source}`]);
  const waiting = waitingText(a, m, now);
  if (waiting) facts.push(['Next attempt', waiting]);
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
