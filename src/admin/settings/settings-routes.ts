/**
 * Routes of the Email Settings page: GET shows the effective settings (stored, overridden by
 * environment variables); POST validates the whole form with the same schema as the API
 * (`SettingsService.update` → `parseSettings`, every problem at once) and either saves it —
 * the settings service writes the audit line (actor `admin`, the changed keys, never secret
 * values) — and redirects back with a confirmation, or shows the form again with every
 * problem next to its field (422). Secrets typed into a failed form are not shown again.
 *
 * Imports: hono, src/core/settings, ../context, ../layout, ./settings-form, ./settings-page.
 */
import { Hono } from 'hono';
import { FIELD_BY_KEY } from '../../core/settings.js';
import { isMailgateError } from '../../core/errors.js';
import type { Admin, AdminEnv } from '../context.js';
import { defaultRotationSection } from '../credentials/rotation-section.js';
import { deliveryPauseNotice } from '../delivery-pause.js';
import { html } from '../html.js';
import { redirect, renderPage } from '../layout.js';
import type { FormBody } from '../form-body.js';
import { readSettingsForm } from './settings-form.js';
import { settingsPageBody } from './settings-page.js';

export const SETTINGS_ACTOR = 'admin';

export function settingsRoutes(a: Admin): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const settings = a.deps.settings;

  app.get('/', async (c) => {
    await settings.refresh().catch(() => false);
    const body = html`${deliveryPauseNotice(a)}${settingsPageBody({ view: settings.view(), session: c.get('session'), action: a.url('/settings'), testUrl: a.url('/test') })}${defaultRotationSection(a, c)}`;
    return renderPage(a, c, { title: 'Email Settings', active: 'settings', body });
  });

  app.post('/', async (c) => {
    const form = (await c.req.parseBody({ all: true })) as FormBody;
    await settings.refresh().catch(() => false);
    const view = settings.view();
    const input = readSettingsForm(form, view);
    let result;
    try {
      result = await settings.update(input.patch, SETTINGS_ACTOR);
    } catch (error) {
      // Other writers kept saving while the change was decided again (SETTINGS_CONFLICT): nothing
      // was saved; the page shows the settings as they are now, with the explanation.
      if (!isMailgateError(error) || error.code !== 'SETTINGS_CONFLICT') throw error;
      const session = c.get('session');
      if (session) session.flash = { kind: 'error', text: error.message };
      return redirect(c, a.url('/settings'));
    }
    if (result.ok) {
      const session = c.get('session');
      const changed = result.changedKeys.map((k) => FIELD_BY_KEY[k].label);
      if (session) {
        session.flash = changed.length
          ? { kind: 'success', text: `Saved. Changed: ${changed.join(', ')}.` }
          : { kind: 'info', text: 'Nothing changed.' };
      }
      return redirect(c, a.url('/settings'));
    }
    const page = settingsPageBody({
      view,
      session: c.get('session'),
      action: a.url('/settings'),
      testUrl: a.url('/test'),
      failed: { submitted: input.submitted, problems: result.problems, typedSecrets: input.typedSecrets },
    });
    const body = html`${page}${defaultRotationSection(a, c)}`;
    return renderPage(a, c, { title: 'Email Settings', active: 'settings', body, status: 422 });
  });

  return app;
}
