/**
 * The "Rotate" panel of one credential (issue 17 item 3): its primary and secondary (kind,
 * expiry, thumbprint or secret hint, when added, the last test, which one is in use), a notice
 * when Entra refused the primary and Mailgate moved to the secondary, and the rotation as one
 * guided sequence of four steps: add the new credential as secondary → Test it → Make primary →
 * Remove the old one. Shown per credential on the Senders tab and, for the credential `default`,
 * on the Email Settings page; ./rotation-routes.ts handles the steps.
 *
 * Why like this: a rotation done in the wrong order is the outage it exists to prevent, so the
 * page shows where the administrator is (the current step is marked, later ones wait) and
 * offers only what makes sense: "Make primary" is enabled only after the secondary passed a
 * test (forcing it is a separate, confirmed action), and removing asks first. Every step is a
 * plain POST form with the CSRF token (works without the script; the script only adds the
 * confirmation dialog). The service decides what is legal; the page only guides.
 *
 * Secrets are write-only: the new secret and certificate fields are always rendered empty, and
 * only what Entra itself shows is displayed (a secret's first characters, a thumbprint).
 * Read-only credentials (MAILGATE_CONFIG, environment variables) show their state and say where
 * to rotate them, with no forms.
 *
 * Imports: the rotation service's types, ../context, ../html, ../form-controls, ../layout,
 * ../diagnosis-view.
 */
import type { CredentialRotationView, CredentialSlotView } from '../../service/settings/credential-rotation-service.js';
import type { Admin } from '../context.js';
import { timeTag } from '../diagnosis-view.js';
import { dateInputType, errorSummary, textControl } from '../form-controls.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField } from '../layout.js';
import type { Session } from '../session.js';

/** Where a step's form returns to (a fixed list: never a URL from the request). */
export type RotationBack = 'senders' | 'settings' | 'rotation';
export const ROTATION_BACKS: readonly RotationBack[] = ['senders', 'settings', 'rotation'];

export type StepId = 'add' | 'test' | 'promote' | 'remove';

/** The outcome of "Test it", shown once on the page that answers the POST. */
export interface RotationTestResult {
  slot: 'primary' | 'secondary';
  ok: boolean;
  code?: string;
  summary?: string;
  fixes?: string[];
}

export interface RotationPanelInput {
  session: Session | undefined;
  back: RotationBack;
  /** The heading level of the panel's title (2 on a page of its own, 3 inside a list). */
  headingLevel?: 2 | 3;
  /** Problems of a refused "add the secondary" (by field: clientSecret, clientCertificate, clientSecretExpires, or _). */
  errors?: Record<string, string>;
  /** What was typed in "Client Secret expires" (secrets are never shown again). */
  typedExpires?: string;
  result?: RotationTestResult;
}

/** The panel's element id: `rotate-<name>` (a credential's name is letters, digits, `.`, `_`, `-`). */
export const panelId = (name: string) => `rotate-${name.replace(/[^A-Za-z0-9._-]/g, '_')}`;

/**
 * Whether the rotation has passed "Make primary": the secondary is then the old credential.
 * Known from when each was added (the newer one is the new credential); without dates, not.
 */
export function promoted(v: CredentialRotationView): boolean {
  const p = v.primary?.addedAt ? Date.parse(v.primary.addedAt) : NaN;
  const s = v.secondary?.addedAt ? Date.parse(v.secondary.addedAt) : NaN;
  if (!v.secondary) return false;
  if (Number.isFinite(p) && Number.isFinite(s)) return s < p;
  return Number.isFinite(p) && !Number.isFinite(s);
}

/** The step the administrator is at. */
export function currentStep(v: CredentialRotationView): StepId {
  if (!v.secondary) return 'add';
  if (promoted(v)) return 'remove';
  return v.secondary.lastTest?.ok ? 'promote' : 'test';
}

const ORDER: readonly StepId[] = ['add', 'test', 'promote', 'remove'];

function when(text: string | undefined): SafeHtml {
  if (!text) return html`<span class="muted">—</span>`;
  // A date without a time (a secret's expiry as typed): shown as the date it is.
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return html`<time datetime="${text}">${text}</time>`;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? timeTag(ms) : html`${text}`;
}

const KIND_TEXT = { secret: 'Client secret', certificate: 'Certificate' } as const;

function identity(s: CredentialSlotView): SafeHtml {
  if (s.thumbprint) return html`Thumbprint <code>${s.thumbprint}</code>`;
  if (s.hint) return html`Starts with <code>${s.hint}</code>`;
  return html`<span class="muted">—</span>`;
}

