// An ISO file as the reader's Source: positioned reads on one open descriptor, so a kernel
// is served from where it lies in the image. A short read (the file cut while open) is an
// error, never zeros.

import {open, type FileHandle} from 'node:fs/promises';
import {IsoImage, type Source} from '../core/iso9660.js';

export interface OpenIso {
  iso: IsoImage;
  close(): Promise<void>;
}

export async function fileSource(path: string): Promise<{source: Source; handle: FileHandle}> {
  const handle = await open(path, 'r');
  const {size} = await handle.stat();
  const source: Source = {
    size,
    async read(offset, length) {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const {bytesRead} = await handle.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) throw new Error(`${path}: ended at byte ${offset + got} while ${length} bytes were read from ${offset} (the file was cut short while open)`);
        got += bytesRead;
      }
      return buf;
    },
  };
  return {source, handle};
}

/** The image in the ISO file at PATH, open until close(). */
export async function openIsoFile(path: string): Promise<OpenIso> {
  const {source, handle} = await fileSource(path);
  try {
    return {iso: await IsoImage.open(source), close: () => handle.close()};
  } catch (err) {
    await handle.close();
    throw err;
  }
}
