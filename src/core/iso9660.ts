// An ISO 9660 reader: the directory tree of an installation image, with its Rock Ridge or
// Joliet names, and where each file's bytes lie in the image, so that a kernel is served
// straight out of the ISO file: no mount, no loop device, no root, nothing copied out.
// Pure: it asks a Source for byte ranges. An image is untrusted input: every record is
// checked against the image's bounds, names that could step out of their directory, links
// that lead back to an ancestor and extents past the image's end are refused with the
// reason, and nothing is read outside the image.
//
// ECMA-119 (ISO 9660), IEEE P1281/P1282 (SUSP, Rock Ridge), Joliet (UCS-2 names in a
// supplementary volume descriptor).

export const SECTOR = 2048;

import type {Source} from './source.js';

export {bufferSource, type Source} from './source.js';

export class IsoError extends Error {
  override name = 'IsoError';
}

export interface IsoEntry {
  name: string;
  /** From the image's root, without a leading slash. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  /** Rock Ridge's mode bits, when the image has them. */
  mode?: number;
  /** A symlink's target as recorded (never followed). */
  target?: string;
  /** Where the bytes lie: byte offsets in the image (a file over 4 GiB has several). */
  extents: {offset: number; length: number}[];
}

export type NameScheme = 'rockridge' | 'joliet' | 'iso9660';

/** Hostile images stop at these rather than at the reader's memory. */
const LIMITS = {directoryBytes: 16 << 20, depth: 64, continuations: 32, descriptors: 64, entries: 1_000_000};

const le32 = (b: Buffer, o: number) => b.readUInt32LE(o);
const le16 = (b: Buffer, o: number) => b.readUInt16LE(o);

interface Root {
  block: number;
  size: number;
  joliet: boolean;
}

export class IsoImage {
  private readonly dirs = new Map<string, Promise<IsoEntry[]>>();

  private constructor(
    private readonly src: Source,
    readonly volume: string,
    readonly names: NameScheme,
    private readonly root: Root,
    /** SUSP bytes to skip at the start of each system use area (SP's LEN_SKP). */
    private readonly suspSkip: number,
  ) {}

  get size(): number {
    return this.src.size;
  }

  static async open(src: Source): Promise<IsoImage> {
    if (src.size < 17 * SECTOR) throw new IsoError(`not an ISO 9660 image: ${src.size} bytes, and its volume descriptors start at byte ${16 * SECTOR}`);
    let primary: Buffer | undefined;
    let joliet: Buffer | undefined;
    for (let i = 0; i < LIMITS.descriptors && (17 + i) * SECTOR <= src.size; i++) {
      const d = await src.read((16 + i) * SECTOR, SECTOR);
      if (d.toString('latin1', 1, 6) !== 'CD001') {
        if (i === 0) throw new IsoError('not an ISO 9660 image: no volume descriptor (CD001) at sector 16');
        break;
      }
      if (d[0] === 255) break;
      if (d[0] === 1 && !primary) primary = d;
      // Joliet: a supplementary descriptor whose escape sequence names UCS-2 level 1, 2 or 3.
      if (d[0] === 2 && d[88] === 0x25 && d[89] === 0x2f && [0x40, 0x43, 0x45].includes(d[90]!)) joliet ??= d;
    }
    if (!primary) throw new IsoError('not an ISO 9660 image: it has no primary volume descriptor');
    const blockSize = le16(primary, 128);
    if (blockSize !== SECTOR) throw new IsoError(`a logical block of ${blockSize} bytes: only ${SECTOR} is read`);
    const rootOf = (d: Buffer, isJoliet: boolean): Root => ({block: le32(d, 156 + 2) + d[156 + 1]!, size: le32(d, 156 + 10), joliet: isJoliet});
    const volume = primary.toString('latin1', 40, 72).trim();
    const primaryRoot = rootOf(primary, false);
    // Rock Ridge: the root's "." record starts its system use area with SUSP's SP entry.
    checkExtent(src, primaryRoot.block * SECTOR, primaryRoot.size, 'the root directory');
    const first = await src.read(primaryRoot.block * SECTOR, Math.min(SECTOR, primaryRoot.size));
    const sp = suspOf(first, 0);
    if (sp && sp.length >= 7 && sp.toString('latin1', 0, 2) === 'SP' && sp[4] === 0xbe && sp[5] === 0xef) {
      return new IsoImage(src, volume, 'rockridge', primaryRoot, sp[6]!);
    }
    if (joliet) return new IsoImage(src, decodeUcs2(joliet.subarray(40, 72)).trim() || volume, 'joliet', rootOf(joliet, true), 0);
    return new IsoImage(src, volume, 'iso9660', primaryRoot, 0);
  }

