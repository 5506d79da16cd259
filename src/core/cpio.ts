// newc ("070701") cpio writer and reader, the format the kernel unpacks
// (Documentation/driver-api/early-userspace/buffer-format.rst). No I/O here: the writer
// yields byte chunks, the reader walks a buffer. Compression is someone else's job.
//
// Why our own and not cpio-stream: cpio-stream packs odc unless told otherwise, sizes
// names by JS string length (breaks on non-ASCII), replaces a zero mtime with "now" and
// mutates the header it is given — each of those breaks a reproducible initramfs.

import {artifactError} from '../shared/errors.js';

export type CpioEntryType = 'file' | 'dir' | 'symlink';

/** File content: bytes in memory, or a size plus a source of chunks (opened at the edge). */
export type CpioData = Uint8Array | {size: number; open: () => AsyncIterable<Uint8Array>};

export interface CpioEntry {
  /** Path inside the archive, without a leading slash: "anemos/config.json". */
  path: string;
  type: CpioEntryType;
  /** Permission bits (0o755); the type bits are added here. */
  mode?: number;
  data?: CpioData;
  /** Symlink target. */
  target?: string;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const TRAILER = 'TRAILER!!!';
const MAX_U32 = 0xffffffff;

export function normalizeCpioPath(p: string): string {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.length === 0) throw artifactError('cpio-bad-path', `Archive path "${p}" names no file.`);
  if (parts.includes('..')) throw artifactError('cpio-bad-path', `Archive path "${p}" contains "..".`, 'Use paths relative to the initramfs root.');
  return parts.join('/');
}

function dataSize(data: CpioData | undefined): number {
  if (!data) return 0;
  return data instanceof Uint8Array ? data.byteLength : data.size;
}

/**
 * Sort entries, add missing parent directories before their children and reject
 * duplicates. The result is deterministic for the same input set.
 */
export function planCpioEntries(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = normalizeCpioPath(e.path);
    if (byPath.has(path)) throw artifactError('cpio-duplicate', `Two entries for "${path}" in one archive.`);
    byPath.set(path, {...e, path});
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const existing = byPath.get(parent);
      if (!existing) byPath.set(parent, {path: parent, type: 'dir', mode: 0o755});
      else if (existing.type !== 'dir') throw artifactError('cpio-not-a-dir', `"${parent}" is a ${existing.type} but "${path}" is inside it.`);
    }
  }
  // Byte-wise order puts every parent before its children ("a" < "a/b").
  return [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > MAX_U32) throw artifactError('cpio-field-range', `Value ${n} does not fit a newc header field.`);
  return n.toString(16).padStart(8, '0');
}

