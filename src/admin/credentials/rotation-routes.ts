/**
 * The steps of a credential rotation on the admin page (issue 17 item 3), each a POST form with
 * the CSRF token (checked by the guard for every POST), answered with a redirect back to the
 * page it came from and a flash message saying what happened and what comes next:
 *
 *   GET  /rotation?name=            one credential's Rotate panel on a page of its own
 *   POST /rotation/secondary        1. add the new credential as secondary (secret or PEM, expiry)
 *   POST /rotation/test             2. Test it: a real token request with that credential alone
 *   POST /rotation/promote          3. Make primary (`force=yes`: without a passing test; confirmed first)
 *   POST /rotation/remove           4. Remove the old one (the secondary; confirmed first)
 *
 * Why this shape: everything the rotation may or may not do is the service's decision
 * (`CredentialRotation`, the same one the API and `mailgate credentials` use, which audits each
 * step); a refused step comes back as a MailgateError whose message says what to do, shown as
 * is. The page adds only what a browser needs: confirmations without the script (a page of its
 * own), a failed test shown with its diagnosis and fixes (a redirect would lose them), and a
 * refused "add" shown again with the problem at its field and the secrets never echoed.
 *
 * Imports: hono, core/errors, the rotation service's types, ../context, ../layout, ../html,
 * ../form-body, ./rotation-panel.
 */
import { Hono } from 'hono';
import { isMailgateError } from '../../core/errors.js';
import type { CredentialRotation, CredentialRotationView } from '../../service/settings/credential-rotation-service.js';
import type { Admin, AdminContext, AdminEnv } from '../context.js';
import { lastString, type FormBody } from '../form-body.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField, redirect, renderPage } from '../layout.js';
import { panelId, promoted, ROTATION_BACKS, rotationIntro, rotationPanel, type RotationBack, type RotationTestResult } from './rotation-panel.js';

/** The actor written to the audit trail for steps taken on the admin page. */
export const ROTATION_ACTOR = 'admin';

const MAX_SECRET = 1024;
const MAX_PEM = 65_536;

const text = (body: FormBody, name: string, max: number) => (lastString(body, name) ?? '').slice(0, max);

function backOf(body: FormBody): RotationBack {
  const b = lastString(body, 'back');
  return (ROTATION_BACKS as readonly string[]).includes(b ?? '') ? (b as RotationBack) : 'rotation';
}

/** Where a step returns to: a fixed path per page, the panel as the fragment. */
export function backUrl(a: Admin, back: RotationBack, name: string): string {
  const q = encodeURIComponent(name);
  if (back === 'senders') return a.url(`/senders?rotate=${q}#${panelId(name)}`);
  if (back === 'settings') return a.url(`/settings#${panelId(name)}`);
  return a.url(`/rotation?name=${q}`);
}

/** A refusal the service explains (a MailgateError: rotation-step-invalid, credential-read-only, credential-not-found…). */
function explained(error: unknown): { message: string; problems: { key: string; message: string }[] } | undefined {
  // The credential went away between the page and the POST (the service's not-found error).
  if (error instanceof Error && error.name === 'CredentialNotFoundError') return { message: error.message, problems: [] };
  if (!isMailgateError(error)) return undefined;
  return { message: error.message, problems: error.problems ?? [] };
}

function flash(c: AdminContext, kind: 'success' | 'error' | 'info', message: string): void {
  const session = c.get('session');
  if (session) session.flash = { kind, text: message };
}

function unavailable(a: Admin, c: AdminContext): Response {
  return renderPage(a, c, { title: 'Rotate a credential', active: 'senders', status: 501, body: html`<p class="notice">Credential rotation is not available in this service. <a href="${a.url('/senders')}">Go to the Senders</a>.</p>` });
}

/** A summary as a sentence (ending with a full stop). */
const sentence = (t: string) => (/[.!?]$/.test(t.trim()) ? t.trim() : `${t.trim()}.`);

function slotName(v: CredentialRotationView): string {
  return v.secondary?.kind === 'certificate' ? 'certificate' : 'secret';
}

function panelPage(a: Admin, c: AdminContext, v: CredentialRotationView, o: { errors?: Record<string, string>; typedExpires?: string; result?: RotationTestResult; status?: number; flash?: { kind: 'success' | 'error' | 'info'; text: string } } = {}): Response {
  const body = html`${rotationIntro()}
${rotationPanel(a, v, { session: c.get('session'), back: 'rotation', headingLevel: 2, errors: o.errors, typedExpires: o.typedExpires, result: o.result })}
<p><a href="${a.url(v.name === 'default' ? '/settings' : '/senders')}">Back to the ${v.name === 'default' ? 'Email Settings' : 'Senders'}</a></p>`;
  return renderPage(a, c, { title: `Rotate ${v.name}`, active: v.name === 'default' ? 'settings' : 'senders', body, status: o.status, ...(o.flash ? { flash: o.flash } : {}) });
}

