/**
 * The delivery log's chart: messages sent and failed per hour over the last 24 hours, as a
 * small server-rendered SVG with a data table beside it for screen readers and exact numbers.
 *
 * Why server-rendered: no chart library, no script, nothing from a CDN; the SVG scales with
 * the page (viewBox) and its colours come from the stylesheet. Pure: buckets in, markup out.
 * Hours are UTC, like every time on the page.
 *
 * Imports: src/service/store types, ../html.
 */
import type { DeliveryBucket } from '../../service/outbox/store.js';
import { html, type SafeHtml } from '../html.js';

export const HOUR_MS = 3_600_000;
export const CHART_HOURS = 24;

export interface HourSlot {
  start: number;
  sent: number;
  failed: number;
}

/** The start of the 24-hour window that ends with the current hour (the current hour is the last slot). */
export function chartSince(now: number): number {
  return Math.floor(now / HOUR_MS) * HOUR_MS - (CHART_HOURS - 1) * HOUR_MS;
}

/** 24 slots, oldest first, filled from the store's (sparse) buckets. */
export function hourSlots(buckets: readonly DeliveryBucket[], since: number): HourSlot[] {
  const byStart = new Map(buckets.map((b) => [b.start, b]));
  return Array.from({ length: CHART_HOURS }, (_, i) => {
    const start = since + i * HOUR_MS;
    const b = byStart.get(start);
    return { start, sent: b?.sent ?? 0, failed: b?.failed ?? 0 };
  });
}

/** A round upper bound for the y axis: 1, 2, 5, 10, 20, 50, ... */
export function niceMax(value: number): number {
  if (value <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * p >= value) return m * p;
  return 10 * p;
}

const hourLabel = (ms: number) => new Date(ms).toISOString().slice(11, 16);

export function deliveryChart(slots: readonly HourSlot[]): SafeHtml {
  const W = 720;
  const H = 220;
  const left = 40;
  const right = 8;
  const top = 12;
  const bottom = 30;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const slotW = plotW / slots.length;
  const barW = Math.max(2, slotW * 0.36);
  const totalSent = slots.reduce((n, s) => n + s.sent, 0);
  const totalFailed = slots.reduce((n, s) => n + s.failed, 0);
  const max = niceMax(Math.max(...slots.map((s) => Math.max(s.sent, s.failed)), 0));
  const ticks = max % 2 === 0 ? [0, max / 2, max] : [0, max];
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const fmt = (v: number) => Number(v.toFixed(1));
  const range = (s: HourSlot) => `${hourLabel(s.start)}–${hourLabel(s.start + HOUR_MS)} UTC`;
  const bar = (s: HourSlot, i: number, kind: 'sent' | 'failed') => {
    const v = s[kind];
    if (!v) return '';
    const x = left + i * slotW + slotW / 2 + (kind === 'sent' ? -barW : 0);
    return html`<rect class="bar-${kind}" x="${fmt(x)}" y="${fmt(y(v))}" width="${fmt(barW)}" height="${fmt(top + plotH - y(v))}"><title>${range(s)}: ${v} ${kind}</title></rect>`;
  };

  const svg = html`<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">
  <title id="chart-title">Messages sent and failed per hour, last 24 hours (UTC)</title>
  <desc id="chart-desc">${totalSent} sent and ${totalFailed} failed in the last 24 hours. The table below the chart has the numbers per hour.</desc>
  ${ticks.map((t) => html`<line class="grid" x1="${left}" x2="${W - right}" y1="${fmt(y(t))}" y2="${fmt(y(t))}"></line><text class="axis-label" x="${left - 6}" y="${fmt(y(t) + 4)}" text-anchor="end">${t}</text>`)}
  ${slots.map((s, i) => html`${bar(s, i, 'sent')}${bar(s, i, 'failed')}`)}
  ${slots.map((s, i) => {
    if ((slots.length - 1 - i) % 3 !== 0) return '';
    const last = i === slots.length - 1;
    return html`<text class="axis-label" x="${fmt(last ? W - right : left + i * slotW + slotW / 2)}" y="${H - 10}" text-anchor="${last ? 'end' : 'middle'}">${hourLabel(s.start)}</text>`;
  })}
</svg>`;

  const table = html`<details class="more"><summary>Numbers per hour</summary>
<div class="table-wrap"><table class="data" data-chart-table>
  <thead><tr><th scope="col">Hour (UTC)</th><th scope="col">Sent</th><th scope="col">Failed</th></tr></thead>
  <tbody>${slots.map((s) => html`<tr><td>${range(s)}</td><td>${s.sent}</td><td>${s.failed}</td></tr>`)}</tbody>
</table></div></details>`;

  return html`<div class="chart-box">
<p class="legend" aria-hidden="true"><span class="l-sent">Sent (${totalSent})</span><span class="l-failed">Failed (${totalFailed})</span></p>
${svg}
${table}
</div>`;
}
