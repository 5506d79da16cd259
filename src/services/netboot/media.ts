// The installation media anemos serve --media DIR offers: each ISO file in DIR, opened
// read-only and kept open, its installer detected from the image itself, and its files
// served from where they lie in it. An ISO that cannot be read or identified is listed
// with the reason, and offered to no machine.

import {readdir, stat} from 'node:fs/promises';
import {join} from 'node:path';
import {openIsoFile, type OpenIso} from '../../adapters/iso-file.js';
import type {IsoImage} from '../../core/iso9660.js';
import {detectMedia, type InstallerMedia} from '../../core/netboot/installer-media.js';
import {configError} from '../../shared/errors.js';

export interface MediaItem {
  /** The file's name without .iso: what a desired deployment's installer.media names. */
  id: string;
  file: string;
  size: number;
  /** The volume label in the image. */
  volume?: string;
  /** Rock Ridge, Joliet or plain ISO 9660 names. */
  names?: string;
  media?: InstallerMedia;
  /** Why it is offered to no machine. */
  problem?: string;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export class MediaLibrary {
  private constructor(
    private readonly items: Map<string, MediaItem & {iso?: IsoImage}>,
    private readonly open: OpenIso[],
  ) {}

  /** Every *.iso in DIR (not below it), read and identified. */
  static async load(dir: string): Promise<MediaLibrary> {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.iso')).sort();
    } catch (err) {
      throw configError('media-dir', `Cannot read the media directory ${dir}: ${(err as Error).message}.`, 'Name a directory that holds ISO files (--media DIR).');
    }
    const items = new Map<string, MediaItem & {iso?: IsoImage}>();
    const open: OpenIso[] = [];
    for (const name of names) {
      const {item, opened} = await identifyIso(join(dir, name), name.slice(0, -4));
      items.set(item.id, item);
      if (opened) open.push(opened);
    }
    return new MediaLibrary(items, open);
  }

  list(): MediaItem[] {
    return [...this.items.values()].map(({iso: _iso, ...item}) => item);
  }

  /** The identified media with this id, and its image. */
  get(id: string): (MediaItem & {media: InstallerMedia; iso: IsoImage}) | undefined {
    const item = this.items.get(id);
    return item?.media && item.iso ? (item as MediaItem & {media: InstallerMedia; iso: IsoImage}) : undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.open.map((o) => o.close()));
  }
}

/** One ISO file, opened and identified; what is wrong with it in problem (and then nothing is left open). */
export async function identifyIso(file: string, id: string): Promise<{item: MediaItem & {iso?: IsoImage}; opened?: OpenIso}> {
  const item: MediaItem & {iso?: IsoImage} = {id, file, size: 0};
  let o: OpenIso | undefined;
  try {
    const st = await stat(file);
    item.size = st.size;
    if (!st.isFile()) throw new Error('not a regular file');
    if (!ID.test(id)) throw new Error(`its name is not an id a record can name (letters, digits, . _ + -)`);
    o = await openIsoFile(file);
    item.volume = o.iso.volume;
    item.names = o.iso.names;
    const iso = o.iso;
    const found = await detectMedia({
      isFile: async (p) => (await iso.stat(p))?.type === 'file',
      text: async (p) => (await iso.readFile(p, 64 << 10))?.toString('utf8'),
    });
    if ('unknown' in found) throw new Error(found.unknown);
    item.media = found.media;
    item.iso = iso;
    return {item, opened: o};
  } catch (err) {
    await o?.close();
    item.problem = (err as Error).message;
    return {item};
  }
}

/** anemos serve media list: the media in DIR, as serve --media DIR would offer them. */
export async function listMedia(dir: string): Promise<MediaItem[]> {
  const lib = await MediaLibrary.load(dir);
  try {
    return lib.list();
  } finally {
    await lib.close();
  }
}
