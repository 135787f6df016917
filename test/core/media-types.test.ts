import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mediaTypeFor } from '../../src/core/media-types.js';

test('an attachment type defaults from the extension, case-insensitively; unknown is octet-stream', () => {
  assert.equal(mediaTypeFor('invoice.PDF'), 'application/pdf');
  assert.equal(mediaTypeFor('logo.png'), 'image/png');
  assert.equal(mediaTypeFor('report.xlsx'), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  assert.equal(mediaTypeFor('data'), 'application/octet-stream');
  assert.equal(mediaTypeFor('archive.tar.unknown'), 'application/octet-stream');
  // An .eml file is not message/rfc822 by default: that type is refused as an attachment.
  assert.equal(mediaTypeFor('forwarded.eml'), 'application/octet-stream');
});
