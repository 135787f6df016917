/**
 * Microsoft Graph's mail-sending surface as the emulator serves it, on the same HTTPS listener as
 * Entra (the ready line's `graph` is the root, like `https://graph.microsoft.com`):
 *  - `POST /v1.0/users/{id | userPrincipalName}/sendMail`: base64 MIME (`Content-Type: text/plain`)
 *    or JSON (`{"message": ..., "saveToSentItems": ...}`) → `202 Accepted`, empty body;
 *  - the draft + upload-session path (graph-draft-routes.ts);
 *  - `/v1.0/me/...` with an app-only token, and unknown `/v1.0/` paths, answered as Graph does.
 * Every answer carries `request-id` and `client-request-id` (the client's, else the request id).
 * The order of the checks is in graph-request.ts; the decisions in graph-access.ts; the error
 * texts in graph-errors.ts.
 *
 * Why it exists: the product's Graph transport must be tested over real HTTPS against answers
 * shaped like Graph's, with the tenant state deciding, like the SMTP side.
 *
 * Imports: hono, ./graph-request.ts, ./graph-draft-routes.ts, ./graph-access.ts, ./graph-errors.ts,
 * ./access-token.ts, ./http-runtime.ts (types).
 */
import { Hono } from 'hono';
import { verifyAccessToken } from './access-token.js';
import { bearerToken, decideGraphToken } from './graph-access.js';
import { graphApplicationRoutes } from './graph-applications.js';
import { graphDraftRoutes } from './graph-draft-routes.js';
import { GRAPH_ERRORS } from './graph-errors.js';
import { graphRequestKit } from './graph-request.js';
import type { HttpRuntime } from './http-runtime.js';

const CANONICAL_SEGMENTS = new Map(['v1.0', 'users', 'me', 'sendMail', 'messages', 'attachments', 'createUploadSession', 'send'].map((x) => [x.toLowerCase(), x]));

/**
 * Graph's paths are case-insensitive (`/sendmail` works like `/sendMail`); the router is not, so
 * the fixed segments of a `/v1.0/` path are put in canonical case (ids and addresses untouched).
 */
export function canonicalGraphPath(path: string): string {
  if (!/^\/v1\.0\//i.test(path)) return path;
  return path.split('/').map((segment, i, all) => {
    const canonical = CANONICAL_SEGMENTS.get(segment.toLowerCase());
    // Position 3 is the user (`/v1.0/users/{id}`) and 5 the message id: never rewritten.
    return canonical && !(all[2]?.toLowerCase() === 'users' && (i === 3 || i === 5)) ? canonical : segment;
  }).join('/');
}

export function graphRoutes(rt: HttpRuntime): Hono {
  const app = new Hono();
  const kit = graphRequestKit(rt);
  const { begin, fail, refused, userRequest, accept, messageInput, jsonAttachments, composeJson } = kit;

  // ---- sendMail -------------------------------------------------------------------------------
  app.post('/v1.0/users/:user/sendMail', (c) => userRequest(c, 'sendMail', 'Mail.Send', async (ctx, a) => {
    const input = messageInput(ctx, a.body, true);
    if (!input.ok) return input.response;
    if (input.kind === 'mime') return accept(ctx, a, input.raw, 'sendMail-mime', true);
    const atts = jsonAttachments(ctx, input.message);
    if (!atts.ok) return atts.response;
    const raw = composeJson(input.message, a.mailbox.address, atts.attachments);
    return accept(ctx, a, raw, 'sendMail-json', input.saveToSentItems);
  }));

  app.route('/', graphDraftRoutes(rt, kit));
  app.route('/', graphApplicationRoutes(rt, kit));

  // ---- what app-only callers get wrong --------------------------------------------------------
  app.post('/v1.0/me/*', async (c) => {
    const ctx = begin(c, 'other');
    const token = bearerToken(c.req.header('authorization'));
    const verified = token ? verifyAccessToken(token, rt.signingKey, Math.floor(Date.now() / 1000)) : undefined;
    const auth = decideGraphToken(rt.getState(), token, verified);
    if (!auth.ok) return refused(ctx, auth);
    return fail(ctx, GRAPH_ERRORS.meWithAppToken, '/me with an app-only token (use /users/{Authorized from Address})');
  });

  app.all('/v1.0/*', (c) => {
    const ctx = begin(c, 'other');
    const segment = new URL(c.req.url).pathname.split('/').filter(Boolean).at(-1) ?? '';
    return fail(ctx, { status: 400, code: 'BadRequest', message: '' }, `no emulated Graph endpoint at ${c.req.method} ${new URL(c.req.url).pathname}`,
      `Resource not found for the segment '${segment}'.`);
  });

  return app;
}
