/**
 * One token cache entry per resource (issue 15 item 2): the Outlook (SMTP) token and the Graph
 * token of one credential are cached, refreshed and invalidated apart, and a caller only ever
 * gets the token of the scope it asked for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResourceTokenProvider } from '../../src/auth/resource-token-provider.js';
import { CachingTokenProvider } from '../../src/auth/token-provider.js';
import { decodeTokenClaims } from '../../src/auth/jwt-claims.js';
import { parseSettings } from '../../src/core/settings.js';
import { createTokenProvider } from '../../src/mailer.js';
import { useEmulatedTenants } from '../helpers/emulated-tenant.js';

const OUTLOOK = 'https://outlook.office365.com/.default';
const GRAPH = 'https://graph.microsoft.com/.default';

function fakeProviders() {
  const asked: string[] = [];
  let n = 0;
  const p = new ResourceTokenProvider(OUTLOOK, (scope) => new CachingTokenProvider({
    fetchToken: async () => {
      asked.push(scope);
      await new Promise((r) => setImmediate(r));
      return { token: `token-for:${scope}#${++n}`, expiresAt: Date.now() + 3600_000 };
    },
  }));
  return { p, asked };
}

describe('token cache per resource', () => {
  it('the SMTP and the Graph token are separate entries, each asked for its own scope', async () => {
    const { p, asked } = fakeProviders();
    const [smtp, graph] = await Promise.all([p.getToken(), p.forResource(GRAPH).getToken()]);
    assert.match(smtp.token, /^token-for:https:\/\/outlook\.office365\.com\/\.default#/);
    assert.match(graph.token, /^token-for:https:\/\/graph\.microsoft\.com\/\.default#/);
    assert.deepEqual(asked.sort(), [GRAPH, OUTLOOK]);
    // Cached: asking again sends nothing, and each caller still gets its own resource's token.
    assert.equal((await p.getToken()).token, smtp.token);
    assert.equal((await p.forResource(GRAPH).getToken()).token, graph.token);
    assert.equal((await p.forResource('https://Graph.Microsoft.com/.default ').getToken()).token, graph.token);
    assert.equal(p.requestCount, 2);
    assert.deepEqual(p.resources.sort(), [GRAPH, OUTLOOK]);
  });

  it('invalidating or refreshing one resource leaves the other alone', async () => {
    const { p, asked } = fakeProviders();
    const smtp = await p.getToken();
    const graph = await p.forResource(GRAPH).getToken();
    p.invalidate(); // after a 535: only the SMTP token goes
    assert.equal((await p.forResource(GRAPH).getToken()).token, graph.token);
    const smtp2 = await p.getToken();
    assert.notEqual(smtp2.token, smtp.token);
    assert.ok(smtp2.token.startsWith(`token-for:${OUTLOOK}`));
    const graph2 = await p.forResource(GRAPH).getToken({ forceRefresh: true }); // after a Graph 401
    assert.ok(graph2.token.startsWith(`token-for:${GRAPH}`));
    assert.notEqual(graph2.token, graph.token);
    assert.equal((await p.getToken()).token, smtp2.token);
    assert.deepEqual(asked, [OUTLOOK, GRAPH, OUTLOOK, GRAPH]);
  });

  describe('against the emulator\'s token endpoint (real tokens)', () => {
    const tenants = useEmulatedTenants();
    it('getToken() carries the Outlook audience, forResource(graph) the Graph audience', async () => {
      const t = tenants.tenant();
      const r = parseSettings(tenants.rawFor(t));
      assert.ok(r.ok);
      const p = createTokenProvider(r.settings, { ca: tenants.emu.caPem });
      const smtp = decodeTokenClaims((await p.getToken()).token);
      const graph = decodeTokenClaims((await p.forResource(r.settings.graphScope).getToken()).token);
      assert.ok(smtp && graph);
      assert.match(String(smtp.aud), /outlook\.office365\.com|00000002-0000-0ff1-ce00-000000000000/);
      assert.match(String(graph.aud), /graph\.microsoft\.com|00000003-0000-0000-c000-000000000000/);
      assert.equal(p.requestCount, 2);
    });
  });
});
