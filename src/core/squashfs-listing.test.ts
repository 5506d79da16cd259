import {describe, expect, it} from 'vitest';
import {parseUnsquashfsListing} from './squashfs-listing.js';

describe('unsquashfs -lln listing', () => {
  it('gives paths inside the image, sizes of files and symlinks, targets and permission bits', () => {
    // As unsquashfs 4.5.1 prints it for an image of /usr (mksquashfs -all-root).
    const text = [
      'drwxr-xr-x 0/0                      26 1970-01-01 00:00 squashfs-root',
      'drwxr-xr-x 0/0                    4103 1970-01-01 00:00 squashfs-root/bin',
      '-rwxr-xr-x 0/0                  981168 1970-01-01 00:00 squashfs-root/bin/qjs',
      'lrwxrwxrwx 0/0                      12 1970-01-01 00:00 squashfs-root/bin/cat -> /bin/busybox',
      '-rw-r--r-- 0/0                       3 1970-01-01 00:00 squashfs-root/share/a b',
      '-rwsr-xr-x 0/0                    1000 1970-01-01 00:00 squashfs-root/bin/su',
      'drwxrwxrwt 0/0                       3 1970-01-01 00:00 squashfs-root/tmp',
      '',
    ].join('\n');
    expect(parseUnsquashfsListing(text)).toEqual([
      {path: 'bin', type: 'dir', mode: 0o755, size: 0},
      {path: 'bin/qjs', type: 'file', mode: 0o755, size: 981168},
      {path: 'bin/cat', type: 'symlink', mode: 0o777, size: 12, target: '/bin/busybox'},
      {path: 'share/a b', type: 'file', mode: 0o644, size: 3},
      {path: 'bin/su', type: 'file', mode: 0o4755, size: 1000},
      {path: 'tmp', type: 'dir', mode: 0o1777, size: 0},
    ]);
  });
});
