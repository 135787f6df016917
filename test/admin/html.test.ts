/**
 * The escaping template helper: every interpolation is escaped unless it is a SafeHtml
 * fragment; raw() is the only other way in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeHtml, html, join, raw, SafeHtml } from '../../src/admin/html.js';

describe('html template', () => {
  it('escapes text interpolations, in content and in attributes', () => {
    const subject = '<script>alert("x")</script> & \'quotes\' `tick`';
    const out = html`<td title="${subject}">${subject}</td>`.value;
    assert.equal(out, '<td title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39; &#96;tick&#96;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39; &#96;tick&#96;</td>');
    assert.ok(!out.includes('<script>'));
  });

  it('cannot break out of a quoted attribute', () => {
    const out = html`<input value="${'" onfocus="alert(1)'}">`.value;
    assert.equal(out, '<input value="&quot; onfocus=&quot;alert(1)">');
  });

  it('keeps nested html fragments and raw() as they are', () => {
    const inner = html`<b>${'<i>'}</b>`;
    assert.ok(inner instanceof SafeHtml);
    assert.equal(html`<p>${inner}</p>`.value, '<p><b>&lt;i&gt;</b></p>');
    assert.equal(html`<p>${raw('<br>')}</p>`.value, '<p><br></p>');
  });

  it('joins arrays, renders numbers, and renders nothing for null, undefined and booleans', () => {
    const items = ['a<', 'b'];
    assert.equal(html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`.value, '<ul><li>a&lt;</li><li>b</li></ul>');
    assert.equal(html`${0}|${42}|${null}|${undefined}|${false}|${true}`.value, '0|42||||');
    assert.equal(html`${['<', raw('<')]}`.value, '&lt;<');
  });

  it('escapeHtml and join', () => {
    assert.equal(escapeHtml('a&b<c>d"e\'f'), 'a&amp;b&lt;c&gt;d&quot;e&#39;f');
    assert.equal(join(['<a>', html`<b></b>`], ', ').value, '&lt;a&gt;, <b></b>');
    assert.equal(join(['x', 'y'], raw('<br>')).value, 'x<br>y');
  });

  it('does not treat a string that looks like SafeHtml as safe', () => {
    const fake = { value: '<script>' } as unknown as string;
    assert.equal(html`${fake}`.value, escapeHtml(String(fake)));
  });
});
