/**
 * Failover between the two live credentials of one app registration (issue 17 item 3): token
 * requests use the primary; when Entra refuses it with an answer another credential can fix
 * (core/credential-rotation.ts: AADSTS7000215, 7000222, 700027), the same request is made at
 * once with the secondary, its token is delivered, and a failover event ({code, at}) is
 * reported. Nothing waits and nothing fails because of the switch.
 *
 * One instance per credential, shared by its resources (the Outlook and the Graph token): a
 * credential whose primary Entra refused is refused for every resource.
 *
 * It stays on the secondary until the credential's settings change (a rotation step, a new
 * secret: a new token provider, so a new instance starting on the primary). Going back to the
 * primary on its own would cost a refused request every token lifetime, noise in Entra's
 * sign-in logs and in ours, for a credential an administrator must replace anyway.
 *
 * When the secondary is refused too, the primary's error is thrown (what the administrator
 * must fix first), with the secondary's answer added to its message and context.
 *
 * Imports: src/core (the decision table, errors, ports).
 */
import { failoverDecision, type RotationSlot } from '../core/credential-rotation.js';
import { MailgateError, isMailgateError } from '../core/errors.js';
import type { AccessToken } from '../core/ports.js';

export interface FailoverEvent {
  /** `AADSTS7000222`: the answer that refused the primary. */
  code: string;
  /** When the switch happened (epoch ms). */
  at: number;
}

export class CredentialFailover {
  #active: RotationSlot = 'primary';
  readonly #hasSecondary: boolean;
  readonly #onFailover?: (event: FailoverEvent) => void;
  readonly #now: () => number;

  constructor(o: { hasSecondary: boolean; onFailover?: (event: FailoverEvent) => void; now?: () => number }) {
    this.#hasSecondary = o.hasSecondary;
    this.#onFailover = o.onFailover;
    this.#now = o.now ?? Date.now;
  }

  /** The slot token requests use now. */
  get active(): RotationSlot {
    return this.#active;
  }

  /** One token request with the active slot; on a switching refusal of the primary, with the secondary at once. */
  async request(fetch: (slot: RotationSlot) => Promise<AccessToken>): Promise<AccessToken> {
    if (this.#active === 'secondary') return fetch('secondary');
    try {
      return await fetch('primary');
    } catch (error) {
      if (!this.#hasSecondary) throw error;
      const decision = failoverDecision(error);
      if (!decision.switch) throw error;
      let token: AccessToken;
      try {
        token = await fetch('secondary');
      } catch (secondaryError) {
        throw withSecondaryRefusal(error as MailgateError, secondaryError);
      }
      // Several resources may switch at the same moment: one event per switch.
      if (this.#active === 'primary') {
        this.#active = 'secondary';
        this.#onFailover?.({ code: decision.code ?? 'unknown', at: this.#now() });
      }
      return token;
    }
  }
}

function withSecondaryRefusal(primary: MailgateError, secondary: unknown): MailgateError {
  const code = isMailgateError(secondary) ? (secondary.token?.aadsts?.length ? `AADSTS${secondary.token.aadsts[0]}` : secondary.code) : 'INTERNAL';
  return new MailgateError({
    code: primary.code, phase: primary.phase, retryable: primary.retryable || (isMailgateError(secondary) && secondary.retryable),
    message: `${primary.message} (the secondary credential was tried at once and refused too: ${code})`,
    token: primary.token, problems: primary.problems, context: { ...primary.context, secondaryRefused: code }, cause: primary.cause,
  });
}
