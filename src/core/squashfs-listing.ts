// unsquashfs -lln's listing ("-rwxr-xr-x 0/0 981168 1970-01-01 00:00 squashfs-root/bin/qjs",
// symlinks with " -> target") as cpio-like entries with paths inside the image.

import type {CpioListing} from './cpio.js';

const LINE = /^([-dlcbps])([-rwxsStT]{9}) \S+\s+(\d+) \S+ \S+ [^/]+(?:\/(.*))?$/;

export function parseUnsquashfsListing(text: string): Omit<CpioListing, 'dataOffset' | 'image'>[] {
  const out: Omit<CpioListing, 'dataOffset' | 'image'>[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m || m[4] === undefined) continue; // the image's root, or not an entry
    const type = m[1] === 'd' ? 'dir' : m[1] === 'l' ? 'symlink' : m[1] === '-' ? 'file' : 'other';
    let path = m[4];
    let target: string | undefined;
    if (type === 'symlink') [path, target] = path.split(' -> ') as [string, string];
    out.push({path, type, mode: permissions(m[2]!), size: type === 'file' || type === 'symlink' ? Number(m[3]) : 0, ...(target !== undefined ? {target} : {})});
  }
  return out;
}

function permissions(rwx: string): number {
  let mode = 0;
  for (let i = 0; i < 9; i++) if (rwx[i] !== '-' && rwx[i] !== 'S' && rwx[i] !== 'T') mode |= 1 << (8 - i);
  if (/[sS]/.test(rwx[2]!)) mode |= 0o4000;
  if (/[sS]/.test(rwx[5]!)) mode |= 0o2000;
  if (/[tT]/.test(rwx[8]!)) mode |= 0o1000;
  return mode;
}
