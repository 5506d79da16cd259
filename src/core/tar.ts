// Tar archives as mmdebstrap writes them (GNU and POSIX ustar, with GNU long names and pax
// headers): read entry by entry over a random-access Source, each entry with where its
// header blocks and its data lie, so that a layer copies the entries it keeps byte for
// byte; and the ustar headers a layer adds of its own (overlayfs whiteouts). Pure.

import type {Source} from './source.js';

export const BLOCK = 512;

export type TarType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  /** From the archive's root, without "./" or a trailing slash ("" is the root itself). */
  path: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  /** A link's target (symlink), or the path it is a hard link of. */
  link?: string;
  devmajor?: number;
  devminor?: number;
  /** pax extended attributes (SCHILY.xattr.*), as given. */
  xattrs?: Record<string, string>;
  /** Where this entry's blocks start (its long-name and pax headers first) and where its data starts. */
  start: number;
  data: number;
  /** Where the next entry starts. */
  end: number;
}

export class TarError extends Error {
  override name = 'TarError';
}

const TYPES: Record<string, TarType> = {'0': 'file', '\0': 'file', '7': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo'};

const text = (b: Buffer, from: number, len: number) => {
  const s = b.subarray(from, from + len);
  const nul = s.indexOf(0);
  return s.toString('utf8', 0, nul === -1 ? s.length : nul);
};

/** An octal field, or GNU's base-256 (high bit set) for large values. */
function num(b: Buffer, from: number, len: number, what: string, at: number): number {
  if (b[from]! & 0x80) {
    let v = 0;
    for (let i = from + 1; i < from + len; i++) v = v * 256 + b[i]!;
    return v;
  }
  const s = text(b, from, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarError(`the tar header at byte ${at} has a ${what} that is not a number (${JSON.stringify(s)})`);
  return parseInt(s, 8);
}

const clean = (p: string) => p.replace(/^(\.\/)+/, '').replace(/^\.$/, '').replace(/\/+$/, '');

/** pax records: "LEN key=value\n" each. */
function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (let p = 0; p < data.length; ) {
    const sp = data.indexOf(0x20, p);
    const len = Number(data.toString('latin1', p, sp));
    if (sp === -1 || !Number.isInteger(len) || len <= 0 || p + len > data.length) break;
    const rec = data.toString('utf8', sp + 1, p + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    p += len;
  }
  return out;
}

/** Every entry of the archive, in order. */
export async function* readTar(src: Source): AsyncGenerator<TarEntry> {
  let at = 0;
  let start = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  while (at + BLOCK <= src.size) {
    const h = await src.read(at, BLOCK);
    if (h.every((x) => x === 0)) return;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== num(h, 148, 8, 'checksum', at)) throw new TarError(`the tar header at byte ${at} is damaged (its checksum does not match)`);
    const flag = String.fromCharCode(h[156]!);
    const size = num(h, 124, 12, 'size', at);
    const data = at + BLOCK;
    const end = data + Math.ceil(size / BLOCK) * BLOCK;
    if (end > src.size) throw new TarError(`the tar entry at byte ${at} claims ${size} bytes, past the end of the archive (${src.size} bytes)`);
    if (flag === 'L' || flag === 'K' || flag === 'x' || flag === 'g') {
      if (size > 1 << 20) throw new TarError(`the tar header at byte ${at} carries ${size} bytes of names or attributes: refused`);
      const body = await src.read(data, size);
      if (flag === 'L') longName = text(body, 0, size);
      else if (flag === 'K') longLink = text(body, 0, size);
      else if (flag === 'x') pax = {...pax, ...paxRecords(body)};
      at = end;
      continue;
    }
    const type = TYPES[flag];
    if (!type) throw new TarError(`the tar entry at byte ${at} is of a type this does not read (${JSON.stringify(flag)})`);
    const ustar = h.toString('latin1', 257, 263) === 'ustar\0';
    const prefix = ustar ? text(h, 345, 155) : '';
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${text(h, 0, 100)}` : text(h, 0, 100));
    const link = pax.linkpath ?? longLink ?? text(h, 157, 100);
    const xattrs = Object.fromEntries(Object.entries(pax).filter(([k]) => k.startsWith('SCHILY.xattr.')).map(([k, v]) => [k.slice('SCHILY.xattr.'.length), v]));
    const entry: TarEntry = {
      path: clean(name),
      type,
      mode: num(h, 100, 8, 'mode', at) & 0o7777,
      uid: pax.uid ? Number(pax.uid) : num(h, 108, 8, 'uid', at),
      gid: pax.gid ? Number(pax.gid) : num(h, 116, 8, 'gid', at),
      size: type === 'file' ? (pax.size ? Number(pax.size) : size) : 0,
      mtime: pax.mtime ? Math.floor(Number(pax.mtime)) : num(h, 136, 12, 'mtime', at),
      ...(type === 'symlink' || type === 'hardlink' ? {link: type === 'hardlink' ? clean(link) : link} : {}),
      ...(type === 'char' || type === 'block' ? {devmajor: num(h, 329, 8, 'device', at), devminor: num(h, 337, 8, 'device', at)} : {}),
      ...(Object.keys(xattrs).length ? {xattrs} : {}),
      start,
      data,
      end,
    };
    if (entry.path.split('/').includes('..')) throw new TarError(`the tar entry at byte ${at} is named ${JSON.stringify(name)}: a name that climbs out of the archive; refused`);
    yield entry;
    at = end;
    start = end;
    longName = longLink = undefined;
    pax = {};
  }
  if (at < src.size) throw new TarError(`the archive ends inside a header (at byte ${at} of ${src.size})`);
}

/** A ustar header block (with a pax header first when the path is longer than ustar holds). */
export function tarHeader(e: {path: string; type: 'char' | 'dir' | 'file'; mode: number; uid?: number; gid?: number; size?: number; mtime: number; devmajor?: number; devminor?: number}): Buffer {
  const blocks: Buffer[] = [];
  let name = e.path;
  if (Buffer.byteLength(name) > 100) {
    // "LEN path=NAME\n", LEN counting its own digits.
    const rec = (k: string, v: string) => {
      const base = Buffer.byteLength(` ${k}=${v}\n`);
      let len = base + String(base).length;
      if (String(len).length > String(base).length) len = base + String(len).length;
      return `${len} ${k}=${v}\n`;
    };
    const data = Buffer.from(rec('path', name));
    blocks.push(headerBlock({name: 'PaxHeader', flag: 'x', mode: 0o644, size: data.length, mtime: e.mtime}), pad(data));
    name = name.slice(0, 100);
  }
  const flag = {char: '3', dir: '5', file: '0'}[e.type];
  blocks.push(headerBlock({name, flag, mode: e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, size: e.size ?? 0, mtime: e.mtime, devmajor: e.devmajor ?? 0, devminor: e.devminor ?? 0}));
  return Buffer.concat(blocks);
}

function headerBlock(f: {name: string; flag: string; mode: number; uid?: number; gid?: number; size: number; mtime: number; devmajor?: number; devminor?: number}): Buffer {
  const h = Buffer.alloc(BLOCK);
  const oct = (v: number, len: number) => v.toString(8).padStart(len - 1, '0') + '\0';
  h.write(f.name, 0, 100, 'utf8');
  h.write(oct(f.mode, 8), 100, 'latin1');
  h.write(oct(f.uid ?? 0, 8), 108, 'latin1');
  h.write(oct(f.gid ?? 0, 8), 116, 'latin1');
  h.write(oct(f.size, 12), 124, 'latin1');
  h.write(oct(f.mtime, 12), 136, 'latin1');
  h.write(f.flag, 156, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  h.write(oct(f.devmajor ?? 0, 8), 329, 'latin1');
  h.write(oct(f.devminor ?? 0, 8), 337, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of h) sum += x;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((BLOCK - (b.length % BLOCK)) % BLOCK)]);

/** The end of an archive: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * BLOCK);
