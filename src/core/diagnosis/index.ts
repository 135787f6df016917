/**
 * The public API of the diagnosis: explain any failure, with the administrator's own IDs.
 *
 * Why: one import for the CLI, the HTTP API, the doctor and the admin page; the tables and
 * helpers behind it stay private to this folder.
 *
 * Imports: nothing outside src/core.
 */
export type { Diagnosis, DiagnosisContext, DiagnosisRule } from './types.js';
export { diagnose, diagnoseSmtpReply, diagnoseAadsts, renderDiagnosisRule } from './diagnose.js';
export { listDiagnosisRuleIds, getDiagnosisRule, diagnosisForRule } from './rule-index.js';
export { PLACEHOLDERS } from './render.js';
export { contextFor, learnedFromError } from './context.js';
