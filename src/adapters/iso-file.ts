// An ISO file opened for the reader: one descriptor kept open, so a kernel is served from
// where it lies in the image.

import {IsoImage} from '../core/iso9660.js';
import {fileSource} from './file-source.js';

export interface OpenIso {
  iso: IsoImage;
  close(): Promise<void>;
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