function lastTest(s: CredentialSlotView): SafeHtml {
  const t = s.lastTest;
  if (!t) return html`<span class="muted">Not tested</span>`;
  return html`<span class="badge badge-${t.ok ? 'pass' : 'fail'}">${t.ok ? 'passed' : 'failed'}</span> ${when(t.at)}${t.code ? html` <code>${t.code}</code>` : ''}${t.summary ? html`<br><span class="muted">${t.summary}</span>` : ''}`;
}

function slotRow(v: CredentialRotationView, slot: 'primary' | 'secondary'): SafeHtml {
  const s = v[slot];
  const label = slot === 'primary' ? 'Primary' : 'Secondary';
  if (!s) {
    return html`<tr data-slot="${slot}" data-empty><th scope="row">${label}</th><td colspan="6" class="muted">${slot === 'secondary' ? 'None: add the new credential as secondary (step 1).' : 'None.'}</td></tr>`;
  }
  const inUse = v.active === slot;
  return html`<tr data-slot="${slot}"${inUse ? html` data-active` : ''}>
    <th scope="row">${label}</th>
    <td data-label="Kind">${KIND_TEXT[s.kind]}</td>
    <td data-label="Expires">${s.expires ? when(s.expires) : html`<span class="muted">Unknown${s.kind === 'secret' ? ' (enter "Client Secret expires")' : ''}</span>`}</td>
    <td data-label="Identity">${identity(s)}</td>
    <td data-label="Added">${when(s.addedAt)}</td>
    <td data-label="Last test" data-last-test>${lastTest(s)}</td>
    <td data-label="In use">${inUse ? html`<span class="badge badge-pass">in use</span>` : html`<span class="muted">standby</span>`}</td>
  </tr>`;
}

function heading(level: 2 | 3, id: string, text: string): SafeHtml {
  return level === 2 ? html`<h2 id="${id}">${text}</h2>` : html`<h3 id="${id}">${text}</h3>`;
}

/**
 * How to rotate a credential that is not stored by Mailgate (no step forms: it is read again at
 * every start), with the one step that changes nothing: a token test of each slot, as the API
 * and `mailgate credentials test` allow for it too.
 */
function readOnlyHelp(a: Admin, p: RotationPanelInput, v: CredentialRotationView): SafeHtml {
  const entra = html`In Entra, add the new secret (or upload the new certificate) to the app registration, keeping the old one (<code>az ad app credential reset --id &lt;clientId&gt; --append</code>, or Certificates &amp; secrets in the portal).`;
  const steps = v.source === 'file'
    ? html`<li>${entra}</li>
    <li>In the file, give the credential a <code>secondary:</code> with the new <code>clientSecret</code> (<code>env:NAME</code> or <code>file:/path</code>) or <code>clientCertificate</code>, and its <code>clientSecretExpires</code>; restart Mailgate. Tokens now fall back to it if Entra refuses the primary.</li>
    <li>Swap the two in the file (the new one as the primary, the old one as the secondary), restart, and check with <code>mailgate doctor</code>.</li>
    <li>Remove the <code>secondary:</code>, restart, and delete the old secret in Entra.</li>`
    : html`<li>${entra}</li>
    <li>Set <code>MAILGATE_CLIENT_SECRET_SECONDARY</code> (or <code>MAILGATE_CLIENT_CERTIFICATE_PATH_SECONDARY</code>) and <code>MAILGATE_CLIENT_SECRET_EXPIRES_SECONDARY</code> to the new credential and restart Mailgate. Tokens now fall back to it if Entra refuses the primary.</li>
    <li>Swap: the new one in <code>MAILGATE_CLIENT_SECRET</code> and <code>MAILGATE_CLIENT_SECRET_EXPIRES</code>, the old one as the secondary; restart and check with <code>mailgate doctor</code>.</li>
    <li>Unset the secondary variables, restart, and delete the old secret in Entra.</li>`;
  return html`<div class="notice notice-info" data-read-only>
  <p>${v.source === 'file' ? html`This credential comes from the configuration file named in <code>MAILGATE_CONFIG</code>` : html`This credential comes from environment variables`}, so it is read-only here. To rotate it without downtime:</p>
  <ol>${steps}</ol>
  <form method="post" action="${a.url('/rotation/test')}" class="actions" data-step-form="test">
    ${hidden(a, p, v)}
    ${v.secondary ? html`<button type="submit" name="slot" value="secondary" class="button">Test the secondary</button>` : ''}
    <button type="submit" name="slot" value="primary" class="button button-secondary">Test the primary</button>
    <span class="hint">A real token request with that credential alone; nothing is changed.</span>
  </form>
</div>`;
}

