/**
 * Check `send-as` (only for a Send As sender: a From address other than the signed-in mailbox):
 * may the signed-in mailbox send as the From address?
 *
 * Why it exists: a Send As sender needs two grants, on two mailboxes. The signed-in mailbox's side
 * (FullAccess or an RBAC scope for the service principal) is what `smtp-auth` / `graph-token`
 * check; the From's side (Send As for the signed-in mailbox: `Add-RecipientPermission -Identity
 * <from> -Trustee <signed-in mailbox> -AccessRights SendAs`) is only judged by Exchange when a
 * message is submitted, and then only as `554 5.2.252 SendAsDenied` (SMTP) or `ErrorSendAsDenied`
 * (Graph) after the whole message was sent (docs/m365.md §4, §8.3, §13). So the evidence, best
 * first: the real test message's reply (`send` / `graph-send`, with `--to`); Exchange's
 * configuration when a source exists (the emulator's Get-RecipientPermission); otherwise a
 * warning with the commands to check and grant it. Pure: it reads what the other checks found.
 *
 * Imports: src/core (diagnosis types), ../fix-commands, ../exchange-facts (types), ../types.
 */
import type { DiagnosisContext } from '../../core/diagnosis/types.js';
import type { ExchangeFacts } from '../exchange-facts.js';
import { fillAll, fillValues, joinFix } from '../fix-commands.js';
import type { CheckResult } from '../types.js';

/** The diagnosis rules that mean "Send As denied" (SMTP and Graph). */
export const SEND_AS_DENIED_RULES: ReadonlySet<string> = new Set([
  'smtp-554-5.2.252-send-as-denied', 'smtp-554-5.2.0-send-as-denied', 'smtp-550-5.7.60', 'graph-send-as-denied',
]);

const COMMANDS = [
  'Connect-ExchangeOnline -Organization {tenantId}',
  'Add-RecipientPermission -Identity {from} -Trustee {authorizedFrom} -AccessRights SendAs',
  'Get-RecipientPermission -Identity {from}',
];

export interface SendAsInput {
  /** The sender's From address. */
  from: string;
  /** The signed-in mailbox (XOAUTH2 user=, Graph's /users/{id}). */
  signInAs: string;
  /** The service principal's object id (the token's oid), when known. */
  oid?: string;
  /** The test message's check (`send` or `graph-send`), when one was sent. */
  sent?: CheckResult;
  /** Exchange's configuration, when a source gave it (with `fromMailbox`), or why it could not be read. */
  facts?: { source: string; facts: ExchangeFacts } | { source: string; error: string };
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

export function decideSendAs(input: SendAsInput, ctx: DiagnosisContext): CheckResult {
  const values = fillValues({ ...ctx, authorizedFrom: input.signInAs, from: input.from });
  const commands = fillAll(COMMANDS, values);
  const details: Record<string, unknown> = { from: input.from, signInAs: input.signInAs };
  const grantFix = `Grant ${input.signInAs} Send As on ${input.from} (Add-RecipientPermission below; Exchange can take up to an hour to apply it), then run \`mailgate doctor\` again.`;
  const sent = input.sent;

  if (sent?.status === 'pass') {
    return { id: 'send-as', status: 'pass', summary: `${input.signInAs} may send as ${input.from}: Exchange accepted the test message (${sent.id}).`, details: { ...details, evidence: sent.id } };
  }
  if (sent?.status === 'fail' && typeof sent.details?.diagnosis === 'string' && SEND_AS_DENIED_RULES.has(sent.details.diagnosis)) {
    return {
      id: 'send-as',
      status: 'fail',
      // The reply's head (`554 5.2.252 SendAsDenied`); the whole line is in the send check's details.
      summary: `${input.signInAs} has no Send As on ${input.from}: Exchange refused the test message (${String(sent.details.reply ?? sent.details.diagnosis).split(';')[0]!.trim()}).`,
      fix: joinFix([grantFix, `Or send as ${input.signInAs} itself (a sender whose From is its signed-in mailbox needs no Send As).`]),
      // The commands the send check rendered carry the addresses Exchange named in its reply.
      commands: sent.commands?.some((c) => c.startsWith('Add-RecipientPermission')) ? [...sent.commands] : commands,
      details: { ...details, evidence: sent.id, diagnosis: sent.details.diagnosis },
    };
  }

  const f = input.facts;
  if (f && 'facts' in f && f.facts.fromMailbox !== undefined) {
    const target = f.facts.fromMailbox;
    const factsDetails = { ...details, evidence: 'exchange-facts', exchangeFactsFrom: f.source };
    if (target === null) {
      return {
        id: 'send-as', status: 'fail',
        summary: `${input.from} is not a mailbox of this tenant (as read from ${f.source}), so ${input.signInAs} cannot send as it.`,
        fix: joinFix([`Check the From address ${input.from} (spelling, domain), or create the mailbox (a shared mailbox needs no licence).`, grantFix]),
        commands, details: factsDetails,
      };
    }
    const granted = target.sendAs.some((t) => same(t, input.signInAs) || (input.oid !== undefined && same(t, input.oid)));
    if (granted) {
      return { id: 'send-as', status: 'pass', summary: `${input.signInAs} has Send As on ${input.from}${target.type === 'shared' ? ' (a shared mailbox)' : ''}, as read from ${f.source}.`, details: { ...factsDetails, sendAs: [...target.sendAs] } };
    }
    return {
      id: 'send-as', status: 'fail',
      summary: `${input.signInAs} has no Send As on ${input.from} (as read from ${f.source}: Send As is granted to ${target.sendAs.length ? target.sendAs.join(', ') : 'nobody'}); Exchange would refuse every message with 554 5.2.252 SendAsDenied.`,
      fix: grantFix, commands, details: { ...factsDetails, sendAs: [...target.sendAs] },
    };
  }

  const why = sent?.status === 'fail'
    ? `the test message failed for another reason (see ${sent.id})`
    : sent?.status === 'skip' ? `no test message could be sent (see ${sent.id})` : 'no test message was sent (--to)';
  return {
    id: 'send-as', status: 'warn',
    summary: `${input.signInAs} sends as ${input.from} (Send As), which Exchange only judges when a message is submitted; not verified: ${why}.`,
    fix: joinFix([
      `Run \`mailgate doctor\` again with --to <your address>: the test message is sent with From ${input.from}, and a missing Send As shows as 554 5.2.252 SendAsDenied.`,
      `Or check it in Exchange Online (Get-RecipientPermission below: ${input.signInAs} must be listed with AccessRights SendAs), and grant it if it is not.`,
    ]),
    commands,
    details: { ...details, ...(f && 'error' in f ? { exchangeFactsError: `${f.source}: ${f.error}` } : {}) },
  };
}
