// A file as a Source (random access by positioned reads on one open descriptor), for the
// ISO and tar readers: a short read (the file cut while open) is an error, never zeros.

import {open, type FileHandle} from 'node:fs/promises';
import type {Source} from '../core/source.js';

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

