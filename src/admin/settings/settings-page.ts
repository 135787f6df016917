/**
 * The Email Settings page body: the "Use modern SMTP Authentication" switch, the SMTP section
 * for modern authentication (Cloud, SMTP Client Server, Port, Application (client) ID, Client
 * Secret or Client certificate, Directory (tenant) ID, Authorized from Address), the Basic
 * authentication section with Microsoft's retirement notice, and the advanced settings.
 *
 * Why it looks like this: administrators know this page from other products (Overview →
 * Advanced Settings → Email Settings, where the switch reveals the SMTP section), so the labels
 * are exactly the schema's labels. Both sections are rendered; the one that does not apply is
 * `hidden` and `disabled` (so its fields are not submitted and keep their stored values). The
 * script flips them instantly; without it the server renders the section for the saved or
 * submitted state. Secrets are write-only: the page shows "set"/"not set", never a value.
 * Values from environment variables are read-only and carry no `name`, so they are never sent.
 * The Transport select (SMTP, Microsoft Graph, Automatic) shows the fields of one transport only
 * where they apply (SMTP host, port, scope and timeouts; Graph endpoint, scope, Save to Sent
 * Items); the script flips them on a change, the server renders them for the saved state.
 *
 * Imports: src/core/settings, ../html, ../form-controls, ./settings-form, service types.
 */
import { CLOUD_IDS, CLOUDS, type CloudId } from '../../core/clouds.js';
import type { Problem } from '../../core/errors.js';
import { FIELD_BY_KEY, SETTINGS_FIELDS, TRANSPORT_IDS, type SettingKey, type TransportId } from '../../core/settings.js';
import type { SettingsView } from '../../service/settings/settings-store.js';
import { checkboxControl, dateInputType, errorSummary, selectControl, textControl, type SummaryItem } from '../form-controls.js';
import { html, type SafeHtml } from '../html.js';
import type { Session } from '../session.js';
import { csrfField } from '../layout.js';
import { anythingConfigured, clearFieldName, defaultText, inlineMessage, modernAuthOn, problemsByKey } from './settings-form.js';

type Section = 'modern' | 'basic' | 'adv';

const MODERN: readonly SettingKey[] = ['cloud', 'transport', 'saveToSentItems', 'smtpHost', 'smtpPort', 'clientId', 'clientSecret', 'clientSecretExpires', 'clientCertificatePath', 'clientCertificatePem', 'tenantId', 'authorizedFrom'];
const BASIC: readonly SettingKey[] = ['smtpHost', 'smtpPort', 'smtpUsername', 'smtpPassword', 'authorizedFrom'];
const ADVANCED: readonly SettingKey[] = ['authorityHost', 'scope', 'graphEndpoint', 'graphScope', 'connectionTimeoutMs', 'greetingTimeoutMs', 'socketTimeoutMs', 'tokenRefreshMarginSeconds'];

const TRANSPORT_LABELS: Record<TransportId, string> = { smtp: 'SMTP', graph: 'Microsoft Graph', auto: 'Automatic (SMTP or Graph)' };

/** The transport the page shows (submitted value first; basic authentication is always SMTP). */
function transportOf(view: SettingsView, submitted?: Partial<Record<SettingKey, string>>): TransportId {
  const t = String(submitted?.transport ?? view.values.transport ?? 'smtp');
  return (TRANSPORT_IDS as readonly string[]).includes(t) ? (t as TransportId) : 'smtp';
}

/**
 * A field used by one transport only is wrapped so the page (and its script, on a change of
 * Transport) shows it only where it applies: SMTP fields for smtp and auto, Graph fields for
 * graph and auto. Hidden, not disabled: its value is still submitted and kept.
 */
function onlyFor(ctx: Ctx, key: SettingKey, control: SafeHtml): SafeHtml {
  const only = FIELD_BY_KEY[key].transport;
  if (!only) return control;
  const shown = ctx.transport === 'auto' || ctx.transport === only || (ctx.basic && only === 'smtp');
  return html`<div data-transport-only="${only}"${shown ? '' : html` hidden`}>${control}</div>`;
}

export const BASIC_AUTH_NOTICE =
  'Microsoft disables Basic authentication for SMTP AUTH by default for existing Microsoft 365 tenants from the end of December 2026 (new tenants after that date get it off by default). Switch on modern authentication (OAuth2) before then.';

