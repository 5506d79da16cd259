// Reading and writing the tars a layer is made from: an entry listed with its file's sha256,
// and an archive written entry by entry, each copied as it is in another (its headers
// included), without extracting anything.

import {createHash} from 'node:crypto';
import {createWriteStream} from 'node:fs';
import {once} from 'node:events';
import {listed, type ListedEntry} from '../core/live/layer.js';
import type {Source} from '../core/source.js';
import {TAR_END, type TarEntry} from '../core/tar.js';

const CHUNK = 1 << 20;

/** E as a listing holds it, a file with the sha256 of its content. */
export async function listEntry(source: Source, e: TarEntry): Promise<ListedEntry> {
  if (e.type !== 'file') return listed(e);
  const h = createHash('sha256');
  for (let at = 0; at < e.size; at += CHUNK) h.update(await source.read(e.data + at, Math.min(CHUNK, e.size - at)));
  return listed(e, h.digest('hex'));
}

/** A tar written to PATH: whole blocks, entries copied from other archives, then its end. */
export function tarWriter(path: string): {write: (b: Buffer) => Promise<void>; copy: (source: Source, e: TarEntry) => Promise<void>; end: () => Promise<void>} {
  const w = createWriteStream(path);
  const write = async (b: Buffer) => {
    if (!w.write(b)) await once(w, 'drain');
  };
  return {
    write,
    async copy(source, e) {
      for (let at = e.start; at < e.end; at += CHUNK) await write(await source.read(at, Math.min(CHUNK, e.end - at)));
    },
    async end() {
      await write(TAR_END);
      w.end();
      await once(w, 'finish');
    },
  };
}
