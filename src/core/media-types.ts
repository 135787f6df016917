/**
 * The default media type of an attachment from its file name's extension.
 *
 * Why: an attachment's `contentType` is optional in the API (and `mailgate send --attach`);
 * recipients' mail programs decide how to open a file by it, so a wrong default is worse
 * than none. A small fixed table of the types applications actually attach; anything else is
 * `application/octet-stream` (the safe, standard "unknown bytes"). An `.eml` file defaults to
 * `application/octet-stream` too, not `message/rfc822`: a message/* or multipart/* attachment
 * is refused (message.ts), and a file name alone must not make a request invalid.
 *
 * Imports: nothing.
 */

const BY_EXTENSION: Record<string, string> = {
  pdf: 'application/pdf',
  txt: 'text/plain',
  log: 'text/plain',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  htm: 'text/html',
  html: 'text/html',
  ics: 'text/calendar',
  vcf: 'text/vcard',
  md: 'text/markdown',
  xml: 'application/xml',
  json: 'application/json',
  zip: 'application/zip',
  gz: 'application/gzip',
  '7z': 'application/x-7z-compressed',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  ico: 'image/vnd.microsoft.icon',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  rtf: 'application/rtf',
  p7s: 'application/pkcs7-signature',
  pem: 'application/x-pem-file',
};

export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

/** The media type for a file name (case-insensitive extension), or application/octet-stream. */
export function mediaTypeFor(filename: string): string {
  const m = /\.([A-Za-z0-9]{1,8})$/.exec(filename);
  return (m && BY_EXTENSION[m[1].toLowerCase()]) || DEFAULT_MEDIA_TYPE;
}
