/**
 * The rotation steps of a credential (issue 17 item 3), admin scope, under
 * /api/v1/credentials/{name}: GET rotation, POST secondary (add), POST test, POST promote,
 * DELETE secondary. Bodies are parsed once here with zod (the body size is limited before it is
 * read, by the app's body limit); the steps and their rules are the rotation service's
 * (service/settings/credential-rotation-service.ts). Answers are problem+json: 404 unknown
 * credential, 409 `rotation-step-invalid` (with what to do next) or `credential-read-only`
 * (MAILGATE_CONFIG or environment), 422 invalid values. A secret is accepted, never returned.
 *
 * Imports: hono, zod, the rotation service (types and the failure mapping), ../auth, ../deps,
 * ../json-body, ../problem.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { rotationFailure } from '../../../settings/credential-rotation-service.js';
import { requireScope, type AppEnv } from '../auth.js';
import type { AppDeps } from '../deps.js';
import { readJsonBody } from '../json-body.js';
import { problemResponse, validationProblem } from '../problem.js';

export const secondaryBodySchema = z.strictObject({
  clientSecret: z.string().min(1).max(1024).optional(),
  clientCertificate: z.string().min(1).max(65_536).optional(),
  clientSecretExpires: z.string().max(40).optional(),
});
export const testBodySchema = z.strictObject({ slot: z.enum(['primary', 'secondary']).optional() });
export const promoteBodySchema = z.strictObject({ force: z.boolean().optional() });

function failed(error: unknown): Response {
  const f = rotationFailure(error);
  if (!f) throw error;
  if (f.status === 422) return validationProblem(f.problems ?? [{ key: 'body', message: f.detail }]);
  return problemResponse(f.status, f.type, f.title, { detail: f.detail });
}

function bodyProblems(error: z.ZodError): { key: string; message: string }[] {
  return error.issues.map((i) => {
    const key = i.path.length ? i.path.map(String).join('.') : 'body';
    // Never echo a value (it may be a secret): the key and the rule only.
    const message = i.code === 'unrecognized_keys' ? `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
    return { key, message: `${key}: ${message}` };
  });
}

/** Mounted on /api/v1/credentials next to the credential routes. */
export function credentialRotationRoutes(d: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const admin = requireScope(d.store, 'admin', d.dataDir);
  const actor = (c: { get(k: 'apiKey'): { name: string } }) => `api-key:${c.get('apiKey').name}`;
  const unavailable = () => problemResponse(501, 'not-implemented', 'Credential rotation is not available in this service');

  app.get('/:name/rotation', admin, (c) => {
    if (!d.credentialRotation) return unavailable();
    const v = d.credentialRotation.get(c.req.param('name'));
    return v ? c.json(v) : problemResponse(404, 'not-found', 'Not found', { detail: 'No such credential.' });
  });
  app.post('/:name/secondary', admin, async (c) => {
    if (!d.credentialRotation) return unavailable();
    const body = await readJsonBody(c);
    if (!body.ok) return body.response;
    const parsed = secondaryBodySchema.safeParse(body.value);
    if (!parsed.success) return validationProblem(bodyProblems(parsed.error));
    try {
      return c.json(await d.credentialRotation.addSecondary(c.req.param('name'), parsed.data, actor(c)), 201);
    } catch (error) {
      return failed(error);
    }
  });
  app.post('/:name/test', admin, async (c) => {
    if (!d.credentialRotation) return unavailable();
    const body = await readJsonBody(c, { optional: true });
    if (!body.ok) return body.response;
    const parsed = testBodySchema.safeParse(body.value ?? {});
    if (!parsed.success) return validationProblem(bodyProblems(parsed.error));
    const name = c.req.param('name');
    // Without a slot: the secondary when there is one (the step of a rotation), else the primary.
    const slot = parsed.data.slot ?? (d.credentialRotation.get(name)?.secondary ? 'secondary' : 'primary');
    try {
      const result = await d.credentialRotation.test(name, slot, actor(c));
      return c.json({ slot, ...result, credential: d.credentialRotation.get(name) });
    } catch (error) {
      return failed(error);
    }
  });
  app.post('/:name/promote', admin, async (c) => {
    if (!d.credentialRotation) return unavailable();
    const body = await readJsonBody(c, { optional: true });
    if (!body.ok) return body.response;
    const parsed = promoteBodySchema.safeParse(body.value ?? {});
    if (!parsed.success) return validationProblem(bodyProblems(parsed.error));
    try {
      return c.json(await d.credentialRotation.promote(c.req.param('name'), actor(c), parsed.data.force ? { force: true } : {}));
    } catch (error) {
      return failed(error);
    }
  });
  app.delete('/:name/secondary', admin, async (c) => {
    if (!d.credentialRotation) return unavailable();
    try {
      return c.json(await d.credentialRotation.removeSecondary(c.req.param('name'), actor(c)));
    } catch (error) {
      return failed(error);
    }
  });
  return app;
}