function confirmPage(a: Admin, c: AdminContext, o: { name: string; back: RotationBack; action: string; question: string; detail: SafeHtml; button: string; extra?: SafeHtml }): Response {
  const body = html`<section class="panel" aria-labelledby="confirm-heading" data-confirm-rotation="${o.name}">
  <h2 id="confirm-heading" tabindex="-1" data-focus>${o.question}</h2>
  ${o.detail}
  <form method="post" action="${a.url(o.action)}" class="actions">
    ${csrfField(c.get('session'))}
    <input type="hidden" name="name" value="${o.name}">
    <input type="hidden" name="back" value="${o.back}">
    ${o.extra ?? ''}
    <input type="hidden" name="confirmed" value="yes">
    <button type="submit" class="button button-danger">${o.button}</button>
    <a class="button button-secondary" href="${backUrl(a, o.back, o.name)}">Cancel</a>
  </form>
</section>`;
  return renderPage(a, c, { title: 'Confirm', active: o.name === 'default' && o.back === 'settings' ? 'settings' : 'senders', body });
}

/** The field a problem of "add the secondary" belongs to. */
function fieldOf(key: string): string {
  for (const k of ['clientSecretExpires', 'clientSecret', 'clientCertificate']) if (key === k || key.endsWith(`.${k}`) || key.startsWith(`${k}`)) return k;
  return '_';
}