  /** The entry at PATH (a/b/c), or undefined when there is none. */
  async stat(path: string): Promise<IsoEntry | undefined> {
    const parts = splitPath(path);
    if (!parts.length) return {name: '', path: '', type: 'dir', size: this.root.size, extents: [{offset: this.root.block * SECTOR, length: this.root.size}]};
    let dir: IsoEntry[] = await this.list('');
    let found: IsoEntry | undefined;
    for (const [i, part] of parts.entries()) {
      found = dir.find((e) => e.name === part);
      if (!found) return undefined;
      if (i < parts.length - 1) {
        if (found.type !== 'dir') return undefined;
        dir = await this.list(found.path);
      }
    }
    return found;
  }

  /** The entries of the directory at PATH; an error when it is not one. */
  list(path: string): Promise<IsoEntry[]> {
    const key = splitPath(path).join('/');
    let made = this.dirs.get(key);
    if (!made) {
      made = this.listUncached(key);
      this.dirs.set(key, made);
    }
    return made;
  }

  private async listUncached(key: string): Promise<IsoEntry[]> {
    // Each directory knows its ancestors (a link back to one is a cycle): found through the cached lists above it.
    const root = {offset: this.root.block * SECTOR, length: this.root.size};
    const ancestors = [root.offset];
    if (!key) return this.readDirectory(root, '', ancestors);
    const parts = key.split('/');
    let entries = await this.list('');
    let e: IsoEntry | undefined;
    for (const [i, part] of parts.entries()) {
      const here = parts.slice(0, i + 1).join('/');
      e = entries.find((x) => x.name === part);
      if (!e) throw new IsoError(`${here}: no such directory in the image`);
      if (e.type !== 'dir') throw new IsoError(`${here}: not a directory`);
      if (ancestors.includes(e.extents[0]!.offset)) throw new IsoError(`${here} leads back to its own ancestor (a cycle in the image's directory links): refused`);
      ancestors.push(e.extents[0]!.offset);
      if (ancestors.length > LIMITS.depth) throw new IsoError(`${here}: deeper than ${LIMITS.depth} directories: refused`);
      if (i < parts.length - 1) entries = await this.list(here);
    }
    return this.readDirectory(e!.extents[0]!, key, ancestors);
  }

  /** Every entry under PATH, depth first (a cycle or a name that steps out is an error). */
  async *walk(path = '', seen = {count: 0}): AsyncGenerator<IsoEntry> {
    for (const e of await this.list(path)) {
      // Directories may share an extent without a cycle: the walk stops at a number no real image has.
      if (++seen.count > LIMITS.entries) throw new IsoError(`more than ${LIMITS.entries} entries under ${path || 'the root'}: refused`);
      yield e;
      if (e.type === 'dir') yield* this.walk(e.path, seen);
    }
  }

  /** A file's bytes from START to END (exclusive), in chunks, read from the image where they lie. */
  async *read(entry: IsoEntry, start = 0, end = entry.size, chunk = 1 << 20): AsyncGenerator<Buffer> {
    if (entry.type !== 'file') throw new IsoError(`${entry.path} is not a file`);
    if (start < 0 || end > entry.size || start > end) throw new IsoError(`${entry.path}: bytes ${start}-${end} are outside its ${entry.size}`);
    let base = 0;
    for (const x of entry.extents) {
      const from = Math.max(start, base);
      const to = Math.min(end, base + x.length);
      for (let at = from; at < to; at += chunk) yield this.src.read(x.offset + at - base, Math.min(chunk, to - at));
      base += x.length;
    }
  }

