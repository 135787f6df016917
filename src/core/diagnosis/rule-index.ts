/**
 * Every rule of every table, by id.
 *
 * Why: the doctor decides some causes itself (for example from the token's claims) and wants
 * the same wording and commands as diagnose(); tests and docs want the full list of ids.
 *
 * Imports: nothing outside src/core/diagnosis.
 */
import { AADSTS_CODES, aadstsRule } from './aadsts-rules.js';
import { GRAPH_4XX_RULE, GRAPH_CODE_MATCHERS, GRAPH_MATCHERS } from './graph-rules.js';
import { renderDiagnosisRule } from './diagnose.js';
import { SMTP_MATCHERS, UNRECOGNIZED_REPLY_RULE } from './smtp-rules.js';
import { TRANSPORT_MATCHERS, UNKNOWN_ERROR_RULE } from './transport-rules.js';
import type { Diagnosis, DiagnosisContext, DiagnosisRule } from './types.js';

function buildIndex(): ReadonlyMap<string, DiagnosisRule> {
  const all: DiagnosisRule[] = [
    ...AADSTS_CODES.map((c) => aadstsRule(c)!),
    ...SMTP_MATCHERS.map((m) => m.rule),
    UNRECOGNIZED_REPLY_RULE,
    ...TRANSPORT_MATCHERS.map((m) => m.rule),
    ...GRAPH_MATCHERS.map((m) => m.rule),
    GRAPH_4XX_RULE,
    ...GRAPH_CODE_MATCHERS.map((m) => m.rule),
    UNKNOWN_ERROR_RULE,
  ];
  const index = new Map<string, DiagnosisRule>();
  for (const rule of all) if (!index.has(rule.id)) index.set(rule.id, rule);
  return index;
}

const INDEX = buildIndex();

/** The ids of all rules (AADSTS, SMTP, transport), in table order. `aadsts-unknown` is extra. */
export function listDiagnosisRuleIds(): string[] {
  return [...INDEX.keys()];
}

/** The raw rule (with `{placeholders}`) for an id. */
export function getDiagnosisRule(id: string): DiagnosisRule | undefined {
  return INDEX.get(id);
}

/** The rule for an id rendered with the caller's values, or undefined for an unknown id. */
export function diagnosisForRule(id: string, ctx?: DiagnosisContext): Diagnosis | undefined {
  const rule = INDEX.get(id);
  return rule ? renderDiagnosisRule(rule, ctx) : undefined;
}
