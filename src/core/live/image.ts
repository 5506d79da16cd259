// A live image as a deploy boots it: its layers, bottom first, found from the top layer's
// manifest (each names its parent's build directory, relative to its own), and what it
// needs of a machine's RAM. Pure: the caller reads the manifests.

import {liveLayerFile, type LiveBoot} from '../boot-contract.js';
import {resolveFrom, type LiveConfig} from '../config.js';
import type {LayerManifest} from './layer.js';

export interface LiveLayer {
  name: string;
  /** The build directory and its layer.squashfs. */
  dir: string;
  file: string;
  sha256: string;
  size: number;
}

export interface LiveImage {
  name: string;
  /** Bottom first. */
  layers: LiveLayer[];
  /** What the whole tree holds, unpacked (the top layer's manifest). */
  treeBytes: number;
}

export interface ChainProblem {
  code: string;
  message: string;
  hint: string;
}

/** The chain below TOP (a build directory), or what stops it: a layer not built, a parent missing or rebuilt since. */
export function resolveLiveImage(top: string, read: (dir: string) => LayerManifest | undefined): {image?: LiveImage; problem?: ChainProblem} {
  const layers: LiveLayer[] = [];
  let dir = top;
  let child: LayerManifest | undefined;
  for (let depth = 0; ; depth++) {
    const m = read(dir);
    if (!m || m.format !== 'anemos-live-layer/1') {
      return {
        problem: child
          ? {code: 'live-parent-missing', message: `The live image's layer ${child.name} is built on ${child.parent!.name}, and ${dir} holds no layer (no manifest.json of anemos image build).`, hint: `Build the chain again: anemos image build ${projectOf(child) ?? '<its project>'} --with-parents.`}
          : {code: 'live-image-missing', message: `live.image ${dir} is not a layer built by anemos image build (no manifest.json there).`, hint: 'Point live.image at the out/ directory of an IMGBUILD with format=live, after anemos image build.'},
      };
    }
    if (child && m.sha256 !== child.parent!.sha256) {
      return {
        problem: {
          code: 'live-parent-stale',
          message: `The live image's layer ${child.name} was built on ${m.name} ${child.parent!.sha256.slice(0, 12)}…, and ${dir} now holds ${m.name} ${m.sha256.slice(0, 12)}…: ${child.name} is stale.`,
          hint: `Rebuild it on the parent it will run on: anemos image build ${projectOf(child) ?? '<its project>'} --with-parents.`,
        },
      };
    }
    layers.unshift({name: m.name, dir, file: `${dir}/layer.squashfs`, sha256: m.sha256, size: m.size});
    if (!m.parent) break;
    if (!m.parent.dir) return {problem: {code: 'live-parent-unknown', message: `The layer ${m.name} (${dir}) does not say where its parent ${m.parent.name} is: it was built by an older anemos.`, hint: `Build it again: anemos image build ${projectOf(m) ?? '<its project>'}.`}};
    if (depth > 32) return {problem: {code: 'live-chain-loop', message: `The chain of ${top} is more than 32 layers deep, or leads back to itself.`, hint: 'Rebuild the chain with anemos image build --with-parents.'}};
    child = m;
    dir = resolveFrom(dir, m.parent.dir);
  }
  const topManifest = read(top)!;
  return {image: {name: topManifest.name, layers, treeBytes: topManifest.treeBytes}};
}

const projectOf = (m: LayerManifest) => (m as LayerManifest & {project?: string}).project;

/** config.json's live block: the layers as the initramfs carries them. */
export function liveBoot(image: LiveImage, config: LiveConfig): LiveBoot {
  return {image: image.name, layers: image.layers.map((l, i) => ({name: l.name, file: liveLayerFile(i, l.name), sha256: l.sha256})), tmpfs_mib: config.tmpfsMib, persist: config.persist, ...(config.everyBoot ? {every_boot: true} : {})};
}

/**
 * RAM the running live system needs beside its image: systemd, journald, sshd and a service
 * or two, with their page cache (bench/live-boot.ts measures what the test image uses).
 */
export const LIVE_SYSTEM_MIB = 256;

const MiB = 1048576;

/**
 * What a live boot needs of RAM: while the deploy environment mounts it, the composed
 * initramfs unpacked (the layers inside it) and the agent; once switched, the layers (kept
 * in RAM), the writable tmpfs when full, and the system. The larger of the two.
 */
export function liveRamNeed(o: {layersBytes: number; baseUnpackedBytes: number; agentBytes: number; tmpfsMib: number}): {bytes: number; words: string} {
  const boot = o.baseUnpackedBytes + o.layersBytes + o.agentBytes;
  const running = o.layersBytes + o.tmpfsMib * MiB + LIVE_SYSTEM_MIB * MiB;
  const m = (n: number) => Math.round(n / MiB);
  return running >= boot
    ? {bytes: running, words: `${m(running)} MiB: ${m(o.layersBytes)} MiB of layers + ${o.tmpfsMib} MiB writable (live.tmpfs) + ${LIVE_SYSTEM_MIB} MiB for the system`}
    : {bytes: boot, words: `${m(boot)} MiB while it starts: ${m(o.baseUnpackedBytes)} MiB deploy environment + ${m(o.layersBytes)} MiB of layers + ${m(o.agentBytes)} MiB to run`};
}
