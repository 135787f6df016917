/**
 * Serves the admin page's own stylesheet, script and icon from /admin/assets (no CDN), with a
 * content hash in the URL so browsers may cache them and still see a new version at once.
 *
 * Imports: node:crypto, hono, ./assets/*.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { ADMIN_CSS } from './assets/admin-css.js';
import { ADMIN_JS } from './assets/admin-js.js';
import { FAVICON_ICO } from './assets/favicon.js';

export const ASSET_VERSION = createHash('sha256').update(ADMIN_CSS).update(ADMIN_JS).digest('hex').slice(0, 12);

const ASSETS: Record<string, { body: string | Uint8Array; type: string }> = {
  'favicon.ico': { body: new Uint8Array(FAVICON_ICO), type: 'image/x-icon' },
  'admin.css': { body: ADMIN_CSS, type: 'text/css; charset=utf-8' },
  'admin.js': { body: ADMIN_JS, type: 'text/javascript; charset=utf-8' },
};

export function assetRoutes(): Hono {
  const app = new Hono();
  app.get('/:name', (c) => {
    const asset = ASSETS[c.req.param('name')];
    if (!asset) return c.text('Not found', 404);
    return c.body(asset.body as string, 200, { 'content-type': asset.type, 'cache-control': 'public, max-age=86400' });
  });
  return app;
}
