/**
 * The emulator's admin API under `{authorityHost}/_emulator`: what was sent (`messages`,
 * `messages/{id}/raw`), the tenant state (`GET`/`PUT state`, validated: a bad state is a 400
 * listing every problem), the activity log (`log`), scripted faults (`GET`/`POST`/`DELETE
 * faults`) and counters (`GET`/`DELETE stats`).
 *
 * Why it exists: out-of-process users (the CLI emulator, `mailgate dev`, other languages) need
 * the same control and visibility the in-process helpers give tests. It is unauthenticated
 * and meant for 127.0.0.1 only (the state it serves holds the fake tenant's secrets).
 *
 * Imports: hono, ./http-runtime.ts, ./state.ts, ./faults.ts.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { parseFaults } from './faults.js';
import type { HttpRuntime } from './http-runtime.js';
import { parseState } from './state.js';

/** Reads a JSON body; `undefined` (and a 400 already built) when it is not JSON. */
async function readJson(c: Context): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const text = await c.req.text().catch(() => '');
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, response: c.json({ error: 'invalid_json', problems: [`the body is not JSON: ${err instanceof Error ? err.message : String(err)}`] }, 400) };
  }
}

export function adminRoutes(rt: HttpRuntime): Hono {
  const app = new Hono();

  app.get('/', (c) => c.json({
    endpoints: ['GET messages', 'DELETE messages', 'GET messages/{id}/raw', 'GET state', 'PUT state', 'GET log', 'DELETE log',
      'GET faults', 'POST faults', 'DELETE faults', 'GET stats', 'DELETE stats'],
  }));

  app.get('/messages', (c) => c.json(rt.store.list()));
  app.delete('/messages', (c) => {
    rt.store.clear();
    return c.body(null, 204);
  });
  app.get('/messages/:id/raw', (c) => {
    const raw = rt.store.raw(c.req.param('id'));
    if (!raw) return c.json({ error: 'not_found', problems: [`no stored message ${c.req.param('id')}`] }, 404);
    return c.body(new Uint8Array(raw), 200, { 'Content-Type': 'message/rfc822' });
  });

  app.get('/state', (c) => c.json(rt.getState()));
  app.put('/state', async (c) => {
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = parseState(body.value);
    if (!parsed.ok) return c.json({ error: 'invalid_state', problems: parsed.problems }, 400);
    rt.replaceState(parsed.state);
    return c.json(parsed.state);
  });

  app.get('/log', (c) => c.json(rt.log.entries()));
  app.delete('/log', (c) => {
    rt.log.clear();
    return c.body(null, 204);
  });

  app.get('/faults', (c) => c.json(rt.faults.current()));
  app.post('/faults', async (c) => {
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = parseFaults(body.value);
    if (!parsed.ok) return c.json({ error: 'invalid_faults', problems: parsed.problems }, 400);
    rt.faults.set(parsed.faults);
    return c.json(rt.faults.current());
  });
  app.delete('/faults', (c) => {
    rt.faults.clear();
    return c.body(null, 204);
  });

  app.get('/stats', (c) => c.json(rt.snapshotStats()));
  app.delete('/stats', (c) => {
    rt.resetStats();
    return c.body(null, 204);
  });

  return app;
}
