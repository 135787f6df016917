/**
 * `mailgate send --attach FILE` and an API attachment without contentType take the content type
 * from the same table (core/media-types.ts). The CLI had a shorter table of its own, so the same
 * file got two types (notes.md: text/markdown over the API, application/octet-stream from send).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contentTypeFor } from '../../src/cli/commands/send.js';
import { mediaTypeFor } from '../../src/core/media-types.js';

test('send --attach names the same content type as the API default for every file name', () => {
  for (const name of ['notes.md', 'data.tsv', 'card.vcf', 'scan.TIFF', 'report.pdf', 'sheet.xlsx', 'archive.7z', 'signature.p7s', 'no-extension', 'x.unknownext']) {
    assert.equal(contentTypeFor(`/tmp/dir.with.dots/${name}`), mediaTypeFor(name), name);
  }
  assert.equal(contentTypeFor('/tmp/notes.md'), 'text/markdown');
});
