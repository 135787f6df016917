/**
 * Turns a rule (a table row with `{placeholders}`) into a Diagnosis with the administrator's
 * own values filled in.
 *
 * Why: the tables stay plain data; this module is the one place that decides which values may
 * appear in a diagnosis. A value is used only when it has the shape of what it claims to be
 * (a GUID, a mailbox address, a host name, a port, an https URL); anything else becomes a
 * clearly marked placeholder. So a secret pasted into the wrong setting, or put into an error's
 * context, can never be echoed, and every filled command is safe to paste into PowerShell or a
 * shell (no quotes, semicolons, `$` or spaces can come from a value).
 *
 * Imports: nothing outside src/core.
 */
import type { Diagnosis, DiagnosisContext, DiagnosisRule } from './types.js';
import { isGuid } from '../settings.js';

export const PLACEHOLDER_KEYS = [
  'clientId',
  'tenantId',
  'authorizedFrom',
  'from',
  'oid',
  'smtpHost',
  'smtpPort',
  'authorityHost',
  'authorityHostName',
  'authorityPort',
  'scope',
] as const;
export type PlaceholderKey = (typeof PLACEHOLDER_KEYS)[number];

/** The values a rule is rendered with; a missing key renders as its placeholder. */
export type FillValues = Partial<Record<PlaceholderKey, string>>;

/** What an unknown value looks like in a diagnosis: never a valid argument, always explained. */
export const PLACEHOLDERS: Readonly<Record<PlaceholderKey, string>> = {
  clientId: '<Application (client) ID>',
  tenantId: '<Directory (tenant) ID>',
  authorizedFrom: '<Authorized from Address>',
  from: '<From address of the message>',
  oid: "<Enterprise Application Object ID (the token's oid)>",
  smtpHost: '<SMTP host, e.g. smtp.office365.com>',
  smtpPort: '<SMTP port, e.g. 587>',
  authorityHost: '<authority host, e.g. https://login.microsoftonline.com>',
  authorityHostName: '<authority host name, e.g. login.microsoftonline.com>',
  authorityPort: '<authority port, usually 443>',
  scope: '<token scope, e.g. https://outlook.office365.com/.default>',
};

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DOMAIN = new RegExp(`^(?=.{1,253}$)(?:${LABEL}\\.)+[a-z]{2,63}$`, 'i');
const HOST = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$|^\\d{1,3}(?:\\.\\d{1,3}){3}$|^\\[[0-9a-f:.]+\\]$`, 'i');
/** A deliberately narrow mailbox address: the characters real mailboxes use, none a shell cares about. */
const EMAIL = new RegExp(`^[a-z0-9._%+=-]{1,64}@(?:${LABEL}\\.)+[a-z]{2,63}$`, 'i');
const ORIGIN = /^(https?):\/\/([^/:?#@\s]+)(?::(\d{1,5}))?\/?$/i;
const SCOPE = /^[a-z][a-z0-9+.-]*:\/\/[a-z0-9.:_~/-]+\/\.default$/i;

type Raw = string | number | boolean | undefined | null;

function str(v: Raw): string | undefined {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Checks one value for the shape its key demands; returns the value to show, or undefined. */
function acceptValue(key: PlaceholderKey, value: Raw): string | undefined {
  const s = str(value);
  if (!s) return undefined;
  switch (key) {
    case 'clientId':
    case 'oid':
      return isGuid(s) ? s : undefined;
    case 'tenantId':
      return isGuid(s) || DOMAIN.test(s) ? s : undefined;
    case 'authorizedFrom':
    case 'from':
      return EMAIL.test(s) && s.length <= 254 ? s : undefined;
    case 'smtpHost':
    case 'authorityHostName':
      // A single-label name is accepted only when short (localhost, relay01): a long opaque
      // word is more likely a credential in the wrong field than a host.
      return HOST.test(s) && (/[.:]/.test(s) || s.length <= 15) ? s : undefined;
    case 'smtpPort':
    case 'authorityPort': {
      const n = Number(s);
      return /^\d{1,5}$/.test(s) && n >= 1 && n <= 65535 ? String(n) : undefined;
    }
    case 'authorityHost': {
      const m = ORIGIN.exec(s);
      if (!m || !HOST.test(m[2]!)) return undefined;
      return `${m[1]!.toLowerCase()}://${m[2]}${m[3] ? `:${m[3]}` : ''}`;
    }
    case 'scope':
      return SCOPE.test(s) && s.length <= 200 ? s : undefined;
  }
}

