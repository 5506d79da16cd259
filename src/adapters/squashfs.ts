// The files of a squashfs image (the base's /usr), as unsquashfs lists them. Without
// unsquashfs (Debian package squashfs-tools) the image is listed as one file.

import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {ImageLister} from '../core/initramfs-format.js';
import {parseUnsquashfsListing} from '../core/squashfs-listing.js';
import {realRunner, type Runner} from './process.js';
import {which} from './which.js';

export function makeImageLister(runner: Runner = realRunner): ImageLister {
  return async (image) => {
    if (!(await which('unsquashfs'))) return undefined;
    const dir = await mkdtemp(join(tmpdir(), 'anemos-squashfs-'));
    try {
      const file = join(dir, 'image.squashfs');
      await writeFile(file, image);
      return parseUnsquashfsListing((await runner.run('unsquashfs', ['-lln', file])).stdout);
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  };
}
