// Walk a concatenated initramfs the way the kernel does (init/initramfs.c
// unpack_to_rootfs): zero bytes between archives are skipped, an uncompressed newc
// archive must start on a 4-byte boundary, a compressed one is followed by whatever
// comes after its compressed stream. Finding where a zstd or xz stream ends needs no
// decompression: both formats carry their block sizes. Decompression is injected.

import {artifactError} from '../shared/errors.js';
import {readCpio, type CpioListing} from './cpio.js';

export const COMPRESSIONS = ['none', 'gzip', 'zstd', 'xz'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export type SegmentFormat = Compression | 'bzip2' | 'lzma' | 'lz4' | 'unknown';

export function detectFormat(b: Uint8Array, off: number): SegmentFormat {
  const at = (i: number) => b[off + i];
  if (at(0) === 0x30 && at(1) === 0x37 && at(2) === 0x30 && at(3) === 0x37) return 'none';
  if (at(0) === 0x1f && (at(1) === 0x8b || at(1) === 0x9e)) return 'gzip';
  if (at(0) === 0x28 && at(1) === 0xb5 && at(2) === 0x2f && at(3) === 0xfd) return 'zstd';
  if (at(0) === 0xfd && at(1) === 0x37 && at(2) === 0x7a && at(3) === 0x58 && at(4) === 0x5a && at(5) === 0x00) return 'xz';
  if (at(0) === 0x42 && at(1) === 0x5a && at(2) === 0x68) return 'bzip2';
  if (at(0) === 0x5d && at(1) === 0x00 && at(2) === 0x00) return 'lzma';
  if (at(0) === 0x02 && at(1) === 0x21 && at(2) === 0x4c && at(3) === 0x18) return 'lz4';
  return 'unknown';
}

const isZstdMagic = (b: Uint8Array, o: number) => b[o] === 0x28 && b[o + 1] === 0xb5 && b[o + 2] === 0x2f && b[o + 3] === 0xfd;
const isSkippableMagic = (b: Uint8Array, o: number) => (b[o] & 0xf0) === 0x50 && b[o + 1] === 0x2a && b[o + 2] === 0x4d && b[o + 3] === 0x18;
const u32le = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;

/** End offset of the zstd frames (and skippable frames) starting at `off` (RFC 8878 §3.1). */
export function zstdFramesEnd(b: Uint8Array, off: number): number {
  let pos = off;
  while (pos + 4 <= b.byteLength && (isZstdMagic(b, pos) || isSkippableMagic(b, pos))) {
    if (isSkippableMagic(b, pos)) {
      pos += 8 + u32le(b, pos + 4);
      continue;
    }
    const fhd = b[pos + 4];
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd >> 5) & 1;
    const checksum = (fhd >> 2) & 1;
    const dictIdFlag = fhd & 3;
    let p = pos + 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][dictIdFlag] + [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag];
    for (;;) {
      if (p + 3 > b.byteLength) throw artifactError('zstd-truncated', `zstd frame at byte ${off} is truncated.`);
      const bh = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
      const last = bh & 1;
      const type = (bh >> 1) & 3;
      const size = bh >>> 3;
      if (type === 3) throw artifactError('zstd-corrupt', `zstd frame at byte ${off} has a reserved block type.`);
      p += 3 + (type === 1 ? 1 : size);
      if (last) break;
    }
    pos = p + (checksum ? 4 : 0);
  }
  if (pos > b.byteLength) throw artifactError('zstd-truncated', `zstd data at byte ${off} is truncated.`);
  return pos;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.byteLength; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * End offset of the xz stream at `off`. An xz stream is a multiple of 4 bytes and ends
 * with a 12-byte footer: CRC32, backward size, flags, "YZ". We take the first 4-aligned
 * "YZ" whose footer CRC matches and whose flags equal the header's.
 */
export function xzStreamEnd(b: Uint8Array, off: number): number {
  const flags0 = b[off + 6];
  const flags1 = b[off + 7];
  for (let p = off + 24; p <= b.byteLength; p += 4) {
    if (b[p - 2] !== 0x59 || b[p - 1] !== 0x5a) continue;
    const f = p - 12;
    if (b[f + 8] !== flags0 || b[f + 9] !== flags1) continue;
    if (crc32(b.subarray(f + 4, f + 10)) === u32le(b, f)) return p;
  }
  throw artifactError('xz-truncated', `xz stream at byte ${off} has no footer.`);
}

export interface InitramfsSegment {
  index: number;
  offset: number;
  /** Bytes this segment occupies in the file (compressed size). */
  length: number;
  compression: Compression;
  /** Uncompressed cpio bytes. */
  unpackedSize: number;
  entries: CpioListing[];
}

/** Decompress one compressed stream; for gzip also say how many input bytes it used. */
export type Decompressor = (format: Exclude<Compression, 'none'>, input: Uint8Array) => Promise<{data: Uint8Array; consumed?: number}>;

/**
 * The files of a squashfs image, with paths inside it; undefined when it cannot be read here
 * (no unsquashfs). The base keeps /usr in one (initramfs/build.sh).
 */