/** Source of candidate values, most trusted first; the first acceptable value for a key wins. */
export type ValueSource = Partial<Record<PlaceholderKey, Raw>>;

/** Maps the public DiagnosisContext onto placeholder keys. */
export function contextSource(ctx: DiagnosisContext | undefined): ValueSource {
  if (!ctx || typeof ctx !== 'object') return {};
  return {
    clientId: ctx.clientId,
    tenantId: ctx.tenantId,
    authorizedFrom: ctx.authorizedFrom,
    from: ctx.from,
    oid: ctx.servicePrincipalObjectId,
    smtpHost: ctx.smtpHost,
    smtpPort: ctx.smtpPort,
    authorityHost: ctx.authorityHost,
    scope: ctx.scope,
  };
}

/** Resolves the fill values from several sources (most trusted first), checking every value. */
export function resolveValues(...sources: ValueSource[]): FillValues {
  const out: FillValues = {};
  for (const key of PLACEHOLDER_KEYS) {
    for (const source of sources) {
      const v = acceptValue(key, source[key]);
      if (v !== undefined) {
        out[key] = v;
        break;
      }
    }
  }
  if (!out.authorityHostName && out.authorityHost) {
    const host = ORIGIN.exec(out.authorityHost)?.[2];
    if (host) out.authorityHostName = host;
  }
  if (!out.authorityPort && out.authorityHost) {
    const m = ORIGIN.exec(out.authorityHost);
    if (m) out.authorityPort = m[3] ?? (m[1]!.toLowerCase() === 'http' ? '80' : '443');
  }
  return out;
}

const TEMPLATE = new RegExp(`\\{(${PLACEHOLDER_KEYS.join('|')})\\}`, 'g');

/** Fills `{key}` placeholders; braces that name no known key (e.g. JMESPath) are left alone. */
export function fillTemplate(template: string, values: FillValues): string {
  return template.replace(TEMPLATE, (_m, key: PlaceholderKey) => values[key] ?? PLACEHOLDERS[key]);
}

/** Renders a rule with values; `extraFixes` are appended already filled (e.g. settings problems). */
export function renderRule(rule: DiagnosisRule, values: FillValues, extraFixes: readonly string[] = []): Diagnosis {
  const fill = (s: string) => fillTemplate(s, values);
  const diagnosis: Diagnosis = {
    id: rule.id,
    summary: fill(rule.summary),
    causes: rule.causes.map(fill),
    fixes: [...rule.fixes.map(fill), ...extraFixes],
  };
  if (rule.commands?.length) diagnosis.commands = rule.commands.map(fill);
  if (rule.docs?.length) diagnosis.docs = [...rule.docs];
  return diagnosis;
}

/**
 * Removes anything that looks like a credential from a free text we did not write ourselves,
 * by its shape (unlike core/secret.ts's scrubText, which removes known values)
 * (a settings problem message): JWTs, XOAUTH2 blobs, Entra secret values (which contain `~`)
 * and long opaque strings. GUIDs, addresses and host names are kept.
 */
export function redactOpaque(text: string): string {
  return text
    .replace(/eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){1,2}/g, '[redacted]')
    .replace(/[A-Za-z0-9._~+/=-]{16,}/g, (word) => {
      if (isGuid(word) || DOMAIN.test(word)) return word;
      if (word.includes('~')) return '[redacted]';
      return word.length >= 24 && /[0-9]/.test(word) && /[A-Za-z]/.test(word) ? '[redacted]' : word;
    });
}