export interface SettingsPageInput {
  view: SettingsView;
  session: Session | undefined;
  action: string;
  /** The Test page's path (linked when the settings are valid). */
  testUrl: string;
  /** After a failed save: what was submitted, the problems, the secrets that were typed. */
  failed?: { submitted: Partial<Record<SettingKey, string>>; problems: Problem[]; typedSecrets: SettingKey[] };
}

const fieldId = (section: Section, key: SettingKey) => (key === 'useModernAuth' ? 'useModernAuth' : `${section}-${key}`);

const REQUIRED_HINT: Partial<Record<SettingKey, string>> = {
  clientId: 'Required.',
  tenantId: 'Required.',
  authorizedFrom: 'Required.',
  smtpUsername: 'Required.',
  smtpPassword: 'Required.',
};

interface Ctx {
  view: SettingsView;
  cloud: CloudId;
  transport: TransportId;
  /** Basic authentication is on (the SMTP fields of its own section always apply). */
  basic?: boolean;
  errors: Partial<Record<SettingKey, string>>;
  submitted?: Partial<Record<SettingKey, string>>;
}

function displayValue(ctx: Ctx, key: SettingKey): string {
  if (ctx.submitted && key in ctx.submitted) return ctx.submitted[key] ?? '';
  if (ctx.view.sources[key] === 'default') return '';
  const v = ctx.view.values[key];
  return v === undefined || v === null ? '' : String(v);
}

function envNote(key: SettingKey): SafeHtml {
  return html`<p class="env-note">Set by the environment variable <code>${FIELD_BY_KEY[key].env}</code>; change it there.</p>`;
}

function secretControl(ctx: Ctx, section: Section, key: SettingKey): SafeHtml {
  const f = FIELD_BY_KEY[key];
  const id = fieldId(section, key);
  const isSet = ctx.view.values[`${key}Set`] === true;
  const fromEnv = ctx.view.sources[key] === 'env';
  const state = html`<span class="secret-state ${isSet ? 'secret-set' : 'secret-unset'}">${isSet ? 'set' : 'not set'}</span>`;
  const hint = html`Currently ${state}.${!fromEnv && isSet ? ' Leave empty to keep it.' : ''} ${REQUIRED_HINT[key] ?? ''} ${f.description}`;
  const clear = !fromEnv && isSet
    ? html`<div class="clear-box after"><input type="checkbox" id="${id}-clear" name="${clearFieldName(key)}" value="on"><label for="${id}-clear">Clear the stored ${f.label}</label></div>`
    : '';
  return textControl({
    id,
    name: fromEnv ? undefined : key,
    label: f.label,
    type: key === 'clientCertificatePem' ? 'text' : 'password',
    multiline: key === 'clientCertificatePem',
    value: '',
    placeholder: fromEnv ? `(set by ${f.env})` : isSet ? '(unchanged)' : '',
    autocomplete: 'new-password',
    spellcheck: false,
    readonly: fromEnv,
    hint,
    error: ctx.errors[key],
    after: html`${clear}${fromEnv ? envNote(key) : ''}`,
  });
}

