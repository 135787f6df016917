/**
 * Exchange's SendAs rule, judged at the end of DATA: a message whose envelope sender or From
 * header names a mailbox other than the authenticated one is refused with `554 5.2.252
 * SendAsDenied; ...` unless that mailbox's `sendAs` list names the service principal (`oid`)
 * or the authenticated mailbox (docs/m365.md §4, §8.3).
 *
 * Why it exists: "From differs from the authenticated mailbox" is a classic failure that only
 * shows up after the whole message was sent; the rule is pure and tested on its own.
 *
 * Imports: ./state.ts, ./smtp-replies.ts.
 */
import { sendAsDenied, type Reply } from './smtp-replies.js';
import { findMailboxAnywhere, type EmulatorState } from './state.js';

export interface SendAsInput {
  /** The mailbox the session authenticated as. */
  authenticatedMailbox: string;
  /** The service principal object id of the token (empty for password auth). */
  oid: string;
  envelopeFrom: string;
  /** Addresses in the From header. */
  headerFrom: string[];
}

export type SendAsVerdict = { ok: true } | { ok: false; reply: Reply; reason: string };

export function decideSendAs(state: EmulatorState, input: SendAsInput): SendAsVerdict {
  const self = input.authenticatedMailbox.toLowerCase();
  const candidates = [input.envelopeFrom, ...input.headerFrom].filter((a) => a && a.toLowerCase() !== self);
  for (const address of candidates) {
    const target = findMailboxAnywhere(state, address);
    const grants = (target?.mailbox.sendAs ?? []).map((s) => s.toLowerCase());
    const allowed = grants.includes(self) || (input.oid !== '' && grants.includes(input.oid.toLowerCase()));
    if (!allowed) {
      return {
        ok: false,
        reply: sendAsDenied(input.authenticatedMailbox, address),
        reason: target
          ? `mailbox ${target.mailbox.address} does not grant SendAs to ${input.authenticatedMailbox}${input.oid ? ` or service principal ${input.oid}` : ''}`
          : `${address} is not a mailbox in any tenant, so ${input.authenticatedMailbox} cannot send as it`,
      };
    }
  }
  return { ok: true };
}
