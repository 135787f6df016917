/**
 * The notice shown while the delivery worker has paused delivery after a configuration
 * failure (Exchange or Entra ID refused the credentials): until when, why, and what ends it.
 *
 * Why: after such a failure the worker holds the whole queue for a while instead of failing
 * every message (`WorkerActivity.paused`). An administrator who fixed the tenant and pressed
 * "Retry delivery" must see why nothing is sent yet, and that saving a change to the Email
 * Settings or waiting ends the pause.
 *
 * Imports: ./context, ./html, ./diagnosis-view.
 */
import type { Admin } from './context.js';
import { timeTag } from './diagnosis-view.js';
import { html, type SafeHtml } from './html.js';

export function deliveryPauseNotice(a: Admin): SafeHtml {
  const paused = a.deps.worker?.activity().paused;
  if (!paused || paused.until <= a.deps.now()) return html``;
  return html`<div class="notice" role="status" data-delivery-paused>
  <strong>Delivery is paused</strong> until ${timeTag(paused.until)} because the configuration was refused (<code>${paused.code}</code>)${paused.summary ? html`: ${paused.summary}` : '.'}
  Queued messages wait. Delivery resumes at that time, or as soon as the <a href="${a.url('/settings')}">Email Settings</a> are saved with a change. <a href="${a.url('/diagnostics')}">Run diagnostics</a> to find the cause.
</div>`;
}
