// A live image's layer: what a build adds or changes over its parent, and the whiteouts for
// what it removes (overlayfs' char 0:0), computed from the listing of the whole tree the
// build made and its parent's. The manifest says what a layer is, what it was built from
// and on which parent; a child whose parent changed since is stale. Pure.

import type {TarEntry} from '../tar.js';

/** One path of a whole tree, as a layer compares it: its tar entry without its place in the archive, and a file's content. */
export type ListedEntry = Pick<TarEntry, 'type' | 'mode' | 'uid' | 'gid' | 'size' | 'mtime' | 'link' | 'xattrs'> & {dev?: [number, number]; sha256?: string};

/** A whole tree by path ("" is not listed). */
export type Listing = Record<string, ListedEntry>;

export function listed(e: TarEntry, sha256?: string): ListedEntry {
  return {
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.size,
    mtime: e.mtime,
    ...(e.link !== undefined ? {link: e.link} : {}),
    ...(e.devmajor !== undefined ? {dev: [e.devmajor, e.devminor ?? 0] as [number, number]} : {}),
    ...(e.xattrs ? {xattrs: e.xattrs} : {}),
    ...(sha256 ? {sha256} : {}),
  };
}

const same = (a: ListedEntry, b: ListedEntry) => JSON.stringify(a) === JSON.stringify(b);
const parentOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');

export interface LayerPlan {
  /** Paths of the tree the layer holds (what changed, and the directories above it, as they are). */
  keep: Set<string>;
  /** Paths the layer removes from its parent: the topmost of each removed subtree. */
  whiteouts: string[];
  added: string[];
  changed: string[];
  removed: string[];
}

/** What a layer over PARENT holds to show CHILD; without a parent, everything. */
export function planLayer(child: Listing, parent?: Listing): LayerPlan {
  const paths = Object.keys(child);
  if (!parent) return {keep: new Set(paths), whiteouts: [], added: paths, changed: [], removed: []};
  const added = paths.filter((p) => !parent[p]);
  const changed = paths.filter((p) => parent[p] && !same(parent[p]!, child[p]!));
  const removed = Object.keys(parent).filter((p) => !child[p]);
  const keep = new Set([...added, ...changed]);
  // Hard links travel with what they link: a kept link keeps its target, a kept target its links.
  const links = new Map<string, string[]>();
  for (const p of paths) {
    const e = child[p]!;
    if (e.type === 'hardlink' && e.link) links.set(e.link, [...(links.get(e.link) ?? []), p]);
  }
  for (const p of [...keep]) {
    const e = child[p]!;
    if (e.type === 'hardlink' && e.link) keep.add(e.link);
    for (const l of links.get(p) ?? []) keep.add(l);
  }
  // Only the topmost path of a removed subtree: its parent is still a directory of the child.
  const whiteouts = removed.filter((p) => {
    const up = parentOf(p);
    return up === '' || child[up]?.type === 'dir';
  });
  // The directories above each kept path and whiteout, as the child has them (an implicit one would take other modes).
  for (const p of [...keep, ...whiteouts]) {
    for (let up = parentOf(p); up !== ''; up = parentOf(up)) {
      if (keep.has(up)) break;
      if (child[up]) keep.add(up);
    }
  }
  return {keep, whiteouts: whiteouts.sort(), added, changed, removed};
}

/** manifest.json beside a layer. */
export interface LayerManifest {
  format: 'anemos-live-layer/1';
  name: string;
  /** The squashfs image's sha256 and size. */
  sha256: string;
  size: number;
  /** dir: the parent's build directory, relative to this one's (where a deploy finds it). */
  parent: {name: string; sha256: string; dir?: string} | null;
  /** Names from the bottom layer to this one. */
  chain: string[];
  /** The kernel and initramfs the whole tree carries (/boot), if any. */
  kernel?: string;
  initrd?: string;
  /** sha256 of what it was built from: the IMGBUILD project's files and its parent's layer. */
  inputs: string;
  /** SOURCE_DATE_EPOCH of the build: every timestamp in the layer. */
  epoch: number;
  entries: {tree: number; layer: number; added: number; changed: number; removed: number};
  /** The whole tree's size in bytes (files), what it takes in RAM unpacked. */
  treeBytes: number;
}

/** The kernel and initramfs of a tree: the newest /boot/vmlinuz-VERSION with its initrd.img-VERSION. */
export function bootFiles(tree: Listing): {kernel?: string; initrd?: string} {
  const kernels = Object.keys(tree)
    .filter((p) => /^boot\/vmlinuz-/.test(p) && tree[p]!.type === 'file')
    .sort();
  const kernel = kernels.at(-1);
  if (!kernel) return {};
  const initrd = kernel.replace('vmlinuz-', 'initrd.img-');
  return {kernel: `/${kernel}`, ...(tree[initrd] ? {initrd: `/${initrd}`} : {})};
}

/** Why a parent's layer cannot be built upon now; undefined when it can. */
export function parentProblem(parent: {name: string; dir: string; manifest?: LayerManifest; inputs: string}): string | undefined {
  if (!parent.manifest) return `its parent ${parent.name} (${parent.dir}) has not been built`;
  if (parent.manifest.inputs !== parent.inputs) return `its parent ${parent.name} (${parent.dir}) is stale: its IMGBUILD or files changed since its layer was built`;
  return undefined;
}