export function rotationRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const svcOf = (): CredentialRotation | undefined => a.deps.credentialRotation;

  /**
   * The credential a POST names, or a redirect with the reason. Steps that change a credential
   * are refused for a read-only one (environment, MAILGATE_CONFIG); a test (`readOnlyOk`)
   * changes nothing and is allowed, as in the API and the CLI.
   */
  async function target(c: AdminContext, svc: CredentialRotation, readOnlyOk = false): Promise<{ body: FormBody; back: RotationBack; view: CredentialRotationView } | Response> {
    const body = (await c.req.parseBody({ all: true })) as FormBody;
    const back = backOf(body);
    const name = text(body, 'name', 64).trim();
    const view = name ? svc.get(name) : undefined;
    if (!view) {
      flash(c, 'error', 'There is no such credential.');
      return redirect(c, a.url(back === 'settings' ? '/settings' : '/senders'));
    }
    if (view.readOnly && !readOnlyOk) {
      flash(c, 'error', `The credential ${view.name} is ${view.source === 'file' ? 'configured by MAILGATE_CONFIG: rotate it in the file' : 'set by environment variables: rotate it there'}.`);
      return redirect(c, backUrl(a, back, view.name));
    }
    return { body, back, view };
  }

  /** Runs one step; a refusal the service explains becomes an error flash on the page it came from. */
  function refused(c: AdminContext, error: unknown, back: RotationBack, name: string, step: string): Response {
    const e = explained(error);
    if (!e) throw error;
    a.deps.logger.info({ credential: name, step, code: (error as { code?: string }).code }, 'admin page: rotation step refused');
    flash(c, 'error', e.message);
    return redirect(c, backUrl(a, back, name));
  }

  app.get('/', (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const v = svc.get((c.req.query('name') ?? '').slice(0, 64));
    if (!v) {
      flash(c, 'error', 'There is no such credential.');
      return redirect(c, a.url('/senders'));
    }
    return panelPage(a, c, v);
  });

  app.post('/secondary', async (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const t = await target(c, svc);
    if (t instanceof Response) return t;
    const { body, back, view } = t;
    // Write-only: typed values go to the service and are never put back into a page.
    const secret = text(body, 'clientSecret', MAX_SECRET).trim();
    const pem = text(body, 'clientCertificate', MAX_PEM).replace(/\r\n/g, '\n').trim();
    const expires = text(body, 'clientSecretExpires', 40).trim();
    const errors: Record<string, string> = {};
    if (!secret && !pem) errors.clientSecret = 'Enter the new client secret\'s Value, or paste a certificate and its private key.';
    if (secret && pem) errors.clientSecret = 'Enter either a client secret or a certificate, not both.';
    if (!Object.keys(errors).length) {
      try {
        await svc.addSecondary(view.name, { ...(secret ? { clientSecret: secret } : {}), ...(pem ? { clientCertificate: pem } : {}), ...(expires ? { clientSecretExpires: expires } : {}) }, ROTATION_ACTOR);
        flash(c, 'success', `The new ${pem ? 'certificate' : 'secret'} of ${view.name} was added as the secondary. Next: test it.`);
        return redirect(c, backUrl(a, back, view.name));
      } catch (error) {
        const e = explained(error);
        // A step refused by the flow (a secondary exists already, read-only, gone): explained in the flash.
        if (!e?.problems.length) return refused(c, error, back, view.name, 'add');
        for (const p of e.problems) errors[fieldOf(p.key)] ??= p.message;
      }
    }
    a.deps.logger.info({ credential: view.name, fields: Object.keys(errors) }, 'admin page: secondary credential not added');
    return panelPage(a, c, svc.get(view.name) ?? view, { errors, typedExpires: expires, status: 422 });
  });

  app.post('/test', async (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const t = await target(c, svc, true);
    if (t instanceof Response) return t;
    const { body, back, view } = t;
    const slot = lastString(body, 'slot') === 'primary' ? 'primary' : 'secondary';
    let r: Awaited<ReturnType<CredentialRotation['test']>>;
    try {
      r = await svc.test(view.name, slot, ROTATION_ACTOR);
    } catch (error) {
      return refused(c, error, back, view.name, 'test');
    }
    const after = svc.get(view.name) ?? view;
    if (r.ok) {
      const next = slot === 'secondary' && !promoted(after) ? ' Next: make it primary.' : '';
      flash(c, 'success', `The ${slot} ${slotName(after)} of ${view.name} passed the test${r.summary ? `: ${sentence(r.summary)}` : '.'}${next}`);
      return redirect(c, backUrl(a, back, view.name));
    }
    // A failure is shown with its diagnosis and fixes on the panel's own page (a redirect would lose them).
    return panelPage(a, c, after, {
      result: { slot, ok: false, code: r.code, summary: r.summary, fixes: r.fixes },
      flash: { kind: 'error', text: `The ${slot} of ${view.name} failed the test${r.code ? ` (${r.code})` : ''}: nothing was changed.` },
    });
  });

  app.post('/promote', async (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const t = await target(c, svc);
    if (t instanceof Response) return t;
    const { body, back, view } = t;
    const force = lastString(body, 'force') === 'yes';
    if (force && lastString(body, 'confirmed') !== 'yes') {
      return confirmPage(a, c, {
        name: view.name, back, action: '/rotation/promote', question: `Make the untested secondary of ${view.name} the primary?`, button: 'Make primary anyway',
        detail: html`<p>The secondary has not passed a test. Tokens will be requested with it first; if Entra refuses it, Mailgate falls back to the old credential while that is still the secondary.</p>`,
        extra: html`<input type="hidden" name="force" value="yes">`,
      });
    }
    try {
      await svc.promote(view.name, ROTATION_ACTOR, force ? { force: true } : undefined);
    } catch (error) {
      return refused(c, error, back, view.name, 'promote');
    }
    flash(c, 'success', `The new credential of ${view.name} is now the primary; the old one is the secondary. Next: remove the old one, then delete it in Entra.`);
    return redirect(c, backUrl(a, back, view.name));
  });

  app.post('/remove', async (c) => {
    const svc = svcOf();
    if (!svc) return unavailable(a, c);
    const t = await target(c, svc);
    if (t instanceof Response) return t;
    const { body, back, view } = t;
    const old = promoted(view);
    if (lastString(body, 'confirmed') !== 'yes') {
      return confirmPage(a, c, {
        name: view.name, back, action: '/rotation/remove', question: old ? `Remove the old credential of ${view.name}?` : `Remove the secondary of ${view.name}?`, button: old ? 'Remove the old one' : 'Remove the secondary',
        detail: old
          ? html`<p>Mailgate forgets it; tokens use the primary only. Delete the old secret or certificate in Entra's Certificates &amp; secrets afterwards.</p>`
          : html`<p>The secondary has not been made primary: removing it cancels the rotation.</p>`,
      });
    }
    try {
      await svc.removeSecondary(view.name, ROTATION_ACTOR);
    } catch (error) {
      return refused(c, error, back, view.name, 'remove');
    }
    flash(c, 'success', old ? `The old credential of ${view.name} was removed. Delete it in Entra too.` : `The secondary of ${view.name} was removed.`);
    return redirect(c, backUrl(a, back, view.name));
  });

  return app;
}
