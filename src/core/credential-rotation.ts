/**
 * Two live credentials per app registration (issue 17 item 3), as pure rules:
 *
 * 1. The switch decision, a TABLE by AADSTS code: when Entra refuses the primary credential
 *    with one of these answers, the secondary is tried at once. Only the answers that another
 *    credential of the same app registration can fix switch: a wrong or expired secret, a
 *    certificate Entra does not know or whose signature fails. A disabled app (7000112), an app
 *    not in the tenant (700016), a tenant that does not exist (90002), a resource not found
 *    (500011), a network failure or a 5xx are the same for every credential: switching would
 *    hide the real problem and change nothing.
 * 2. The rotation state machine: primary only → add secondary → test it (ok / failed) →
 *    promote (swap: needs a secondary whose last test passed, unless forced) → remove the
 *    secondary. An illegal step is a MailgateError ROTATION_STEP_INVALID that says what to do
 *    next (the API answers 409 `rotation-step-invalid`).
 *
 * Imports: ./errors only.
 */
import { MailgateError, isMailgateError } from './errors.js';

export type RotationSlot = 'primary' | 'secondary';

/** One row per AADSTS code the decision knows; codes not listed never switch. */
export const FAILOVER_TABLE: readonly { aadsts: number; switch: boolean; why: string }[] = [
  { aadsts: 7000215, switch: true, why: 'invalid client secret (often the secret\'s ID pasted instead of its value): another secret can work' },
  { aadsts: 7000222, switch: true, why: 'the client secret expired: another secret can work' },
  { aadsts: 700027, switch: true, why: 'the client assertion\'s signature failed (the certificate is not uploaded or its key is unknown): another credential can work' },
  { aadsts: 7000112, switch: false, why: 'the application is disabled: no credential of it works' },
  { aadsts: 70001, switch: false, why: 'the application is disabled: no credential of it works' },
  { aadsts: 700016, switch: false, why: 'the application is not found in the tenant: no credential of it works' },
  { aadsts: 90002, switch: false, why: 'the tenant is not found: a tenant problem, not a credential one' },
  { aadsts: 900023, switch: false, why: 'the tenant identifier is malformed: a settings problem, not a credential one' },
  { aadsts: 90038, switch: false, why: 'the tenant is in another cloud: a settings problem, not a credential one' },
  { aadsts: 500011, switch: false, why: 'the resource is not found in the tenant: the scope is wrong for every credential' },
  { aadsts: 1002012, switch: false, why: 'the scope is invalid for every credential' },
  { aadsts: 70011, switch: false, why: 'the scope is invalid for every credential' },
  { aadsts: 53003, switch: false, why: 'Conditional Access blocks the app, whatever the credential' },
];

const BY_CODE = new Map(FAILOVER_TABLE.map((r) => [r.aadsts, r]));

export interface FailoverDecision {
  switch: boolean;
  /** `AADSTS7000222`, when the refusal carried a code. */
  code?: string;
  why: string;
}

/**
 * Whether a failed token request with the primary should be repeated at once with the
 * secondary. Only a TOKEN_REJECTED answer from Entra with an AADSTS code of the table that
 * switches; everything else (network, 5xx, 429, unknown codes) does not.
 */
export function failoverDecision(error: unknown): FailoverDecision {
  if (!isMailgateError(error) || error.code !== 'TOKEN_REJECTED') {
    return { switch: false, why: 'not a refusal of the credential by Entra ID (network, transient or other error)' };
  }
  const codes = error.token?.aadsts ?? [];
  for (const c of codes) {
    const row = BY_CODE.get(c);
    if (row) return { switch: row.switch, code: `AADSTS${c}`, why: row.why };
  }
  return { switch: false, ...(codes.length ? { code: `AADSTS${codes[0]}` } : {}), why: 'not an answer another credential can fix' };
}

// ---- the rotation state machine ----

export interface SlotTest {
  at: string;
  ok: boolean;
  code?: string;
  summary?: string;
}

/** What the machine needs to know about a credential (no secret). */
export interface RotationState {
  primary: { present: boolean; lastTest?: SlotTest };
  secondary?: { lastTest?: SlotTest };
}

export type RotationStep =
  | { step: 'add' }
  | { step: 'test'; slot: RotationSlot; result: SlotTest }
  | { step: 'promote'; force?: boolean }
  | { step: 'remove' };

/** Where a credential is in the flow, for messages and the admin page. */
export type RotationPhase = 'primary-only' | 'secondary-untested' | 'secondary-failed' | 'secondary-tested';

export function rotationPhase(s: RotationState): RotationPhase {
  if (!s.secondary) return 'primary-only';
  if (!s.secondary.lastTest) return 'secondary-untested';
  return s.secondary.lastTest.ok ? 'secondary-tested' : 'secondary-failed';
}

/** The next step to take, in words (the end of every refusal). */
export function nextStep(s: RotationState): string {
  switch (rotationPhase(s)) {
    case 'primary-only': return 'add the new credential as the secondary first';
    case 'secondary-untested': return 'test the secondary (a real token request with it alone), then make it primary';
    case 'secondary-failed': return 'the secondary\'s last test failed: fix it (remove it and add the right one) and test it again, or promote with force';
    case 'secondary-tested': return 'make the secondary primary, then remove the old one';
  }
}

function refuse(message: string, s: RotationState): never {
  throw new MailgateError({ code: 'ROTATION_STEP_INVALID', phase: 'settings', message: `${message}: ${nextStep(s)}.`, context: { phase: rotationPhase(s) } });
}

/**
 * Check a step and return the state after it (pure). Throws ROTATION_STEP_INVALID for a step
 * the flow does not allow now, with what to do instead.
 * - add: needs a primary and no secondary (a secondary is replaced by removing it first, so a
 *   tested secondary is never overwritten by an untested one by mistake);
 * - test: the slot must exist;
 * - promote: needs a secondary whose last test passed, unless `force`; swaps the slots, each
 *   keeping its own last test;
 * - remove: needs a secondary.
 */
export function applyRotationStep(s: RotationState, step: RotationStep): RotationState {
  switch (step.step) {
    case 'add':
      if (!s.primary.present) refuse('The credential has no primary to rotate from (set its client secret or certificate first)', s);
      if (s.secondary) refuse('The credential has a secondary already (remove it before adding another)', s);
      return { primary: s.primary, secondary: {} };
    case 'test':
      if (step.slot === 'primary') {
        if (!s.primary.present) refuse('The credential has no primary to test', s);
        return { ...s, primary: { present: true, lastTest: step.result } };
      }
      if (!s.secondary) refuse('The credential has no secondary to test', s);
      return { ...s, secondary: { lastTest: step.result } };
    case 'promote':
      if (!s.secondary) refuse('The credential has no secondary to make primary', s);
      if (!step.force && !s.secondary.lastTest) refuse('The secondary was not tested', s);
      if (!step.force && !s.secondary.lastTest!.ok) refuse('The secondary\'s last test failed', s);
      return { primary: { present: true, ...(s.secondary.lastTest ? { lastTest: s.secondary.lastTest } : {}) }, secondary: { ...(s.primary.lastTest ? { lastTest: s.primary.lastTest } : {}) } };
    case 'remove':
      if (!s.secondary) refuse('The credential has no secondary to remove', s);
      return { primary: s.primary };
  }
}
