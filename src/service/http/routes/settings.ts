/**
 * Email Settings routes (admin): read without secrets, replace with full validation, send a
 * test message now.
 *
 * Imports: hono, zod, ../auth, ../problem, ../deps, ../../settings-store types.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import type { SettingsView } from '../../settings-store.js';
import { requireScope, type AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { readJsonBody } from '../json-body.js';
import { validationProblem } from '../problem.js';

const testSchema = z.strictObject({ to: z.string().min(1, 'is required').max(320) });

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
    if (!r.ok) return validationProblem(r.problems, 'The settings were not saved; every problem is listed in errors.');
    return c.json(settingsBody(r.view));
  });

  app.post('/test', async (c) => {
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    const parsed = testSchema.safeParse(body.value);
    if (!parsed.success) {
      return validationProblem(parsed.error.issues.map((i) => {
        const key = i.code === 'unrecognized_keys' ? i.keys.join(', ') : i.path.join('.') || 'to';
        return { key, message: `${key}: ${i.code === 'unrecognized_keys' ? 'unknown field' : i.message}` };
      }));
    }
    return c.json(await d.sendTest(parsed.data.to));
  });

  return app;
}
