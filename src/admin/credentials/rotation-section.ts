/**
 * Where the Rotate panels appear: on the Senders tab, one per credential under the credentials
 * list (each folded under a one-line summary, open when a rotation is under way, Entra refused
 * the primary, or a step just returned to it); on the Email Settings page, the panel of the
 * credential `default` (the Email Settings' own app registration).
 *
 * Why folded on the Senders tab: an installation may have many credentials, and a rotation is
 * rare; `<details>` keeps the list short and works without the script (a step's redirect names
 * the credential in `?rotate=`, which opens its panel).
 *
 * Imports: the rotation service's types, ../context, ../html, ./rotation-panel.
 */
import type { CredentialRotationView, CredentialSlotView } from '../../service/settings/credential-rotation-service.js';
import type { Admin, AdminContext } from '../context.js';
import { html, type SafeHtml } from '../html.js';
import { rotationIntro, rotationPanel } from './rotation-panel.js';

function slotText(s: CredentialSlotView | null): string {
  if (!s) return 'none';
  const kind = s.kind === 'certificate' ? 'certificate' : 'client secret';
  return s.expires ? `${kind}, expires ${s.expires.slice(0, 10)}` : kind;
}

function summaryLine(v: CredentialRotationView): SafeHtml {
  return html`<strong>${v.name}</strong>: primary ${slotText(v.primary)} · secondary ${slotText(v.secondary)}${v.failover ? html` · <span class="badge badge-fail">using the secondary</span>` : ''}${v.readOnly ? html` · <span class="muted">read-only</span>` : ''}`;
}

/** The Senders tab's section: every credential's panel. */
export function rotationSection(a: Admin, c: AdminContext, o: { open?: string } = {}): SafeHtml {
  const svc = a.deps.credentialRotation;
  if (!svc) return html``;
  const views = svc.list();
  if (!views.length) return html``;
  const wanted = o.open?.toLowerCase();
  return html`<h2 id="rotate-heading">Rotate credentials</h2>
${rotationIntro()}
${views.map((v) => {
    const open = views.length === 1 || v.secondary !== null || v.failover !== undefined || wanted === v.name.toLowerCase();
    return html`<details class="rotation-wrap" data-rotation-wrap="${v.name}"${open ? html` open` : ''}>
  <summary>${summaryLine(v)}</summary>
  ${rotationPanel(a, v, { session: c.get('session'), back: 'senders', headingLevel: 3 })}
</details>`;
  })}`;
}

/** The Email Settings page's section: the panel of the credential `default`. */
export function defaultRotationSection(a: Admin, c: AdminContext): SafeHtml {
  const v = a.deps.credentialRotation?.get('default');
  if (!v) return html``;
  return html`<h2 id="rotate-heading">Rotate the credential without downtime</h2>
${rotationIntro()}
${rotationPanel(a, v, { session: c.get('session'), back: 'settings', headingLevel: 3 })}`;
}
