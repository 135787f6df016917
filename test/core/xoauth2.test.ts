import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildXOAuth2 } from '../../src/core/xoauth2.js';

test("XOAUTH2 matches Microsoft's documented test vector", () => {
  assert.equal(
    buildXOAuth2('test@contoso.onmicrosoft.com', 'EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA'),
    'dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==',
  );
});

test('XOAUTH2 refuses control characters in the user or token', () => {
  assert.throws(() => buildXOAuth2('a@b.example\x01auth=Bearer x', 'tok'));
  assert.throws(() => buildXOAuth2('a@b.example', 'tok\r\nQUIT'));
});