export type ImageLister = (image: Uint8Array) => Promise<Omit<CpioListing, 'dataOffset' | 'image'>[] | undefined>;

const SQUASHFS_MAGIC = [0x68, 0x73, 0x71, 0x73]; // "hsqs"

/** Where /init mounts an image of the base: early/NAME.squashfs on /NAME. */
export function imageMountPoint(path: string): string | undefined {
  return /(?:^|\/)early\/([^/]+)\.squashfs$/.exec(path)?.[1];
}

/** Each squashfs image that /init mounts, listed after its own entry with its files under the mount point. */
async function expandImages(data: Uint8Array, entries: CpioListing[], listImage: ImageLister): Promise<CpioListing[]> {
  const out: CpioListing[] = [];
  for (const e of entries) {
    out.push(e);
    const mount = imageMountPoint(e.path);
    const head = data.subarray(e.dataOffset, e.dataOffset + 4);
    if (e.type !== 'file' || mount === undefined || !SQUASHFS_MAGIC.every((x, i) => head[i] === x)) continue;
    const inside = await listImage(data.subarray(e.dataOffset, e.dataOffset + e.size));
    for (const f of inside ?? []) out.push({...f, path: `${mount}/${f.path}`, dataOffset: -1, image: e.path.replace(/^\.?\//, '')});
  }
  return out;
}

/**
 * Split an initramfs into its segments and list every entry, as the kernel would read them;
 * with listImage, also the files of the squashfs images /init mounts (marked with `image`).
 */
export async function scanInitramfs(b: Uint8Array, decompress: Decompressor, listImage?: ImageLister): Promise<InitramfsSegment[]> {
  const segments: InitramfsSegment[] = [];
  let pos = 0;
  while (pos < b.byteLength) {
    if (b[pos] === 0) {
      pos++;
      continue;
    }
    const format = detectFormat(b, pos);
    const index = segments.length;
    if (format === 'none') {
      if (pos % 4 !== 0) {
        throw artifactError('initramfs-misaligned', `Uncompressed cpio archive at byte ${pos} is not 4-byte aligned; the kernel rejects it ("junk within compressed archive").`);
      }
      const archive = readCpio(b, pos);
      const entries = listImage ? await expandImages(b, archive.entries, listImage) : archive.entries;
      segments.push({index, offset: pos, length: archive.end - pos, compression: 'none', unpackedSize: archive.end - pos, entries});
      pos = archive.end;
      continue;
    }
    if (format !== 'gzip' && format !== 'zstd' && format !== 'xz') {
      throw artifactError('initramfs-unsupported', `Segment ${index} at byte ${pos} is ${format === 'unknown' ? 'not a cpio archive nor a known compression' : format}, which anemos cannot list.`, 'anemos reads newc cpio, gzip, xz and zstd segments.');
    }
    let end: number;
    let data: Uint8Array;
    if (format === 'gzip') {
      const r = await decompress('gzip', b.subarray(pos));
      if (r.consumed === undefined) throw new Error('gzip decompressor must report consumed bytes');
      end = pos + r.consumed;
      data = r.data;
    } else {
      end = format === 'zstd' ? zstdFramesEnd(b, pos) : xzStreamEnd(b, pos);
      data = (await decompress(format, b.subarray(pos, end))).data;
    }
    const archives = readConcatenatedCpio(data, 0);
    const entries = listImage ? await expandImages(data, archives.entries, listImage) : archives.entries;
    segments.push({index, offset: pos, length: end - pos, compression: format, unpackedSize: data.byteLength, entries});
    pos = end;
  }
  return segments;
}

/** Inside one (decompressed) segment the kernel accepts several archives back to back, zero-padded. */
function readConcatenatedCpio(b: Uint8Array, start: number): {entries: CpioListing[]; end: number} {
  const entries: CpioListing[] = [];
  let pos = start;
  let end = start;
  while (pos < b.byteLength) {
    if (b[pos] === 0) {
      pos++;
      continue;
    }
    if (detectFormat(b, pos) !== 'none' || pos % 4 !== 0) break;
    const r = readCpio(b, pos);
    entries.push(...r.entries);
    pos = end = r.end;
  }
  return {entries, end};
}

/** Frame_Content_Size of the zstd frame at the start of `b`, when the frame records it. */
export function zstdContentSize(b: Uint8Array): number | undefined {
  if (b.byteLength < 6 || !isZstdMagic(b, 0)) return undefined;
  const fhd = b[4];
  const single = (fhd >> 5) & 1;
  const fcsSize = [single ? 1 : 0, 2, 4, 8][fhd >> 6];
  if (!fcsSize) return undefined;
  const p = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3];
  if (p + fcsSize > b.byteLength) return undefined;
  if (fcsSize === 1) return b[p];
  if (fcsSize === 2) return (b[p] | (b[p + 1] << 8)) + 256;
  if (fcsSize === 4) return u32le(b, p);
  return u32le(b, p) + u32le(b, p + 4) * 0x100000000;
}
