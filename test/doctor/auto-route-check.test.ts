/**
 * Unit tests of the doctor's auto-route decision (pure): which transport Automatic would use,
 * from what the SMTP and Graph checks found, with the router's own reasons.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MailgateError } from '../../src/core/errors.js';
import { decideAutoRoute } from '../../src/doctor/checks/auto-route-check.js';

const auth = (code: number, enhanced: string) =>
  new MailgateError({ code: 'AUTH_FAILED', phase: 'auth', message: 'refused', smtp: { code, enhanced, raw: `${code} ${enhanced} refused`, command: 'AUTH XOAUTH2' } });

test('the table: (SMTP outcome, Graph outcome) → (transport, reason, status)', () => {
  const rows: [Parameters<typeof decideAutoRoute>[0], Parameters<typeof decideAutoRoute>[1], string, string, string][] = [
    [{ ok: true }, 'fail', 'smtp', 'preferred', 'pass'],
    [{ ok: false, error: auth(535, '5.7.139') }, 'ok', 'graph', 'smtp-auth-disabled', 'pass'],
    [{ ok: false, error: auth(535, '5.7.139') }, 'unknown', 'graph', 'smtp-auth-disabled', 'warn'],
    [{ ok: false, error: auth(535, '5.7.139') }, 'fail', 'none', 'smtp-auth-disabled', 'fail'],
    [{ ok: false, error: auth(550, '5.7.30') }, 'ok', 'graph', 'smtp-basic-auth-disabled', 'pass'],
    [{ ok: false, tcpCode: 'ECONNREFUSED' }, 'ok', 'graph', 'smtp-unreachable', 'pass'],
    [{ ok: false, error: auth(535, '5.7.3'), roles: ['Mail.Send'] }, 'ok', 'graph', 'token-without-smtp-sendasapp', 'pass'],
    [{ ok: false, error: auth(535, '5.7.3'), roles: ['Mail.Send', 'SMTP.SendAsApp'] }, 'ok', 'none', 'same-failure-on-both', 'fail'],
    [{ ok: false }, 'ok', 'none', 'same-failure-on-both', 'fail'],
  ];
  for (const [smtp, graph, transport, reason, status] of rows) {
    const d = decideAutoRoute(smtp, graph);
    assert.deepEqual([d.transport, d.reason, d.check.status], [transport, reason, status], JSON.stringify({ smtp: smtp.ok ? 'ok' : smtp, graph }));
    assert.equal(d.check.id, 'auto-route');
    assert.equal(d.check.details?.transport, transport);
  }
});
