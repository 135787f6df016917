/**
 * The admin page's stylesheet, served from /admin/assets/admin.css (no CDN, no build step).
 *
 * Why a TypeScript string: `tsc` copies only .ts files to dist/, and the page must work from
 * the compiled package with nothing else to install. Layout: one readable column on a phone,
 * wider forms and tables on a laptop; visible focus everywhere; colours with enough contrast
 * and never the only carrier of meaning (statuses also have words).
 *
 * Imports: nothing.
 */
export const ADMIN_CSS = `
:root {
  --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa; --line: #d0d7de;
  --accent: #0a58ca; --accent-fg: #ffffff; --ok: #116329; --ok-bg: #dafbe1; --bad: #a40e26; --bad-bg: #ffebe9;
  --warn: #7a4b00; --warn-bg: #fff8c5; --skip: #57606a; --skip-bg: #eaeef2; --focus: #fd8c00;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); overflow-wrap: anywhere; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.skip-link { position: absolute; left: 0.5rem; top: -3rem; background: var(--bg); padding: 0.5rem 0.75rem; z-index: 10; border: 2px solid var(--accent); }
.skip-link:focus { top: 0.5rem; }
[hidden] { display: none !important; }

.top { background: #0d1117; color: #f0f6fc; }
.top-inner { max-width: 72rem; margin: 0 auto; padding: 0.5rem 1rem; display: flex; flex-wrap: wrap; align-items: center; gap: 0.25rem 1rem; }
.brand { color: #f0f6fc; font-weight: 700; font-size: 1.125rem; text-decoration: none; margin-right: auto; }
.brand-sub { font-weight: 400; color: #9da7b3; }
.nav { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem; }
.nav a { display: block; color: #f0f6fc; text-decoration: none; padding: 0.375rem 0.625rem; border-radius: 6px; }
.nav a:hover { background: #21262d; }
.nav a[aria-current="page"] { background: #f0f6fc; color: #0d1117; font-weight: 600; }
.logout { margin: 0; }
.button-link { background: none; border: 1px solid #6e7681; color: #f0f6fc; padding: 0.3rem 0.625rem; border-radius: 6px; font: inherit; cursor: pointer; }
.button-link:hover { background: #21262d; }

main { max-width: 72rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
main:focus { outline: none; }
h1 { font-size: 1.75rem; margin: 0.5rem 0 1rem; line-height: 1.25; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 0.5rem; }
h3 { font-size: 1.0625rem; margin: 1rem 0 0.25rem; }
p { margin: 0.5rem 0; }
.lead { color: var(--muted); max-width: 48rem; }
.foot { max-width: 72rem; margin: 0 auto; padding: 1rem; color: var(--muted); font-size: 0.875rem; border-top: 1px solid var(--line); }
code, pre, kbd { font-family: ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.875rem; }
code { overflow-wrap: anywhere; }

.flash { padding: 0.75rem 1rem; border-radius: 6px; margin: 0 0 1rem; border-left: 5px solid; }
.flash-success { background: var(--ok-bg); border-color: var(--ok); }
.flash-error { background: var(--bad-bg); border-color: var(--bad); }
.flash-info { background: var(--panel); border-color: var(--accent); }
.notice { padding: 0.75rem 1rem; border-radius: 6px; background: var(--warn-bg); border-left: 5px solid #bf8700; margin: 0.5rem 0 1rem; }
.notice-info { background: var(--panel); border-left-color: var(--accent); }

.panel { border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 0 0 1.25rem; background: var(--bg); }
fieldset.panel { min-width: 0; }
fieldset.panel > legend { font-weight: 700; font-size: 1.125rem; padding: 0 0.375rem; }
.panel > :first-child { margin-top: 0; }
.panel > :last-child, .panel > .field:last-child { margin-bottom: 0; }
details.more { margin: 0.25rem 0 1rem; }
details.more[open] > summary, details.advanced[open] > summary { margin-bottom: 0.75rem; }

.field { margin: 0 0 1rem; max-width: 40rem; }
.field > label { display: block; font-weight: 600; margin-bottom: 0.25rem; }
.hint { color: var(--muted); font-size: 0.875rem; margin-bottom: 0.25rem; }
input[type=text], input[type=email], input[type=password], input[type=url], select, textarea {
  width: 100%; font: inherit; padding: 0.5rem 0.625rem; border: 1px solid #8c959f; border-radius: 6px; background: #fff; color: var(--fg); min-height: 2.75rem;
}
textarea { font-family: ui-monospace, SFMono-Regular, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.875rem; }
input[readonly] { background: var(--panel); color: var(--muted); }
.has-error input, .has-error select, .has-error textarea { border: 2px solid var(--bad); }
.field-error { color: var(--bad); font-weight: 600; margin: 0.125rem 0 0.375rem; }
.has-error { border-left: 4px solid var(--bad); padding-left: 0.75rem; }
.field-check { display: grid; grid-template-columns: auto 1fr; column-gap: 0.625rem; align-items: start; }
.field-check > input[type=checkbox] { width: 1.375rem; height: 1.375rem; margin: 0.125rem 0 0; }
.field-check > label { font-weight: 600; margin: 0; }
.field-check > .hint, .field-check > .field-error, .field-check > .after { grid-column: 2; }
.field-switch > label { font-size: 1.0625rem; }
.secret-state { display: inline-block; font-size: 0.8125rem; font-weight: 600; padding: 0 0.5rem; border-radius: 999px; margin-left: 0.375rem; vertical-align: middle; }
.secret-set { background: var(--ok-bg); color: var(--ok); }
.secret-unset { background: var(--skip-bg); color: var(--skip); }
.clear-box { display: flex; gap: 0.5rem; align-items: center; margin-top: 0.375rem; font-size: 0.9375rem; }
.clear-box input { width: 1.125rem; height: 1.125rem; }
.env-note { font-size: 0.875rem; color: var(--warn); margin-top: 0.25rem; }
details.advanced > summary, details.more > summary { cursor: pointer; font-weight: 600; padding: 0.25rem 0; }

.button, button.button { display: inline-block; font: inherit; font-weight: 600; padding: 0.5rem 1.125rem; min-height: 2.75rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg); cursor: pointer; text-decoration: none; }
.button:hover { filter: brightness(1.1); }
.button-secondary { background: var(--bg) !important; color: var(--accent) !important; }
.button-danger { background: var(--bad) !important; border-color: var(--bad) !important; }
.button[disabled] { opacity: 0.6; cursor: progress; }
.actions { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; margin-top: 0.5rem; }
.inline-form { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: flex-end; }
.inline-form .field { flex: 1 1 16rem; margin-bottom: 0; }

.error-summary { border: 3px solid var(--bad); border-radius: 8px; padding: 0.75rem 1rem; margin: 0 0 1.25rem; }
.error-summary h2 { margin-top: 0; color: var(--bad); font-size: 1.125rem; }
.error-summary ul { margin: 0; padding-left: 1.25rem; }
.error-summary a { color: var(--bad); font-weight: 600; }

.result { margin-top: 1rem; }
.result:empty { margin: 0; }
.outcome { border-radius: 8px; padding: 1rem; border-left: 6px solid; margin: 0.5rem 0 1rem; }
.outcome h2 { margin-top: 0; }
.outcome-ok { background: var(--ok-bg); border-color: var(--ok); }
.outcome-fail { background: var(--bad-bg); border-color: var(--bad); }
.reply { white-space: pre-wrap; overflow-wrap: anywhere; background: rgba(255,255,255,0.7); padding: 0.5rem; border-radius: 4px; margin: 0.25rem 0; }
.diagnosis { margin-top: 0.75rem; }
.diagnosis ul, .diagnosis ol { padding-left: 1.25rem; margin: 0.25rem 0; }
.command { position: relative; display: flex; gap: 0.5rem; align-items: flex-start; margin: 0.375rem 0; }
.command pre { flex: 1 1 auto; min-width: 0; margin: 0; padding: 0.5rem 0.75rem; background: #0d1117; color: #f0f6fc; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.copy { font: inherit; font-size: 0.875rem; padding: 0.375rem 0.75rem; min-height: 2.25rem; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); cursor: pointer; flex: 0 0 auto; }
.copy:hover { background: var(--skip-bg); }

.steps { list-style: none; padding: 0; margin: 0.5rem 0; counter-reset: step; }
.step { border: 1px solid var(--line); border-left-width: 6px; border-radius: 8px; padding: 0.75rem 1rem; margin: 0 0 0.75rem; }
.step-pass { border-left-color: var(--ok); }
.step-fail { border-left-color: var(--bad); background: #fffafa; }
.step-warn { border-left-color: #bf8700; }
.step-skip { border-left-color: var(--line); color: var(--muted); }
.step-current { border-left-color: var(--accent); }
.rotation-steps h4 { margin: 0 0 0.5rem; }
details.rotation-wrap { margin: 0 0 0.75rem; }
.rotation-slots time { white-space: nowrap; }
details.rotation-wrap > summary { cursor: pointer; padding: 0.5rem 0; }
.step-head { display: flex; flex-wrap: wrap; gap: 0.25rem 0.75rem; align-items: baseline; }
.step-head h3 { margin: 0; }
.badge { display: inline-block; font-size: 0.8125rem; font-weight: 700; padding: 0.0625rem 0.5rem; border-radius: 999px; text-transform: uppercase; letter-spacing: 0.02em; white-space: nowrap; }
.badge-pass, .badge-sent { background: var(--ok-bg); color: var(--ok); }
.badge-fail, .badge-failed { background: var(--bad-bg); color: var(--bad); }
.badge-warn, .badge-retrying { background: var(--warn-bg); color: var(--warn); }
.badge-skip, .badge-queued, .badge-sending { background: var(--skip-bg); color: var(--fg); }
form.inline { display: inline; }
.badge-test { background: var(--panel); color: var(--fg); border: 1px solid var(--line); margin-left: 0.25rem; }
.reply-short { white-space: nowrap; }
.fix p { margin: 0.25rem 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0.5rem 0; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }

.filters { list-style: none; padding: 0; margin: 0 0 1rem; display: flex; flex-wrap: wrap; gap: 0.5rem; }
.filters a { display: inline-block; padding: 0.375rem 0.75rem; border: 1px solid var(--line); border-radius: 999px; text-decoration: none; }
.filters a[aria-current="true"] { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); }
.table-wrap { overflow-x: auto; }
table.data { border-collapse: collapse; width: 100%; font-size: 0.9375rem; }
table.data th, table.data td { text-align: left; padding: 0.5rem 0.625rem; border-bottom: 1px solid var(--line); vertical-align: top; }
table.data th { background: var(--panel); font-weight: 600; }
table.data td.reply-cell { max-width: 24rem; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.pager { display: flex; gap: 1rem; margin-top: 1rem; }

.chart-box { margin: 0; max-width: 52rem; }
.chart { width: 100%; height: auto; display: block; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .axis-label { fill: var(--muted); font-size: 13px; }
.chart .bar-sent { fill: #1f883d; }
.chart .bar-failed { fill: #cf222e; }
.legend { display: flex; gap: 1rem; flex-wrap: wrap; font-size: 0.875rem; margin: 0.25rem 0; }
.legend span::before { content: ""; display: inline-block; width: 0.875rem; height: 0.875rem; border-radius: 2px; margin-right: 0.375rem; vertical-align: -2px; }
.legend .l-sent::before { background: #1f883d; }
.legend .l-failed::before { background: #cf222e; }

.timeline { list-style: none; padding: 0; margin: 0.5rem 0; border-left: 3px solid var(--line); }
.timeline > li { position: relative; padding: 0 0 1rem 1.25rem; }
.timeline > li::before { content: ""; position: absolute; left: -0.5625rem; top: 0.375rem; width: 0.75rem; height: 0.75rem; border-radius: 50%; background: var(--line); border: 2px solid var(--bg); }
.timeline > li.t-sent::before { background: var(--ok); }
.timeline > li.t-failed::before, .timeline > li.t-expired::before { background: var(--bad); }
.timeline > li.t-retry::before, .timeline > li.t-interrupted::before { background: #bf8700; }
.new-key pre { font-size: 1rem; }

.login-box { max-width: 26rem; }

@media (max-width: 40rem) {
  h1 { font-size: 1.5rem; }
  main { padding: 0.75rem 0.75rem 2rem; }
  .top-inner { padding: 0.5rem 0.75rem; }
  .top nav { order: 3; width: 100%; }
  .logout { order: 2; }
  .nav a { padding: 0.3125rem 0.5rem; font-size: 0.9375rem; }
  .panel { padding: 0.75rem; }
  dl.facts { grid-template-columns: 1fr; gap: 0 0; }
  dl.facts dd { margin-bottom: 0.5rem; }
  table.stack thead { display: block; position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.stack, table.stack tbody, table.stack tr, table.stack td { display: block; width: 100%; }
  table.stack tr { border: 1px solid var(--line); border-radius: 8px; margin: 0 0 0.75rem; padding: 0.25rem 0; }
  table.stack td { border: 0; padding: 0.25rem 0.75rem 0.25rem 7.5rem; position: relative; min-height: 2rem; }
  table.stack td::before { content: attr(data-label); position: absolute; left: 0.75rem; top: 0.25rem; width: 6.25rem; font-weight: 600; color: var(--muted); }
  table.stack td.reply-cell { max-width: none; }
  table.stack th[scope=row] { display: block; padding: 0.25rem 0.75rem; text-align: left; }
  .command { flex-direction: column; align-items: stretch; }
  .chart .axis-label { font-size: 22px; }
  .copy { align-self: flex-start; }
}
@media (prefers-reduced-motion: no-preference) { .button, .copy { transition: filter 0.1s; } }
`;
