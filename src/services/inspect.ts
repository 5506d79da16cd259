// List what an initramfs holds, segment by segment, as the kernel would unpack it, and
// what the squashfs images /init mounts hold.

import {readFile} from 'node:fs/promises';
import {makeDecompressor} from '../adapters/compress.js';
import {makeImageLister} from '../adapters/squashfs.js';
import {scanInitramfs, type InitramfsSegment} from '../core/initramfs-format.js';
import {artifactError, pathMissing} from '../shared/errors.js';

export async function listInitramfs(path: string): Promise<InitramfsSegment[]> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw pathMissing(path, 'The initramfs', 'Check the path; "anemos initramfs build -o DIR" writes DIR/initramfs.cpio.zst.');
    throw artifactError('initramfs-unreadable', `Cannot read ${path}: ${(err as Error).message}.`, 'Check the path.');
  }
  return scanInitramfs(data, makeDecompressor(), makeImageLister());
}
