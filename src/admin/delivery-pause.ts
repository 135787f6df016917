/**
 * The notice shown while the delivery worker has paused delivery after a configuration
 * failure (Exchange or Entra ID refused the credentials): until when, why, and what ends it.
 *
 * Why: after such a failure the worker holds the whole queue for a while instead of failing
 * every message (`WorkerActivity.paused`). An administrator who fixed the tenant and pressed
 * "Retry delivery" must see why nothing is sent yet, and that saving a change to the Email
 * Settings or waiting ends the pause.
 *
 * The same place says when delivery cannot work at all (an unusable credential file, a delivery
 * thread that keeps ending), which /readyz only names.
 *
 * Imports: ./context, ./html, ./diagnosis-view.
 */
import type { Admin } from './context.js';
import { timeTag } from './diagnosis-view.js';
import { html, type SafeHtml } from './html.js';

export function deliveryPauseNotice(a: Admin): SafeHtml {
  return html`${stoppedNotice(a)}${pausedNotice(a)}`;
}

/**
 * Delivery cannot work at all with the settings in effect (an unreadable certificate file) or
 * the delivery thread keeps ending: what /readyz only names, with the detail (already scrubbed
 * of the secrets in effect by the service).
 */
function stoppedNotice(a: Admin): SafeHtml {
  const problems = [a.deps.deliveryProblem?.(), a.deps.deliveryThreadProblem?.()].filter((p): p is string => !!p);
  if (!problems.length) return html``;
  return html`<div class="notice" role="alert" data-delivery-stopped>
  <strong>Delivery is stopped:</strong> ${problems.join('; ')}. Queued messages wait. Fix the <a href="${a.url('/settings')}">Email Settings</a> or <a href="${a.url('/diagnostics')}">run diagnostics</a>.
</div>`;
}

function pausedNotice(a: Admin): SafeHtml {
  const paused = a.deps.worker?.activity().paused;
  if (!paused || paused.until <= a.deps.now()) return html``;
  return html`<div class="notice" role="status" data-delivery-paused>
  <strong>Delivery is paused</strong> until ${timeTag(paused.until)} because the configuration was refused (<code>${paused.code}</code>)${paused.summary ? html`: ${paused.summary}` : '.'}
  Queued messages wait. Delivery resumes at that time, or as soon as the <a href="${a.url('/settings')}">Email Settings</a> are saved with a change. <a href="${a.url('/diagnostics')}">Run diagnostics</a> to find the cause.
</div>`;
}
