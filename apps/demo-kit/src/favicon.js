/**
 * The demos' /favicon.ico, drawn here rather than shipped as a binary file: a
 * 32×32 icon in the demos' accent colour, a cookie with a bite taken out.
 * An ICO file holding one 32-bit BMP (BGRA rows bottom-up, then an all-zero
 * AND mask: the alpha channel does the masking).
 */
const SIZE = 32;
const ACCENT = [0x35, 0x58, 0xd4]; // --accent of style.css
const CHIP = [0xff, 0xff, 0xff];

/** @returns {Buffer} */
function drawIcon() {
  const pixels = Buffer.alloc(SIZE * SIZE * 4);
  const c = (SIZE - 1) / 2;
  const chips = [[11, 11], [19, 9], [20, 19], [11, 20], [15, 15]];
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const inCookie = Math.hypot(x - c, y - c) <= 15;
      const inBite = Math.hypot(x - 28, y - 3) <= 7;
      let rgb = null;
      if (inCookie && !inBite) rgb = chips.some(([cx, cy]) => Math.hypot(x - cx, y - cy) <= 1.8) ? CHIP : ACCENT;
      // BMP rows go bottom-up; pixels are BGRA.
      const at = ((SIZE - 1 - y) * SIZE + x) * 4;
      if (rgb) pixels.set([rgb[2], rgb[1], rgb[0], 0xff], at);
    }
  }
  const mask = Buffer.alloc((SIZE / 8) * SIZE); // 4 bytes a row, already 32-bit aligned
  const header = Buffer.alloc(40);
  header.writeUInt32LE(40, 0); // BITMAPINFOHEADER
  header.writeInt32LE(SIZE, 4);
  header.writeInt32LE(SIZE * 2, 8); // colour rows + mask rows
  header.writeUInt16LE(1, 12); // planes
  header.writeUInt16LE(32, 14); // bits per pixel
  header.writeUInt32LE(pixels.length + mask.length, 20);
  const image = Buffer.concat([header, pixels, mask]);
  const dir = Buffer.alloc(6 + 16);
  dir.writeUInt16LE(1, 2); // type: icon
  dir.writeUInt16LE(1, 4); // one image
  dir.writeUInt8(SIZE, 6);
  dir.writeUInt8(SIZE, 7);
  dir.writeUInt16LE(1, 10); // planes
  dir.writeUInt16LE(32, 12); // bits per pixel
  dir.writeUInt32LE(image.length, 14);
  dir.writeUInt32LE(dir.length, 18); // offset of the image
  return Buffer.concat([dir, image]);
}

/** The icon's bytes, served as `image/x-icon`. */
export const favicon = drawIcon();

/** Headers for /favicon.ico: cached a day, it never changes. */
export const FAVICON_HEADERS = { 'content-type': 'image/x-icon', 'cache-control': 'public, max-age=86400' };
