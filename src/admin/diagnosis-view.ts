/**
 * How a diagnosis, a command and a link look on the admin page: the summary, the likely
 * causes, the fixes in order, ready-to-run commands each with a copy button, and links to
 * Microsoft's documentation.
 *
 * Why shared: the Test page, the Diagnostics page and the delivery log's attempt timeline all
 * explain failures with the same `Diagnosis` (src/core/diagnosis), so they must look alike.
 * Links are only ever http(s) (a `javascript:` URL in stored data would be escaped text, not a
 * link).
 *
 * Imports: src/core/diagnosis types, ./html.
 */
import type { Diagnosis } from '../core/diagnosis/types.js';
import { html, type SafeHtml } from './html.js';

/** A command in a dark block with a Copy button (shown by the script). */
export function commandBlock(id: string, command: string): SafeHtml {
  return html`<div class="command"><pre id="${id}"><code>${command}</code></pre><button type="button" class="copy" data-copy="${id}" hidden>Copy</button></div>`;
}

export function commandList(idPrefix: string, commands: readonly string[] | undefined): SafeHtml {
  if (!commands?.length) return html``;
  return html`<div class="commands">${commands.map((cmd, i) => commandBlock(`${idPrefix}-cmd-${i + 1}`, cmd))}</div>`;
}

export function safeLink(url: string): SafeHtml {
  if (!/^https?:\/\/[^\s"'<>]+$/i.test(url)) return html`<span>${url}</span>`;
  return html`<a href="${url}" rel="noreferrer noopener" target="_blank">${url}</a>`;
}

/** The full explanation of a failure. `headingLevel` keeps the page's outline right. */
export function diagnosisBlock(d: Diagnosis, idPrefix: string, headingLevel: 2 | 3 | 4 = 3): SafeHtml {
  const h = (text: string) => {
    if (headingLevel === 2) return html`<h2>${text}</h2>`;
    if (headingLevel === 3) return html`<h3>${text}</h3>`;
    return html`<h4>${text}</h4>`;
  };
  return html`<div class="diagnosis" data-diagnosis="${d.id}">
  <p><strong>${d.summary}</strong></p>
  ${d.causes.length ? html`${h('Likely causes')}<ul>${d.causes.map((cause) => html`<li>${cause}</li>`)}</ul>` : ''}
  ${d.fixes.length ? html`${h('How to fix it')}<ol>${d.fixes.map((fix) => html`<li>${fix}</li>`)}</ol>` : ''}
  ${d.commands?.length ? html`${h('Commands')}${commandList(idPrefix, d.commands)}` : ''}
  ${d.docs?.length ? html`${h('Microsoft documentation')}<ul>${d.docs.map((u) => html`<li>${safeLink(u)}</li>`)}</ul>` : ''}
  <p class="muted">Diagnosis <code>${d.id}</code></p>
</div>`;
}

/** A timestamp as `<time>` in UTC (readable, unambiguous, and the same on every screen). */
export function timeTag(ms: number | undefined): SafeHtml {
  if (ms === undefined || !Number.isFinite(ms)) return html`<span class="muted">—</span>`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}
