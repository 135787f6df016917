/**
 * Email Settings routes (admin): read without secrets, replace with full validation, send a
 * test message now (an invalid recipient is a 422 problem, as on every route).
 *
 * Imports: hono, zod, ../auth, ../problem, ../deps, ../../../settings/settings-store types.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { addressProblems } from '../../../../core/message.js';
import { FIELD_BY_KEY } from '../../../../core/settings.js';
import type { SettingsView } from '../../../settings/settings-store.js';
import { requireScope, type AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { readJsonBody } from '../json-body.js';
import { validationProblem } from '../problem.js';
import { zodProblems } from '../../zod-problems.js';

export const testSchema = z.strictObject({ to: z.string().min(1).max(320).meta({ description: 'The address that receives the test message.' }) });

/** The GET/PUT response: the public values flat, then validity, problems and sources. */
export function settingsBody(v: SettingsView): Record<string, unknown> {
  return { ...v.values, valid: v.valid, problems: v.problems, warnings: v.warnings, sources: v.sources, version: v.version };
}

export function settingsRoutes(d: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', requireScope(d.store, 'admin', d.dataDir));

  app.get('/', (c) => c.json(settingsBody(d.settings.view())));

  app.put('/', async (c) => {
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    if (!body.value || typeof body.value !== 'object' || Array.isArray(body.value)) {
      return validationProblem([{ key: 'body', message: 'body: must be a JSON object of settings' }]);
    }
    const r = await d.settings.update(body.value as Record<string, unknown>, `api-key:${c.get('apiKey').name}`);
    if (!r.ok && r.reenter.length) {
      // A destination of a credential changed without the credential: say what to enter again.
      const names = r.reenter.map((k) => `${FIELD_BY_KEY[k].label} (${k})`).join(', ');
      return validationProblem(r.problems, `The settings were not saved: where credentials are sent changes only together with the credentials. Enter again (or clear) in the same request: ${names}; errors says how for each.`, { reenter: r.reenter });
    }
    if (!r.ok) return validationProblem(r.problems, 'The settings were not saved; every problem is listed in errors.');
    return c.json(settingsBody(r.view));
  });

  app.post('/test', async (c) => {
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    const parsed = testSchema.safeParse(body.value);
    if (!parsed.success) return validationProblem(zodProblems(parsed.error, body.value));
    // An invalid recipient is the request's fault: 422 like every other route (it was 200
    // {"ok":false,"code":"ARGUMENT_INVALID"}), and no mailer is built for it.
    const invalid = addressProblems('to', parsed.data.to);
    if (invalid.length) return validationProblem(invalid, 'The test message was not sent; every problem is listed in errors.');
    const result = await d.sendTest(parsed.data.to);
    if (!result.ok && result.error.code === 'ARGUMENT_INVALID') {
      return validationProblem(result.error.problems?.length ? result.error.problems : [{ key: 'to', message: result.error.message }], 'The test message was not sent; every problem is listed in errors.');
    }
    return c.json(result);
  });

  return app;
}