function hidden(a: Admin, p: RotationPanelInput, v: CredentialRotationView): SafeHtml {
  void a;
  return html`${csrfField(p.session)}<input type="hidden" name="name" value="${v.name}"><input type="hidden" name="back" value="${p.back}">`;
}

function testResultBox(r: RotationTestResult): SafeHtml {
  return html`<div class="outcome ${r.ok ? 'outcome-ok' : 'outcome-fail'}" data-test-result="${r.ok ? 'pass' : 'fail'}" role="${r.ok ? 'status' : 'alert'}">
  <p><strong>The ${r.slot} ${r.ok ? 'passed' : 'failed'} the test.</strong>${r.code ? html` <code>${r.code}</code>` : ''}</p>
  ${r.summary ? html`<p>${r.summary}</p>` : ''}
  ${r.fixes?.length ? html`<h4>How to fix it</h4><ol>${r.fixes.map((f) => html`<li>${f}</li>`)}</ol>` : ''}
</div>`;
}

function steps(a: Admin, p: RotationPanelInput, v: CredentialRotationView): SafeHtml {
  const id = panelId(v.name);
  const current = currentStep(v);
  const at = ORDER.indexOf(current);
  const cls = (s: StepId) => {
    const i = ORDER.indexOf(s);
    return i < at ? 'step step-pass' : i === at ? 'step step-current' : 'step step-skip';
  };
  const mark = (s: StepId) => (s === current ? html` aria-current="step"` : '');
  const e = p.errors ?? {};
  const sec = v.secondary;
  const wasPromoted = promoted(v);
  const tested = sec?.lastTest?.ok === true;
  const expires = p.typedExpires ?? '';

  const add = sec
    ? html`<p class="muted">Done: a secondary is in place. To start over with another one, remove it (step 4) first.</p>`
    : html`<form method="post" action="${a.url('/rotation/secondary')}" novalidate data-step-form="add">
    ${hidden(a, p, v)}
    ${errorSummary(Object.entries(e).map(([k, message]) => (k === '_' ? { message } : { fieldId: `${id}-${k}`, message })), 'The secondary was not added: fix the problems below')}
    <p class="hint">First create the new secret (or upload the new certificate) in Entra's Certificates &amp; secrets, keeping the old one. Then enter it here: it becomes the standby credential, and nothing changes for delivery yet.</p>
    ${textControl({ id: `${id}-clientSecret`, name: 'clientSecret', label: 'New client secret (its Value)', type: 'password', value: '', autocomplete: 'new-password', maxlength: 1024, spellcheck: false, hint: 'Write-only: stored encrypted, never shown again. The Value column, not the Secret ID.', error: e.clientSecret })}
    <details class="more"${e.clientCertificate ? html` open` : ''}><summary>Or a certificate instead of a secret</summary>
    ${textControl({ id: `${id}-clientCertificate`, name: 'clientCertificate', label: 'New certificate and private key (PEM)', multiline: true, value: '', spellcheck: false, hint: 'Write-only, stored encrypted. mailgate cert create writes it as client.pem.', error: e.clientCertificate })}
    </details>
    ${textControl({ id: `${id}-clientSecretExpires`, name: 'clientSecretExpires', label: 'Client Secret expires', type: dateInputType(expires), value: expires, maxlength: 40, hint: 'Optional: the date shown next to the secret in Entra\'s Certificates & secrets. Not for a certificate: its own date is read from it.', error: e.clientSecretExpires })}
    <div class="actions"><button type="submit" class="button">Add as secondary</button></div>
  </form>`;

  const test = sec
    ? html`<form method="post" action="${a.url('/rotation/test')}" class="actions" data-step-form="test">
    ${hidden(a, p, v)}<input type="hidden" name="slot" value="secondary">
    <button type="submit" class="button${current === 'test' ? '' : ' button-secondary'}">Test the secondary</button>
    <span class="hint">A real token request with the secondary alone; delivery is not affected.</span>
  </form>`
    : html`<p class="muted">After step 1.</p>`;

  const promote = sec && !wasPromoted
    ? html`<form method="post" action="${a.url('/rotation/promote')}" class="actions" data-step-form="promote">
    ${hidden(a, p, v)}
    <button type="submit" class="button"${tested ? '' : html` disabled aria-describedby="${id}-promote-why"`}>Make primary</button>
    ${tested ? html`<span class="hint">Tokens then use it; the old one stays as the secondary (the fallback) until you remove it.</span>` : html`<span class="hint" id="${id}-promote-why">Enabled once the secondary has passed a test.</span>`}
  </form>
  ${tested ? '' : html`<details class="more" data-force><summary>Make primary without a passing test…</summary>
    <p class="hint">Only when the test cannot pass from here but you know the credential works (for example a network that blocks the token endpoint from this host). If it is wrong, tokens fall back to the old credential while it is the secondary.</p>
    <form method="post" action="${a.url('/rotation/promote')}" class="actions" data-confirm="Make the untested secondary of ${v.name} the primary credential?" data-step-form="force">
      ${hidden(a, p, v)}<input type="hidden" name="force" value="yes">
      <button type="submit" class="button button-danger">Make primary anyway…</button>
    </form>
  </details>`}`
    : html`<p class="muted">${wasPromoted ? 'Done: the new credential is the primary.' : 'After a passing test.'}</p>`;

  const remove = sec
    ? html`<form method="post" action="${a.url('/rotation/remove')}" class="actions" data-confirm="${wasPromoted ? `Remove the old credential of ${v.name}? Delete it in Entra afterwards.` : `Remove the secondary of ${v.name}? The rotation starts over.`}" data-step-form="remove">
    ${hidden(a, p, v)}
    <button type="submit" class="button ${wasPromoted ? 'button-danger' : 'button-secondary'}">${wasPromoted ? 'Remove the old one…' : 'Remove the secondary…'}</button>
    <span class="hint">${wasPromoted ? 'Then delete the old secret or certificate in Entra too.' : 'Cancels the rotation: the new credential is forgotten.'}</span>
  </form>`
    : html`<p class="muted">After step 3.</p>`;

  return html`<ol class="steps rotation-steps">
  <li class="${cls('add')}" data-step="add"${mark('add')}><h4>1. Add the new credential as secondary</h4>${add}</li>
  <li class="${cls('test')}" data-step="test"${mark('test')}><h4>2. Test it</h4>${test}</li>
  <li class="${cls('promote')}" data-step="promote"${mark('promote')}><h4>3. Make primary</h4>${promote}</li>
  <li class="${cls('remove')}" data-step="remove"${mark('remove')}><h4>4. Remove the old one</h4>${remove}</li>
</ol>`;
}

