import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseMessageRequest } from '../../src/service/intake/message-request.js';
import { openApiDocument } from '../../src/service/intake/http/openapi.js';

test('the README\'s message request example is accepted, and it names every attachment field of the OpenAPI schema', () => {
  const readme = readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('### The message request'));
  const example = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
  assert.ok(example, 'the section has a JSON example');
  const r = parseMessageRequest(JSON.parse(example));
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.request.payload.attachments?.[0].contentType, 'application/pdf');
  const doc = openApiDocument() as any;
  for (const field of Object.keys(doc.components.schemas.MessageRequest.properties.attachments.items.properties)) {
    assert.ok(section.includes(`\`${field}\``), `README lacks the attachment field ${field}`);
  }
});
