/**
 * The admin page's icon (/admin/assets/favicon.ico; /favicon.ico redirects here): a 16×16
 * ICO drawn in code — a white envelope on the page's blue — so no binary file is committed
 * or downloaded.
 *
 * Why: browsers request /favicon.ico on every page; a 404 there fills logs and shows a
 * blank tab icon. ICO (not SVG) because that is what every browser reads at that path.
 *
 * Format: ICONDIR (6 bytes) + one ICONDIRENTRY (16) + a BMP without file header: a
 * BITMAPINFOHEADER (40, height doubled for the AND mask), 32-bit BGRA rows bottom-up, and a
 * 1-bit AND mask (all zero: the alpha channel decides).
 *
 * Imports: nothing.
 */

const SIZE = 16;
const BLUE = [0x0a, 0x58, 0xca]; // RGB, the page's accent colour
const WHITE = [0xff, 0xff, 0xff];

/** The colour of pixel (x, y), y = 0 at the top; undefined = transparent. */
function pixel(x: number, y: number): number[] | undefined {
  const inBox = x >= 1 && x <= 14 && y >= 1 && y <= 14;
  if (!inBox) return undefined;
  // The envelope: a white rectangle from (3,4) to (12,11) with a blue "V" flap.
  const inEnvelope = x >= 3 && x <= 12 && y >= 4 && y <= 11;
  if (!inEnvelope) return BLUE;
  const flap = y - 4 === Math.min(x - 3, 12 - x);
  return flap ? BLUE : WHITE;
}

function buildIco(): Buffer {
  const pixels = SIZE * SIZE * 4;
  const mask = SIZE * 4; // 16 bits per row, padded to 32
  const bmpSize = 40 + pixels + mask;
  const out = Buffer.alloc(6 + 16 + bmpSize);
  out.writeUInt16LE(0, 0); // reserved
  out.writeUInt16LE(1, 2); // type: icon
  out.writeUInt16LE(1, 4); // count
  out.writeUInt8(SIZE, 6);
  out.writeUInt8(SIZE, 7);
  out.writeUInt8(0, 8); // no palette
  out.writeUInt8(0, 9);
  out.writeUInt16LE(1, 10); // planes
  out.writeUInt16LE(32, 12); // bits per pixel
  out.writeUInt32LE(bmpSize, 14);
  out.writeUInt32LE(22, 18); // offset of the image
  let o = 22;
  out.writeUInt32LE(40, o);
  out.writeInt32LE(SIZE, o + 4);
  out.writeInt32LE(SIZE * 2, o + 8);
  out.writeUInt16LE(1, o + 12);
  out.writeUInt16LE(32, o + 14);
  out.writeUInt32LE(0, o + 16); // BI_RGB
  out.writeUInt32LE(pixels + mask, o + 20);
  o += 40;
  for (let row = SIZE - 1; row >= 0; row--) {
    for (let x = 0; x < SIZE; x++) {
      const c = pixel(x, row);
      if (c) {
        out[o] = c[2]!;
        out[o + 1] = c[1]!;
        out[o + 2] = c[0]!;
        out[o + 3] = 0xff;
      }
      o += 4;
    }
  }
  return out; // the AND mask stays zero
}

export const FAVICON_ICO: Buffer = buildIco();