function header(fields: {ino: number; mode: number; nlink: number; mtime: number; size: number; nameSize: number}): Buffer {
  const h =
    '070701' +
    hex8(fields.ino) +
    hex8(fields.mode) +
    hex8(0) + // uid
    hex8(0) + // gid
    hex8(fields.nlink) +
    hex8(fields.mtime) +
    hex8(fields.size) +
    hex8(0) + // devmajor
    hex8(0) + // devminor
    hex8(0) + // rdevmajor
    hex8(0) + // rdevminor
    hex8(fields.nameSize) +
    hex8(0); // check (unused in newc)
  return Buffer.from(h, 'ascii');
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

function headerAndName(ino: number, mode: number, nlink: number, mtime: number, size: number, name: string): Buffer {
  const nameBytes = Buffer.from(name + '\0', 'utf8');
  const h = header({ino, mode, nlink, mtime, size, nameSize: nameBytes.byteLength});
  return Buffer.concat([h, nameBytes, Buffer.alloc(pad4(h.byteLength + nameBytes.byteLength))]);
}

export interface CpioWriteOptions {
  /** mtime for every entry; default 0 (or SOURCE_DATE_EPOCH, passed in by the caller). */
  mtime?: number;
}

/** Yield the archive as chunks. Total length is a multiple of 4. */
export async function* writeCpio(entries: readonly CpioEntry[], opts: CpioWriteOptions = {}): AsyncGenerator<Uint8Array> {
  const mtime = opts.mtime ?? 0;
  let ino = 1;
  for (const e of planCpioEntries(entries)) {
    const perm = (e.mode ?? (e.type === 'dir' ? 0o755 : 0o644)) & 0o7777;
    if (e.type === 'dir') {
      yield headerAndName(ino++, S_IFDIR | perm, 2, mtime, 0, e.path);
    } else if (e.type === 'symlink') {
      if (!e.target) throw artifactError('cpio-bad-symlink', `Symlink "${e.path}" has no target.`);
      const t = Buffer.from(e.target, 'utf8');
      yield headerAndName(ino++, S_IFLNK | 0o777, 1, mtime, t.byteLength, e.path);
      yield Buffer.concat([t, Buffer.alloc(pad4(t.byteLength))]);
    } else {
      const size = dataSize(e.data);
      yield headerAndName(ino++, S_IFREG | perm, 1, mtime, size, e.path);
      let written = 0;
      if (e.data instanceof Uint8Array) {
        yield e.data;
        written = e.data.byteLength;
      } else if (e.data) {
        for await (const chunk of e.data.open()) {
          written += chunk.byteLength;
          if (written > size) break;
          yield chunk;
        }
      }
      if (written !== size) {
        throw artifactError('cpio-size-changed', `"${e.path}" was announced as ${size} bytes but ${written} were read.`, 'Was the file changed while the archive was written?');
      }
      if (pad4(size)) yield Buffer.alloc(pad4(size));
    }
  }
  yield headerAndName(0, 0, 1, 0, 0, TRAILER);
}

/** Collect a whole archive in memory (small segments, tests). */
export async function buildCpio(entries: readonly CpioEntry[], opts: CpioWriteOptions = {}): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const c of writeCpio(entries, opts)) chunks.push(c);
  return Buffer.concat(chunks);
}

export interface CpioListing {
  path: string;
  type: CpioEntryType | 'other';
  mode: number;
  size: number;
  /** Offset of the file data inside the archive buffer (-1 for a file inside an image). */
  dataOffset: number;
  target?: string;
  /** Set on a file inside a filesystem image of the archive: that image's path (early/usr.squashfs). */
  image?: string;
}

/**
 * Read one newc archive starting at `offset`. Returns its entries (without the
 * trailer) and the offset just past the trailer's padding.
 */
export function readCpio(buf: Uint8Array, offset = 0): {entries: CpioListing[]; end: number} {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const entries: CpioListing[] = [];
  let pos = offset;
  for (;;) {
    if (pos + 110 > b.byteLength) throw artifactError('cpio-truncated', `cpio archive ends inside a header at byte ${pos}.`);
    const magic = b.toString('ascii', pos, pos + 6);
    if (magic !== '070701' && magic !== '070702') {
      throw artifactError('cpio-bad-magic', `No newc header at byte ${pos} (found "${magic.replace(/[^\x20-\x7e]/g, '.')}").`, 'Only newc ("070701") archives are supported, as the kernel requires.');
    }
    const field = (i: number) => parseInt(b.toString('ascii', pos + 6 + i * 8, pos + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const nameStart = pos + 110;
    const name = b.toString('utf8', nameStart, nameStart + nameSize - 1);
    const dataOffset = nameStart + nameSize + pad4(110 + nameSize);
    const next = dataOffset + size + pad4(size);
    if (dataOffset + size > b.byteLength) throw artifactError('cpio-truncated', `cpio entry "${name}" runs past the end of the archive.`);
    if (name === TRAILER) return {entries, end: Math.min(next, b.byteLength)};
    const fmt = mode & 0o170000;
    const type: CpioListing['type'] = fmt === S_IFREG ? 'file' : fmt === S_IFDIR ? 'dir' : fmt === S_IFLNK ? 'symlink' : 'other';
    entries.push({
      path: name,
      type,
      mode: mode & 0o7777,
      size,
      dataOffset,
      ...(type === 'symlink' ? {target: b.toString('utf8', dataOffset, dataOffset + size)} : {}),
    });
    pos = next;
  }
}
