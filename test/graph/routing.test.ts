/**
 * Automatic routing (issue 15 item 4): the decision table (transport, failure) → (next
 * transport, reason), and the Automatic mailer against the emulator: SMTP AUTH turned off for
 * the mailbox mid-run moves the sender to Graph and back after the re-probe, with zero
 * duplicates and zero lost (counted by Message-ID at the emulator).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MailgateError, parseSmtpReply, type MailgateErrorInit } from '../../src/core/errors.js';
import { certainlyNotAccepted, decideRoute, type RouteTransport } from '../../src/core/transport-routing.js';
import { parseSettings } from '../../src/core/settings.js';
import { createMailer, routeStateFor, ROUTE_REPROBE_MS } from '../../src/mailer.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';

const e = (init: Partial<MailgateErrorInit> & Pick<MailgateErrorInit, 'code'>) => new MailgateError({ phase: 'send', message: 'x', ...init });
const smtp = (raw: string, command = 'AUTH XOAUTH2') => parseSmtpReply(raw, command);

const TABLE: Array<[string, RouteTransport, MailgateError, RouteTransport | undefined, string, boolean?]> = [
  ['535 5.7.139 SMTP AUTH disabled', 'smtp', e({ code: 'AUTH_FAILED', phase: 'auth', smtp: smtp('535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox.') }), 'graph', 'smtp-auth-disabled', true],
  ['550 5.7.30 basic auth', 'smtp', e({ code: 'AUTH_FAILED', phase: 'auth', smtp: smtp('550 5.7.30 Basic authentication is not supported for Client Submission.', 'AUTH LOGIN') }), 'graph', 'smtp-basic-auth-disabled', true],
  ['587 refused', 'smtp', e({ code: 'CONNECT_FAILED', phase: 'connect' }), 'graph', 'smtp-unreachable', true],
  ['587 timeout', 'smtp', e({ code: 'CONNECT_TIMEOUT', phase: 'connect' }), 'graph', 'smtp-unreachable', true],
  ['535 5.7.3 with Mail.Send but no SMTP.SendAsApp', 'smtp', e({ code: 'AUTH_FAILED', phase: 'auth', smtp: smtp('535 5.7.3 Authentication unsuccessful'), context: { tokenRoles: 'Mail.Send' } }), 'graph', 'token-without-smtp-sendasapp', true],
  ['535 5.7.3 with SMTP.SendAsApp (Exchange-side set-up)', 'smtp', e({ code: 'AUTH_FAILED', phase: 'auth', smtp: smtp('535 5.7.3 Authentication unsuccessful'), context: { tokenRoles: 'SMTP.SendAsApp Mail.Send' } }), undefined, 'same-failure-on-both'],
  ['connection lost after DATA (outcome unknown)', 'smtp', e({ code: 'CONNECTION_LOST' }), undefined, 'same-failure-on-both'],
  ['550 5.1.10 recipient', 'smtp', e({ code: 'SMTP_REJECTED', smtp: smtp('550 5.1.10 RESOLVER.ADR.RecipientNotFound', 'RCPT TO') }), undefined, 'same-failure-on-both'],
  ['432 4.3.2 concurrency', 'smtp', e({ code: 'SMTP_TRANSIENT', smtp: smtp('432 4.3.2 Concurrent connections limit exceeded.', 'AUTH XOAUTH2') }), undefined, 'same-failure-on-both'],
  ['Graph 403 ErrorAccessDenied', 'graph', e({ code: 'GRAPH_AUTH_FAILED', phase: 'auth', graph: { status: 403, code: 'ErrorAccessDenied' } }), 'smtp', 'graph-access-denied', true],
  ['Graph MailboxNotEnabledForRESTAPI', 'graph', e({ code: 'GRAPH_AUTH_FAILED', phase: 'auth', graph: { status: 404, code: 'MailboxNotEnabledForRESTAPI' } }), 'smtp', 'graph-mailbox-not-enabled', true],
  ['Graph too large (local)', 'graph', e({ code: 'GRAPH_TOO_LARGE', context: { notSent: true } }), 'smtp', 'too-large-for-graph', false],
  ['Graph 413', 'graph', e({ code: 'GRAPH_REJECTED', graph: { status: 413, code: 'RequestBodyTooLarge' } }), 'smtp', 'too-large-for-graph', false],
  ['Graph request timed out (outcome unknown)', 'graph', e({ code: 'GRAPH_OUTCOME_UNKNOWN' }), undefined, 'same-failure-on-both'],
  ['Graph 429', 'graph', e({ code: 'GRAPH_TRANSIENT', graph: { status: 429, code: 'ApplicationThrottled' } }), undefined, 'same-failure-on-both'],
  ['Graph ErrorInvalidRecipients', 'graph', e({ code: 'GRAPH_REJECTED', graph: { status: 400, code: 'ErrorInvalidRecipients' } }), undefined, 'same-failure-on-both'],
  ['Graph 401 invalid audience', 'graph', e({ code: 'GRAPH_AUTH_FAILED', phase: 'auth', graph: { status: 401, code: 'InvalidAuthenticationToken' } }), undefined, 'same-failure-on-both'],
];

describe('routing decision table', () => {
  for (const [name, from, error, next, reason, sticky] of TABLE) {
    it(`${from}: ${name} → ${next ?? 'stay'} (${reason})`, () => {
      const d = decideRoute(from, error);
      assert.equal(d.next, next);
      assert.equal(d.reason, reason);
      if (sticky !== undefined) assert.equal(d.sticky, sticky);
    });
  }

  it('a matching failure whose message may have been accepted never moves', () => {
    // A 413-like row, but as an unknown outcome: not certainly refused.
    const maybe = e({ code: 'GRAPH_OUTCOME_UNKNOWN', graph: undefined });
    assert.equal(certainlyNotAccepted(maybe), false);
    // Even with a reply that would move, a send whose outcome is unknown stays on its transport.
    const lost = e({ code: 'CONNECTION_LOST', smtp: smtp('535 5.7.139 x') });
    assert.deepEqual(decideRoute('smtp', lost), { reason: 'outcome-unknown', sticky: false });
    const interrupted = e({ code: 'INTERRUPTED' });
    assert.equal(certainlyNotAccepted(interrupted), false);
    assert.equal(certainlyNotAccepted(e({ code: 'INTERRUPTED', context: { notSent: true } })), true);
    assert.equal(decideRoute('smtp', new Error('boom')).next, undefined);
  });
});

describe('Automatic against the emulator', () => {
  const tenants = useEmulatedTenants({ limits: { messagesPerMinute: Infinity } });

  function setMailboxSmtpAuth(address: string, disabled: boolean | null) {
    const state = tenants.emu.getState();
    for (const t of state.tenants) for (const m of t.mailboxes) if (m.address.toLowerCase() === address.toLowerCase()) m.smtpAuthDisabled = disabled;
    tenants.emu.setState(state);
  }

  it('SMTP AUTH turned off mid-run: moves to Graph (sticky, with its reason), back to SMTP after the re-probe; zero duplicates, zero lost', async () => {
    const t = tenants.tenant();
    tenants.emu.clearMessages();
    let clock = 1_000_000;
    const r = parseSettings(tenants.rawFor(t, { transport: 'auto', graphEndpoint: tenants.emu.graph }));
    assert.ok(r.ok);
    const mailer = createMailer(r.settings, { ca: tenants.emu.caPem, clock: { now: () => clock } });
    const sent: { messageId: string; transport?: string }[] = [];
    const send = async (i: number) => {
      const res = await mailer.send({ to: [`user${i}@example.com`], subject: `auto ${i}`, text: `m ${i}` });
      sent.push({ messageId: res.messageId, transport: res.transport });
    };
    try {
      for (let i = 0; i < 5; i++) await send(i);
      assert.ok(sent.every((s) => s.transport === 'smtp'));
      setMailboxSmtpAuth(t.authorizedFrom, true);
      // A new connection meets 535 5.7.139 (the pool's connections may be kept: close them).
      await mailer.close();
      const mailer2 = createMailer(r.settings, { ca: tenants.emu.caPem, clock: { now: () => clock } });
      try {
        for (let i = 5; i < 15; i++) {
          const res = await mailer2.send({ to: [`user${i}@example.com`], subject: `auto ${i}`, text: `m ${i}` });
          sent.push({ messageId: res.messageId, transport: res.transport });
        }
        assert.ok(sent.slice(5).every((s) => s.transport === 'graph'), JSON.stringify(sent.slice(5)));
        const route = routeStateFor(t.clientId, t.authorizedFrom)!;
        assert.equal(route.transport, 'graph');
        assert.equal(route.reason, 'smtp-auth-disabled');
        assert.equal(route.switches['smtp→graph smtp-auth-disabled'], 1, 'sticky: one switch, then Graph directly');
        // SMTP AUTH on again; after the re-probe interval, SMTP gets the next message.
        setMailboxSmtpAuth(t.authorizedFrom, null);
        clock += ROUTE_REPROBE_MS;
        for (let i = 15; i < 20; i++) {
          const res = await mailer2.send({ to: [`user${i}@example.com`], subject: `auto ${i}`, text: `m ${i}` });
          sent.push({ messageId: res.messageId, transport: res.transport });
        }
        assert.ok(sent.slice(15).every((s) => s.transport === 'smtp'), JSON.stringify(sent.slice(15)));
        assert.equal(routeStateFor(t.clientId, t.authorizedFrom)!.transport, 'smtp');
      } finally {
        await mailer2.close();
      }
      const received = tenants.emu.messages();
      const ids = received.map((m) => m.messageId);
      assert.equal(ids.length, 20, 'zero lost');
      assert.equal(new Set(ids).size, 20, 'zero duplicates');
      assert.deepEqual(new Set(ids), new Set(sent.map((s) => s.messageId)));
      assert.equal(received.filter((m) => m.transport === 'graph').length, 10);
    } finally {
      await mailer.close();
    }
  });

  it('a message too large for one Graph request goes by SMTP while the sender stays on Graph', async () => {
    const t = tenants.tenant({ domain: 'big.onmicrosoft.com', mailboxSmtpAuthDisabled: true });
    tenants.emu.clearMessages();
    const r = parseSettings(tenants.rawFor(t, { transport: 'auto', graphEndpoint: tenants.emu.graph }));
    assert.ok(r.ok);
    const mailer = createMailer(r.settings, { ca: tenants.emu.caPem });
    try {
      const small = await mailer.send({ to: ['a@example.com'], subject: 'small', text: 'x' });
      assert.equal(small.transport, 'graph');
      // SMTP AUTH back on for the mailbox, the sticky choice is still Graph: a large message goes by SMTP.
      setMailboxSmtpAuth(t.authorizedFrom, null);
      const big = await mailer.send({ to: ['a@example.com'], subject: 'big', text: 'x', attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', content: Buffer.alloc(3_500_000, 7) }] });
      assert.equal(big.transport, 'smtp');
      assert.equal(routeStateFor(t.clientId, t.authorizedFrom)!.transport, 'graph');
      assert.equal(routeStateFor(t.clientId, t.authorizedFrom)!.switches['graph→smtp too-large-for-graph'], 1);
      assert.equal(tenants.emu.messages().length, 2);
    } finally {
      await mailer.close();
    }
  });
});
