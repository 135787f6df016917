import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SETTINGS_FIELDS } from '../../src/core/settings.js';
import { SERVICE_VARS } from '../../src/service/config.js';

test('the README settings table names every setting of the schema, with its key and environment variable', () => {
  const readme = readFileSync('README.md', 'utf8');
  for (const f of SETTINGS_FIELDS) {
    assert.ok(readme.includes(`\`${f.env}\``), `README lacks ${f.env}`);
    assert.ok(readme.includes(`\`${f.key}\``), `README lacks the key ${f.key}`);
  }
});

test('the README gives the two set-up commands, and .ci/run runs the test one', () => {
  const readme = readFileSync('README.md', 'utf8');
  assert.ok(readme.includes('npm ci && npm run dev'));
  assert.ok(readme.includes('npm ci && npm test'));
  assert.ok(readFileSync('.ci/run', 'utf8').includes('npm ci && npm test'));
});

test('the README service variables table names every service variable', () => {
  const readme = readFileSync('README.md', 'utf8');
  for (const v of SERVICE_VARS) assert.ok(readme.includes(`\`${v.env}\``), `README lacks ${v.env}`);
});
