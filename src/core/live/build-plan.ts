// How a live layer's tree is made: mmdebstrap in unshare mode (user namespaces: no root,
// on a workstation or a CI runner), the whole chain replayed from the bottom layer up (its
// packages, each layer's files/, provision() and services, in order), with every timestamp
// at SOURCE_DATE_EPOCH, so that two builds of the same inputs give the same tree, and the
// same squashfs image. Why mmdebstrap: it is Debian's own, reproducible by design
// (SOURCE_DATE_EPOCH), runs unprivileged, and writes a tar, which a layer is cut from
// without extracting anything (mksquashfs -tar). Pure: the command, not its run.

import {shellQuote} from '../../shared/shell.js';
import type {ImgbuildSpec} from '../imgbuild-spec.js';

export interface ChainLayer {
  /** The IMGBUILD project directory. */
  dir: string;
  spec: ImgbuildSpec;
}

/** The default SOURCE_DATE_EPOCH: a fixed time, so that builds of the same inputs are the same bytes (the environment's SOURCE_DATE_EPOCH wins). */
export const DEFAULT_EPOCH = 1_700_000_000;

export interface TreeCommand {
  cmd: 'mmdebstrap';
  args: string[];
  env: Record<string, string>;
}

/** The chain's Debian suite and mirror: the bottom layer's; a layer above that names others is refused. */
export function chainProblems(chain: ChainLayer[]): string[] {
  const [bottom] = chain;
  if (!bottom) return ['an empty chain'];
  const problems: string[] = [];
  for (const l of chain.slice(1)) {
    for (const k of ['debian_suite', 'debian_mirror']) {
      if (l.spec.options[k] !== bottom.spec.options[k]) problems.push(`${l.spec.imgname}: ${k} "${l.spec.options[k]}" differs from its bottom layer ${bottom.spec.imgname}'s "${bottom.spec.options[k]}": a layer is built on its parent's system`);
    }
  }
  return problems;
}

export function planTree(chain: ChainLayer[], out: string, epoch: number): TreeCommand {
  const bottom = chain[0]!.spec;
  // kernel=none: a layer that carries no kernel of its own (a child, or a tree another kernel boots).
  const packages = [...new Set(chain.flatMap((l) => [...(l.spec.kernel === 'none' ? [] : [l.spec.kernel]), ...l.spec.packages]))];
  const hooks: string[] = [];
  for (const l of chain) {
    const q = (p: string) => shellQuote(`${l.dir}/${p}`);
    if (l.spec.project.files) hooks.push(`tar -C ${q('files')} --owner=0 --group=0 --numeric-owner -c . | tar -C "$1" -x`);
    if (l.spec.functions.provision) {
      hooks.push(`mkdir -p "$1/run/anemos-build" && cp ${q('IMGBUILD')} "$1/run/anemos-build/IMGBUILD" && chroot "$1" sh -c 'cd /run/anemos-build && . ./IMGBUILD && provision' && rm -rf "$1/run/anemos-build"`);
    }
    if (l.spec.services.length) hooks.push(`chroot "$1" systemctl enable ${l.spec.services.map(shellQuote).join(' ')}`);
  }
  return {
    cmd: 'mmdebstrap',
    args: [
      '--mode=unshare',
      '--variant=minbase',
      `--include=${packages.join(',')}`,
      ...hooks.map((h) => `--customize-hook=${h}`),
      bottom.options.debian_suite!,
      out,
      bottom.options.debian_mirror!,
    ],
    env: {SOURCE_DATE_EPOCH: String(epoch)},
  };
}

/** mksquashfs reading the layer's tar: zstd, 1 MiB blocks, every time at the epoch. */
export function squashfsCommand(tar: string, out: string, epoch: number): {cmd: string; args: string[]} {
  return {cmd: 'sh', args: ['-c', 'exec mksquashfs - "$1" -tar -comp zstd -Xcompression-level 19 -b 1M -noappend -quiet -no-progress -all-time "$2" -mkfs-time "$2" < "$3"', 'sh', out, String(epoch), tar]};
}
