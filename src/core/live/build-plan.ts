// How a live layer's tree is made: by the target's liveTree (Debian's: mmdebstrap in unshare
// mode, without root), the whole chain replayed from the bottom layer up, with every
// timestamp at SOURCE_DATE_EPOCH, so that two builds of the same inputs give the same tree
// and the same squashfs image; then squashed from a tar, with nothing extracted
// (mksquashfs -tar). Pure: the commands, not their run.

import type {ImgbuildSpec} from '../imgbuild-spec.js';
import {TARGET_MODULES} from '../targets/index.js';

export interface ChainLayer {
  /** The IMGBUILD project directory. */
  dir: string;
  spec: ImgbuildSpec;
}

/** The default SOURCE_DATE_EPOCH: a fixed time, so that builds of the same inputs are the same bytes (the environment's SOURCE_DATE_EPOCH wins). */
export const DEFAULT_EPOCH = 1_700_000_000;

export interface TreeCommand {
  cmd: string;
  args: string[];
  env: Record<string, string>;
}

/** The chain's target and its options (suite, mirror): the bottom layer's; a layer above that names others is refused. */
export function chainProblems(chain: ChainLayer[]): string[] {
  const [bottom] = chain;
  if (!bottom) return ['an empty chain'];
  const problems: string[] = [];
  for (const l of chain.slice(1)) {
    if (l.spec.target !== bottom.spec.target) problems.push(`${l.spec.imgname}: target "${l.spec.target}" differs from its bottom layer ${bottom.spec.imgname}'s "${bottom.spec.target}"`);
    for (const [k, v] of Object.entries(bottom.spec.options)) {
      if (l.spec.options[k] !== v) problems.push(`${l.spec.imgname}: ${k} "${l.spec.options[k]}" differs from its bottom layer ${bottom.spec.imgname}'s "${v}": a layer is built on its parent's system`);
    }
  }
  return problems;
}

/** The command that makes the chain's whole tree, from its target (core/targets/): undefined when the target builds no live layers. */
export function planTree(chain: ChainLayer[], out: string, epoch: number, parentTree?: string): TreeCommand | undefined {
  return TARGET_MODULES[chain[0]!.spec.target]?.liveTree?.(chain, out, epoch, parentTree);
}

/** mksquashfs reading the layer's tar: zstd, 1 MiB blocks, every time at the epoch. */
export function squashfsCommand(tar: string, out: string, epoch: number): {cmd: string; args: string[]} {
  return {cmd: 'sh', args: ['-c', 'exec mksquashfs - "$1" -tar -comp zstd -Xcompression-level 19 -b 1M -noappend -quiet -no-progress -all-time "$2" -mkfs-time "$2" < "$3"', 'sh', out, String(epoch), tar]};
}
