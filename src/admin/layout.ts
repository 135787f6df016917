/**
 * The page frame of the admin app (document head, header with navigation and sign-out,
 * main landmark, flash message) and the one function that turns a page body into a Response.
 *
 * Why one place: every page gets `lang`, the viewport, the local stylesheet and script, a skip
 * link, one `h1`, the same navigation with `aria-current`, and a last line of defence: before
 * a page leaves, every secret value in effect (client secret, certificate key, SMTP password)
 * is cut out of it, in plain and in escaped form. Pages never put a secret in, but a server
 * reply quoted in a diagnosis could.
 *
 * Imports: hono types, src/core/secret, ./html, ./context, ./session, ./assets.
 */
import { needsAttention } from '../core/credential-expiry.js';
import { scrubText } from '../core/secret.js';
import { VERSION } from '../version.js';
import { ASSET_VERSION } from './assets.js';
import type { Admin, AdminContext } from './context.js';
import { escapeHtml, html, type Interpolation, type SafeHtml } from './html.js';
import type { Flash, Session } from './session.js';

export type NavId = 'settings' | 'senders' | 'test' | 'diagnostics' | 'messages' | 'api-keys' | 'relay-clients';

const NAV: readonly { id: NavId; path: string; label: string }[] = [
  { id: 'settings', path: '/settings', label: 'Email Settings' },
  { id: 'senders', path: '/senders', label: 'Senders' },
  { id: 'test', path: '/test', label: 'Test' },
  { id: 'diagnostics', path: '/diagnostics', label: 'Diagnostics' },
  { id: 'messages', path: '/messages', label: 'Delivery log' },
  { id: 'api-keys', path: '/api-keys', label: 'API keys' },
  { id: 'relay-clients', path: '/relay-clients', label: 'Relay clients' },
];

export interface PageInput {
  title: string;
  /** The navigation entry to mark as current; none for the login page. */
  active?: NavId;
  body: Interpolation;
  status?: number;
  /** Overrides the session's flash (which is consumed either way). */
  flash?: Flash;
  headers?: Record<string, string>;
}

/** The hidden CSRF field every form carries. */
export function csrfField(session: Session | undefined): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${session?.csrfToken ?? ''}">`;
}

function flashBox(flash: Flash | undefined): SafeHtml {
  if (!flash) return html``;
  const role = flash.kind === 'error' ? 'alert' : 'status';
  return html`<div class="flash flash-${flash.kind}" role="${role}">${flash.text}</div>`;
}

function header(a: Admin, session: Session | undefined, active: NavId | undefined): SafeHtml {
  const signedIn = session?.authenticated === true;
  return html`<header class="top">
  <div class="top-inner">
    <a class="brand" href="${a.url('/settings')}">Mailgate <span class="brand-sub">admin</span></a>
    ${signedIn && html`<nav aria-label="Main">
      <ul class="nav">${NAV.map((n) => html`<li><a href="${a.url(n.path)}"${n.id === active ? html` aria-current="page"` : ''}>${n.label}</a></li>`)}</ul>
    </nav>
    <form method="post" action="${a.url('/logout')}" class="logout">${csrfField(session)}<button type="submit" class="button-link">Sign out</button></form>`}
  </div>
</header>`;
}

/**
 * The credential expiry banner (issue 17) on every page once signed in: one line per credential
 * at a threshold (30, 14, 7, 1 days, expired), most urgent first, with a link to the renewal
 * steps (the Diagnostics page runs the doctor, whose settings check lists them).
 */
function credentialBanner(a: Admin, session: Session | undefined): SafeHtml {
  if (session?.authenticated !== true) return html``;
  const due = (a.deps.credentialExpiry?.() ?? []).filter(needsAttention);
  if (!due.length) return html``;
  const worst = due[0]!.severity;
  return html`<div class="flash flash-${worst === 'notice' ? 'info' : 'error'} credential-banner" role="${worst === 'critical' ? 'alert' : 'status'}" data-severity="${worst}">
  <ul>${due.map((s) => html`<li data-credential="${s.input.credential}" data-kind="${s.input.kind}" data-threshold="${s.threshold ?? ''}">${s.message}</li>`)}</ul>
  <p><a href="${a.url('/diagnostics')}">Renewal steps</a> (run the diagnostics) · the README's "Credential expiry".</p>
</div>`;
}

/** Renders a full page. */
export function renderPage(a: Admin, c: AdminContext, p: PageInput): Response {
  const session = c.get('session');
  const flash = p.flash ?? session?.flash;
  if (session) session.flash = undefined;
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${p.title} · Mailgate admin</title>
<link rel="icon" href="${a.url('/assets/favicon.ico')}" type="image/x-icon">
<link rel="stylesheet" href="${a.url(`/assets/admin.css?v=${ASSET_VERSION}`)}">
<script src="${a.url(`/assets/admin.js?v=${ASSET_VERSION}`)}" defer></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
${header(a, session, p.active)}
<main id="main" tabindex="-1">
<h1>${p.title}</h1>
${credentialBanner(a, session)}
${flashBox(flash)}
${p.body}
</main>
<footer class="foot">Mailgate ${VERSION}</footer>
<div id="copy-status" class="visually-hidden" role="status" aria-live="polite"></div>
</body>
</html>
`;
  const text = scrubSecrets(doc.value, [...a.deps.settings.secrets(), ...(a.deps.senders?.secrets() ?? [])]);
  // Through the context, so cookies set on it (sign-in, sign-out) travel with the page.
  return c.html(text, (p.status ?? 200) as 200, p.headers);
}

/** Cuts every secret value (plain and HTML-escaped) out of a page. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  const all = secrets.flatMap((s) => [s, escapeHtml(s)]);
  return scrubText(text, all);
}

/** A 303 redirect (POST → GET), through the context so cookies set on it are kept. */
export function redirect(c: AdminContext, location: string): Response {
  return c.redirect(location, 303);
}
