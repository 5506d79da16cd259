// Bytes without Node's Buffer: the deploy environment's agent runs on QuickJS, which has
// neither Buffer nor TextEncoder. Pure functions on Uint8Array (a Buffer is one too).

/** A string as UTF-8. */
export function utf8Encode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    let c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

/** UTF-8 as a string; malformed input becomes U+FFFD as TextDecoder does it (WHATWG Encoding §9.1.1). */
export function utf8Decode(b: Uint8Array, start = 0, end = b.length): string {
  const cps: number[] = [];
  let needed = 0;
  let seen = 0;
  let cp = 0;
  let lower = 0x80;
  let upper = 0xbf;
  for (let i = start; i < end; i++) {
    const x = b[i]!;
    if (needed === 0) {
      if (x <= 0x7f) cps.push(x);
      else if (x >= 0xc2 && x <= 0xdf) (needed = 1), (cp = x & 0x1f);
      else if (x >= 0xe0 && x <= 0xef) {
        if (x === 0xe0) lower = 0xa0;
        if (x === 0xed) upper = 0x9f;
        (needed = 2), (cp = x & 0xf);
      } else if (x >= 0xf0 && x <= 0xf4) {
        if (x === 0xf0) lower = 0x90;
        if (x === 0xf4) upper = 0x8f;
        (needed = 3), (cp = x & 7);
      } else cps.push(0xfffd);
      continue;
    }
    if (x < lower || x > upper) {
      (needed = 0), (seen = 0), (cp = 0), (lower = 0x80), (upper = 0xbf);
      cps.push(0xfffd);
      i--; // the byte starts what follows
      continue;
    }
    (lower = 0x80), (upper = 0xbf);
    cp = (cp << 6) | (x & 0x3f);
    if (++seen === needed) {
      cps.push(cp);
      (needed = 0), (seen = 0), (cp = 0);
    }
  }
  if (needed) cps.push(0xfffd);
  let s = '';
  for (let i = 0; i < cps.length; i += 4096) s += String.fromCodePoint(...cps.slice(i, i + 4096));
  return s;
}

/** UTF-16LE code units as a string (UEFI's strings). */
export function utf16leDecode(b: Uint8Array, start: number, end: number): string {
  const units: number[] = [];
  for (let i = start; i + 1 < end; i += 2) units.push(b[i]! | (b[i + 1]! << 8));
  let s = '';
  for (let i = 0; i < units.length; i += 4096) s += String.fromCharCode(...units.slice(i, i + 4096));
  return s;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
export const readU16LE = (b: Uint8Array, at: number) => view(b).getUint16(at, true);
export const readU32LE = (b: Uint8Array, at: number) => view(b).getUint32(at, true);
export const readU64LE = (b: Uint8Array, at: number) => Number(view(b).getBigUint64(at, true));
export const writeU16LE = (b: Uint8Array, at: number, v: number) => view(b).setUint16(at, v, true);
export const writeU32LE = (b: Uint8Array, at: number, v: number) => view(b).setUint32(at, v, true);

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes 0–255 as characters ("EFI PART"). */
export const latin1 = (b: Uint8Array, start: number, end: number) => String.fromCharCode(...b.subarray(start, end));