/** The panel of one credential. */
export function rotationPanel(a: Admin, v: CredentialRotationView, p: RotationPanelInput): SafeHtml {
  const id = panelId(v.name);
  const level = p.headingLevel ?? 3;
  return html`<section class="panel rotation" id="${id}" data-rotation="${v.name}" data-source="${v.source}" aria-labelledby="${id}-heading">
  ${heading(level, `${id}-heading`, `Rotate ${v.name}`)}
  ${v.failover ? html`<p class="notice" role="alert" data-failover>Entra refused the primary credential (<code>${v.failover.code}</code>) at ${when(v.failover.at)}: Mailgate is using the secondary. ${v.readOnly ? 'Swap the two where the credential is configured (see below), then replace the refused one.' : 'Test the secondary and make it primary (steps 2 and 3), then remove the refused one and add its replacement as the new secondary.'}</p>` : ''}
  <div class="table-wrap"><table class="data stack rotation-slots">
    <thead><tr><th scope="col">Slot</th><th scope="col">Kind</th><th scope="col">Expires</th><th scope="col">Identity</th><th scope="col">Added</th><th scope="col">Last test</th><th scope="col">In use</th></tr></thead>
    <tbody>${slotRow(v, 'primary')}${slotRow(v, 'secondary')}</tbody>
  </table></div>
  ${p.result ? testResultBox(p.result) : ''}
  ${v.readOnly ? readOnlyHelp(a, p, v) : steps(a, p, v)}
</section>`;
}

/** The intro above the panels (one place, so the Senders tab and the Email Settings say the same). */
export function rotationIntro(): SafeHtml {
  return html`<p class="lead">Replace a secret or certificate without a moment where mail cannot be sent: the new one is added as the secondary, tested on its own, made primary, and only then is the old one removed. While both are present, tokens fall back to the secondary if Entra refuses the primary.</p>`;
}
