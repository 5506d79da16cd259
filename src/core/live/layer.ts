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
  /**
   * dir: the parent's build directory, relative to this one's (where a deploy finds it);
   * manifest: the sha256 of the parent's manifest.json there, so that a manifest pins its
   * whole chain (a child built elsewhere names this one by URL and that sha256).
   */
  parent: {name: string; sha256: string; dir?: string; manifest?: string} | null;
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

/** overlayfs' whiteout: a character device 0:0 hides the path below it. */
export const isWhiteout = (e: {type: string; devmajor?: number; devminor?: number}) => e.type === 'char' && !e.devmajor && !e.devminor;

/** overlayfs' opaque directory: nothing of the layers below shows through it. */
export const isOpaque = (e: {type: string; xattrs?: Record<string, string>}) => e.type === 'dir' && (e.xattrs?.['trusted.overlay.opaque'] === 'y' || e.xattrs?.['user.overlay.opaque'] === 'y');

/**
 * The tree overlayfs shows of LAYERS (bottom first, each its entries in archive order): each
 * path from the topmost layer that has it, whiteouts and what they hide taken out, nothing
 * below an opaque directory or a file that replaced a directory. In the order to write them
 * as one archive: layer by layer, each in its own order (a directory before what it holds).
 */
export function mergeLayers<E extends {path: string; type: string; devmajor?: number; devminor?: number; xattrs?: Record<string, string>}>(layers: E[][]): {layer: number; entry: E}[] {
  const top = new Map<string, {layer: number; entry: E}>();
  const hideBelow = (path: string, layer: number) => {
    const prefix = `${path}/`;
    for (const [p, v] of top) if (v.layer < layer && (p === path || p.startsWith(prefix))) top.delete(p);
  };
  for (const [layer, entries] of layers.entries()) {
    for (const entry of entries) {
      if (!entry.path) continue;
      const below = top.get(entry.path);
      if (isWhiteout(entry)) {
        hideBelow(entry.path, layer);
        continue;
      }
      // A directory merges with one below; anything else (or an opaque directory) hides what the one below held.
      if (below && below.layer < layer && below.entry.type === 'dir' && (entry.type !== 'dir' || isOpaque(entry))) hideBelow(entry.path, layer);
      top.set(entry.path, {layer, entry});
    }
  }
  const out: {layer: number; entry: E}[] = [];
  for (const [layer, entries] of layers.entries()) for (const entry of entries) if (entry.path && top.get(entry.path)?.entry === entry) out.push({layer, entry});
  return out;
}

const HEX64 = /^[0-9a-f]{64}$/;
export const LAYER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** What is wrong with a manifest.json downloaded from a server (it chooses paths and what is fetched next); undefined when nothing is. */
export function downloadedManifestProblem(m: unknown): string | undefined {
  const o = m as Partial<LayerManifest> | null;
  if (!o || typeof o !== 'object' || o.format !== 'anemos-live-layer/1') return 'it is not the manifest.json of a layer built by anemos image build (format "anemos-live-layer/1")';
  if (typeof o.name !== 'string' || !LAYER_NAME.test(o.name)) return `its name ${JSON.stringify(o.name)} is not a layer's name`;
  if (typeof o.sha256 !== 'string' || !HEX64.test(o.sha256) || !Number.isSafeInteger(o.size) || o.size! <= 0) return 'its sha256 or size is not a layer\'s';
  if (o.parent === null) return undefined;
  const p = o.parent;
  if (!p || typeof p.name !== 'string' || !LAYER_NAME.test(p.name) || typeof p.sha256 !== 'string' || !HEX64.test(p.sha256)) return 'its parent is not named by a name and a sha256';
  if (typeof p.dir !== 'string' || !p.dir || p.dir.length > 1024 || /[\0?#\\]/.test(p.dir)) return `its parent ${p.name} has no build directory anemos can follow`;
  if (typeof p.manifest !== 'string' || !HEX64.test(p.manifest)) return `its parent ${p.name} is not pinned by its manifest's sha256 (built by an older anemos: build it again)`;
  return undefined;
}