  /** A whole file, when it is at most MAX bytes (for small text files: .disk/info, .treeinfo). */
  async readFile(path: string, max = 1 << 20): Promise<Buffer | undefined> {
    const e = await this.stat(path);
    if (!e || e.type !== 'file') return undefined;
    if (e.size > max) throw new IsoError(`${path} is ${e.size} bytes: more than the ${max} read whole`);
    const parts: Buffer[] = [];
    for await (const b of this.read(e)) parts.push(b);
    return Buffer.concat(parts);
  }

  private async readDirectory(extent: {offset: number; length: number}, path: string, ancestors: number[]): Promise<IsoEntry[]> {
    const where = path || 'the root directory';
    if (extent.length > LIMITS.directoryBytes) throw new IsoError(`${where} claims ${extent.length} bytes: more than any real directory (${LIMITS.directoryBytes}); refused`);
    checkExtent(this.src, extent.offset, extent.length, where);
    const buf = await this.src.read(extent.offset, extent.length);
    const out: IsoEntry[] = [];
    let multi: IsoEntry | undefined;
    for (let pos = 0; pos < buf.length; ) {
      const len = buf[pos]!;
      if (len === 0) {
        pos = (Math.floor(pos / SECTOR) + 1) * SECTOR;
        continue;
      }
      const sectorEnd = (Math.floor(pos / SECTOR) + 1) * SECTOR;
      if (len < 34 || pos + len > Math.min(sectorEnd, buf.length) || 33 + buf[pos + 32]! > len) {
        throw new IsoError(`${where} has a corrupt record at byte ${pos} (length ${len}): the image is damaged or was cut short`);
      }
      const rec = buf.subarray(pos, pos + len);
      pos += len;
      const nameLen = rec[32]!;
      if (nameLen === 1 && (rec[33] === 0 || rec[33] === 1)) continue; // "." and ".."
      const flags = rec[25]!;
      const rr = this.names === 'rockridge' ? await this.rockRidge(rec, where) : undefined;
      if (rr?.relocated) continue; // RE: the directory's real place is named by a CL elsewhere.
      const raw = rec.subarray(33, 33 + nameLen);
      const name = rr?.name ?? (this.root.joliet ? decodeUcs2(raw) : isoName(raw));
      checkName(name, where);
      const full = path ? `${path}/${name}` : name;
      const block = (rr?.childBlock ?? le32(rec, 2)) + (rr?.childBlock === undefined ? rec[1]! : 0);
      let size = le32(rec, 10);
      const isDir = rr?.childBlock !== undefined || (flags & 0x02) !== 0;
      if (rr?.childBlock !== undefined) {
        // CL: the relocated directory's size is its own "." record's.
        checkExtent(this.src, block * SECTOR, 34, full);
        size = le32(await this.src.read(block * SECTOR, 34), 10);
      }
      const offset = block * SECTOR;
      if (isDir && ancestors.includes(offset)) throw new IsoError(`${full} leads back to its own ancestor (a cycle in the image's directory links): refused`);
      checkExtent(this.src, offset, size, full);
      if (multi && multi.name === name) {
        multi.extents.push({offset, length: size});
        multi.size += size;
        if (!(flags & 0x80)) multi = undefined;
        continue;
      }
      multi = undefined;
      const type = rr?.symlink !== undefined ? 'symlink' : isDir ? 'dir' : 'file';
      const e: IsoEntry = {name, path: full, type, size: type === 'symlink' ? 0 : size, extents: type === 'symlink' ? [] : [{offset, length: size}], ...(rr?.mode !== undefined ? {mode: rr.mode} : {}), ...(rr?.symlink !== undefined ? {target: rr.symlink} : {})};
      if (out.some((x) => x.name === name)) throw new IsoError(`${where} holds "${name}" twice: refused`);
      out.push(e);
      if (flags & 0x80 && type === 'file') multi = e;
    }
    return out;
  }

