/**
 * The per-mailbox recipient budget: Exchange Online allows 10,000 recipients per mailbox per
 * rolling 24 hours and blocks the mailbox (554 5.2.0 SubmissionQuotaExceeded) when it is
 * exceeded (docs/m365.md §5.1). The worker checks the budget before sending and defers a message
 * that would exceed it, rather than provoking the block.
 *
 * The count comes from the store (messages sent in the window, shared by every worker on the
 * queue) and is refreshed every `refreshMs`; sends by this process since the last refresh are
 * added locally, so the check costs no query per message.
 */
import type { OutboxStore } from '../outbox/store.js';

export interface RecipientBudgetOptions {
  /** Recipients per window. Default 10,000. */
  limit: number;
  /** Window length. Default 24 h. */
  windowMs: number;
  /** How often the count is re-read from the store. Default 60 s. */
  refreshMs: number;
}

export const DEFAULT_RECIPIENT_BUDGET: RecipientBudgetOptions = { limit: 10_000, windowMs: 86_400_000, refreshMs: 60_000 };

interface MailboxCount {
  used: number;
  readAt: number;
}

export class RecipientBudget {
  readonly #counts = new Map<string, MailboxCount>();
  constructor(readonly store: Pick<OutboxStore, 'recipientsSentSince'>, readonly options: RecipientBudgetOptions) {}

  async #current(mailbox: string, now: number, force: boolean): Promise<MailboxCount> {
    const key = mailbox.toLowerCase();
    let c = this.#counts.get(key);
    if (!c || force || now - c.readAt >= this.options.refreshMs) {
      c = { used: await this.store.recipientsSentSince(mailbox, now - this.options.windowMs), readAt: now };
      this.#counts.set(key, c);
    }
    return c;
  }

  /** Whether `recipients` more fit in the window (re-reading the store before saying no); `limit`: a sender's own daily recipients. */
  async allows(mailbox: string, recipients: number, now: number, limit = this.options.limit): Promise<boolean> {
    let c = await this.#current(mailbox, now, false);
    if (c.used + recipients <= limit) return true;
    c = await this.#current(mailbox, now, true);
    return c.used + recipients <= limit;
  }

  /** Count a send made by this process. */
  record(mailbox: string, recipients: number): void {
    const c = this.#counts.get(mailbox.toLowerCase());
    if (c) c.used += recipients;
  }
}
