// What takes the space in an initramfs: its files' unpacked bytes grouped by what they are
// for (the QuickJS runtime, kernel modules by kind, libraries, tools...), largest first.
// Files inside the base's /usr image count with their own size, the image itself not: it is
// held in RAM compressed, and what is read of it is decompressed into the page cache. Pure:
// takes the listing.

import type {CpioListing} from './cpio.js';

export interface SpaceGroup {
  group: string;
  bytes: number;
  files: number;
  /** The largest files of the group, largest first. */
  largest: {path: string; size: number}[];
}

const MODULES = '^(usr/)?lib/modules/[^/]+/kernel/';

/** The first group whose pattern matches a path takes the file. */
export const SPACE_GROUPS: [string, RegExp][] = [
  ['QuickJS runtime', /^usr\/bin\/qjs$/],
  ['the agent', /^usr\/lib\/anemos\//],
  ['kernel modules: filesystems', new RegExp(`${MODULES}fs/`)],
  ['kernel modules: RAID and device mapper', new RegExp(`${MODULES}drivers/md/`)],
  ['kernel modules: crypto and libraries', new RegExp(`${MODULES}(crypto|arch/x86/crypto|lib)/`)],
  ['kernel modules: network', new RegExp(`${MODULES}(drivers/net|net)/`)],
  ['kernel modules: storage', new RegExp(`${MODULES}drivers/(block|scsi|ata|nvme|cdrom|message)/`)],
  ['kernel modules: other', /^(usr\/)?lib\/modules\/|^early\/[^/]+\.ko$/],
  ['firmware', /^(usr\/)?lib\/firmware\//],
  ['Perl (debootstrap, dpkg)', /^usr\/(bin\/perl|share\/perl|lib\/x86_64-linux-gnu\/perl)/],
  ['shared libraries', /^(usr\/)?lib(64)?\/(x86_64-linux-gnu\/)?[^/]*\.so/],
  ['debootstrap scripts', /^usr\/share\/debootstrap\//],
  ['keyrings and CA certificates', /^(usr\/share\/keyrings|etc\/ssl)\//],
  ['tools', /^(usr\/)?s?bin\/|^early\/busybox$/],
  ['anemos segments (config, network, keys, payload)', /^anemos\//],
  ['other', /./],
];

export function groupOf(path: string): string {
  const p = path.replace(/^\.?\//, '');
  return SPACE_GROUPS.find(([, re]) => re.test(p))![0];
}

/** Regular files' bytes by group, largest group first (later segments override earlier ones' files, as the kernel does). */
export function spaceByGroup(entries: Pick<CpioListing, 'path' | 'size' | 'type' | 'image'>[], keep = 3): SpaceGroup[] {
  const files = new Map<string, number>();
  for (const e of entries) if (e.type === 'file') files.set(e.path.replace(/^\.?\//, ''), e.size);
  for (const e of entries) if (e.image) files.delete(e.image);
  const groups = new Map<string, SpaceGroup>();
  for (const [path, size] of files) {
    const name = groupOf(path);
    const g = groups.get(name) ?? {group: name, bytes: 0, files: 0, largest: []};
    g.bytes += size;
    g.files++;
    g.largest.push({path, size});
    groups.set(name, g);
  }
  return [...groups.values()]
    .map((g) => ({...g, largest: g.largest.sort((a, b) => b.size - a.size).slice(0, keep)}))
    .sort((a, b) => b.bytes - a.bytes);
}