function plainControl(ctx: Ctx, section: Section, key: SettingKey): SafeHtml {
  const f = FIELD_BY_KEY[key];
  const id = fieldId(section, key);
  const fromEnv = ctx.view.sources[key] === 'env';
  if (f.kind === 'secret') return secretControl(ctx, section, key);
  if (key === 'cloud') {
    const value = displayValue(ctx, key) || ctx.cloud;
    return selectControl({
      id,
      name: fromEnv ? undefined : key,
      label: f.label,
      value,
      disabled: fromEnv,
      options: CLOUD_IDS.map((c) => ({ value: c, label: CLOUDS[c].label })),
      hint: 'Global, GCC High, DoD or China: sets the default SMTP Client Server, authority host, Graph endpoint and token scopes together.',
      error: ctx.errors[key],
      after: fromEnv ? envNote(key) : '',
    });
  }
  if (key === 'transport') {
    return selectControl({
      id,
      name: fromEnv ? undefined : key,
      label: f.label,
      value: ctx.transport,
      disabled: fromEnv,
      options: TRANSPORT_IDS.map((t) => ({ value: t, label: TRANSPORT_LABELS[t] })),
      hint: 'SMTP needs the SMTP.SendAsApp permission; Microsoft Graph needs the Mail.Send application permission (Microsoft Graph API); Automatic uses whichever works.',
      error: ctx.errors[key],
      after: fromEnv ? envNote(key) : '',
    });
  }
  if (f.kind === 'boolean') {
    const on = (displayValue(ctx, key) || String(f.defaultValue ?? '')).toLowerCase() !== 'false';
    return onlyFor(ctx, key, selectControl({
      id,
      name: fromEnv ? undefined : key,
      label: f.label,
      value: on ? 'true' : 'false',
      disabled: fromEnv,
      options: [{ value: 'true', label: 'On' }, { value: 'false', label: 'Off' }],
      hint: f.description,
      error: ctx.errors[key],
      after: fromEnv ? envNote(key) : '',
    }));
  }
  const def = defaultText(f, ctx.cloud);
  const isPem = key === 'clientCertificatePath';
  return onlyFor(ctx, key, textControl({
    id,
    name: fromEnv ? undefined : key,
    label: key === 'clientCertificatePath' ? `${f.label} (instead of the Client Secret)` : f.label,
    // "Client Secret expires": a date picker (text when a date-time is stored, see dateInputType).
    type: key === 'authorizedFrom' ? 'email' : key === 'clientSecretExpires' ? dateInputType(displayValue(ctx, key)) : 'text',
    inputmode: f.kind === 'integer' ? 'numeric' : key === 'authorizedFrom' ? 'email' : undefined,
    autocomplete: 'off',
    spellcheck: false,
    value: displayValue(ctx, key),
    placeholder: def ? `${def} (default)` : isPem ? '/etc/mailgate/client.pem' : '',
    readonly: fromEnv,
    hint: html`${REQUIRED_HINT[key] ?? ''} ${f.description}${def && !fromEnv ? html` Empty means the default, <code>${def}</code>.` : ''}`,
    error: ctx.errors[key],
    after: fromEnv ? envNote(key) : '',
  }));
}

function modernSection(ctx: Ctx, on: boolean): SafeHtml {
  const c = (k: SettingKey) => plainControl(ctx, 'modern', k);
  return html`<fieldset class="panel" id="modern-section"${on ? '' : html` hidden disabled`}>
  <legend>SMTP</legend>
  <p class="lead">OAuth2 client credentials from the app registration in Microsoft Entra ID, and SMTP AUTH XOAUTH2 or Microsoft Graph.</p>
  ${c('cloud')}
  ${c('transport')}
  ${c('saveToSentItems')}
  ${c('smtpHost')}
  ${c('smtpPort')}
  ${c('clientId')}
  ${c('clientSecret')}
  ${c('clientSecretExpires')}
  <details class="more"${ctx.errors.clientCertificatePath || ctx.errors.clientCertificatePem || ctx.view.sources.clientCertificatePath !== 'default' || ctx.view.values.clientCertificatePemSet === true ? html` open` : ''}>
    <summary>Client certificate instead of the secret</summary>
    <p class="hint">Microsoft recommends a certificate: client secrets expire after at most 24 months. When a certificate is set, it is used and the secret is not.</p>
    ${c('clientCertificatePath')}
    ${c('clientCertificatePem')}
  </details>
  ${c('tenantId')}
  ${c('authorizedFrom')}
</fieldset>`;
}

function basicSection(ctx: Ctx, on: boolean): SafeHtml {
  const c = (k: SettingKey) => plainControl({ ...ctx, basic: true }, 'basic', k);
  return html`<fieldset class="panel" id="basic-section"${on ? '' : html` hidden disabled`}>
  <legend>SMTP (Basic authentication)</legend>
  <p class="notice" role="note"><strong>Basic authentication is being retired.</strong> ${BASIC_AUTH_NOTICE}</p>
  ${c('smtpHost')}
  ${c('smtpPort')}
  ${c('smtpUsername')}
  ${c('smtpPassword')}
  ${c('authorizedFrom')}
</fieldset>`;
}

function advancedSection(ctx: Ctx): SafeHtml {
  const open = ADVANCED.some((k) => ctx.errors[k] || ctx.view.sources[k] !== 'default');
  return html`<details class="panel advanced"${open ? html` open` : ''}>
  <summary>Advanced settings</summary>
  ${ADVANCED.map((k) => plainControl(ctx, 'adv', k))}
</details>`;
}