  /** A record's Rock Ridge fields: its name (NM), mode (PX), link (SL), and relocation (CL, RE). */
  private async rockRidge(rec: Buffer, where: string): Promise<{name?: string; mode?: number; symlink?: string; childBlock?: number; relocated?: boolean}> {
    const out: {name?: string; mode?: number; symlink?: string; childBlock?: number; relocated?: boolean} = {};
    let area = suspOf(rec, this.suspSkip);
    let name: string | undefined;
    let link: string[] | undefined;
    let linkOpen = false;
    for (let hops = 0; area; hops++) {
      if (hops > LIMITS.continuations) throw new IsoError(`${where}: a record's Rock Ridge continuation areas go on past ${LIMITS.continuations}: refused`);
      let next: {block: number; offset: number; length: number} | undefined;
      for (let p = 0; p + 4 <= area.length; ) {
        const sig = area.toString('latin1', p, p + 2);
        const len = area[p + 2]!;
        if (len < 4 || p + len > area.length) break; // padding or a damaged entry: the rest of the area is not read
        const e = area.subarray(p, p + len);
        p += len;
        if (sig === 'ST') break;
        if (sig === 'CE' && len >= 28) next = {block: le32(e, 4), offset: le32(e, 12), length: le32(e, 20)};
        else if (sig === 'NM' && len >= 5) {
          const f = e[4]!;
          if (f & 0x06) continue; // "." or ".." of the entry itself: never a child's name
          name = (name ?? '') + e.toString('utf8', 5);
        } else if (sig === 'PX' && len >= 12) out.mode = le32(e, 4);
        else if (sig === 'SL' && len >= 5) {
          link ??= [];
          for (let c = 5; c + 2 <= e.length; ) {
            const cf = e[c]!;
            const cl = e[c + 1]!;
            const text = cf & 0x02 ? '.' : cf & 0x04 ? '..' : cf & 0x08 ? '' : e.toString('utf8', c + 2, c + 2 + cl);
            if (linkOpen) link[link.length - 1] += text;
            else link.push(text);
            linkOpen = (cf & 0x01) !== 0;
            c += 2 + cl;
          }
        } else if (sig === 'CL' && len >= 12) out.childBlock = le32(e, 4);
        else if (sig === 'RE') out.relocated = true;
      }
      area = undefined;
      if (next) {
        const at = next.block * SECTOR + next.offset;
        if (next.length > SECTOR || next.offset >= SECTOR) throw new IsoError(`${where}: a Rock Ridge continuation area of ${next.length} bytes at offset ${next.offset}: refused`);
        checkExtent(this.src, at, next.length, `${where} (a Rock Ridge continuation area)`);
        area = await this.src.read(at, next.length);
      }
    }
    if (name !== undefined) out.name = name;
    if (link) out.symlink = link.length === 1 && link[0] === '' ? '/' : link.join('/');
    return out;
  }
}

/** A directory record's system use area, after SKIP bytes; undefined when it has none. */
function suspOf(rec: Buffer, skip: number): Buffer | undefined {
  const len = rec[0]!;
  const nameLen = rec[32]!;
  const start = 33 + nameLen + (nameLen % 2 === 0 ? 1 : 0) + skip;
  return start + 4 <= len ? rec.subarray(start, len) : undefined;
}

function checkExtent(src: Source, offset: number, length: number, what: string): void {
  if (offset + length > src.size) throw new IsoError(`${what} claims ${length} bytes at byte ${offset}, past the end of the image (${src.size} bytes): refused, nothing read outside it`);
}

/** A name that could step outside its directory, or carries a separator or NUL, is refused. */
function checkName(name: string, where: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\0]/.test(name)) throw new IsoError(`${where} holds an entry named ${JSON.stringify(name)}: a name that could step outside its directory; refused`);
}

function splitPath(path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new IsoError(`${path}: ".." is not followed in an image`);
  return parts;
}

/** An ISO 9660 name as Linux shows it without Rock Ridge: no ";1" version, no trailing dot, lower case. */
function isoName(raw: Buffer): string {
  return raw.toString('latin1').replace(/;\d+$/, '').replace(/\.$/, '').toLowerCase();
}

function decodeUcs2(raw: Buffer): string {
  let s = '';
  for (let i = 0; i + 1 < raw.length; i += 2) s += String.fromCharCode(raw.readUInt16BE(i));
  return s.replace(/;\d+$/, '');
}