function summaryItems(ctx: Ctx, problems: readonly Problem[], modern: boolean): SummaryItem[] {
  const visible = new Set<SettingKey>([...(modern ? MODERN : BASIC), ...ADVANCED, 'useModernAuth']);
  return problems.map((p) => {
    const key = SETTINGS_FIELDS.find((f) => f.key === p.key)?.key;
    if (!key) return { message: p.message };
    const section: Section = ADVANCED.includes(key) ? 'adv' : modern ? 'modern' : 'basic';
    const envSet = ctx.view.sources[key] === 'env';
    // The secondary credential is not a field of this form: its problems link to the Rotate panel below it.
    if (FIELD_BY_KEY[key].rotation && !envSet) return { fieldId: 'rotate-default', message: `${inlineMessage(p)} On this page: "Remove the secondary" in the Rotate panel below.` };
    return { fieldId: visible.has(key) ? fieldId(section, key) : undefined, message: `${inlineMessage(p)}${envSet ? ` (set by ${FIELD_BY_KEY[key].env})` : ''}` };
  });
}

function statusBox(view: SettingsView, showProblems: boolean, testUrl: string): SafeHtml {
  if (view.valid) {
    return html`<p class="flash flash-success" role="status">The saved settings are complete and valid. Use <a href="${testUrl}">Test</a> to send a test email.</p>`;
  }
  if (!showProblems) {
    return html`<p class="notice notice-info">Not configured yet. Fill in the SMTP section and save; nothing is delivered until the settings are complete (messages are queued meanwhile).</p>`;
  }
  return html`<p class="notice">The saved settings are incomplete or invalid, so nothing is delivered (messages are queued). Every problem is shown next to its field.</p>`;
}

export function settingsPageBody(p: SettingsPageInput): SafeHtml {
  const { view } = p;
  const showStored = !p.failed && anythingConfigured(view);
  const problems = p.failed ? p.failed.problems : showStored ? view.problems : [];
  const { byKey } = problemsByKey(problems);
  const submitted = p.failed?.submitted;
  const cloudText = submitted?.cloud ?? String(view.values.cloud ?? 'global');
  const cloud = ((CLOUD_IDS as readonly string[]).includes(cloudText) ? cloudText : 'global') as CloudId;
  const ctx: Ctx = { view, cloud, transport: transportOf(view, submitted), errors: byKey, submitted };
  const modern = modernAuthOn(view, submitted);
  const modernFromEnv = view.sources.useModernAuth === 'env';
  const warnings = p.failed ? [] : view.warnings;
  const typed = p.failed?.typedSecrets ?? [];

  return html`${p.failed ? errorSummary(summaryItems(ctx, problems, modern)) : statusBox(view, showStored, p.testUrl)}
${typed.length ? html`<p class="notice" role="note">The ${typed.map((k) => FIELD_BY_KEY[k].label).join(' and ')} you typed ${typed.length > 1 ? 'were' : 'was'} not saved and ${typed.length > 1 ? 'are' : 'is'} never shown again: enter ${typed.length > 1 ? 'them' : 'it'} again after fixing the other problems.</p>` : ''}
${warnings.map((w) => html`<p class="notice" role="note">${inlineMessage(w)}</p>`)}
${!p.failed && showStored ? errorSummary(summaryItems(ctx, problems, modern), 'The saved settings have problems') : ''}
<form method="post" action="${p.action}" novalidate class="settings-form">
  ${csrfField(p.session)}
  <div class="panel">
  ${checkboxControl({
    id: 'useModernAuth',
    name: modernFromEnv ? undefined : 'useModernAuth',
    label: FIELD_BY_KEY.useModernAuth.label,
    checked: modern,
    disabled: modernFromEnv,
    uncheckedValue: 'false',
    switch: true,
    hint: 'On: OAuth2 (client credentials) with SMTP XOAUTH2 — what Microsoft requires. Off: a mailbox username and password (Basic authentication).',
    error: byKey.useModernAuth,
    after: modernFromEnv ? html`<div class="after">${envNote('useModernAuth')}</div>` : '',
  })}
  </div>
  ${modernSection(ctx, modern)}
  ${basicSection(ctx, !modern)}
  ${advancedSection(ctx)}
  <div class="actions"><button type="submit" class="button">Save</button></div>
</form>`;
}
