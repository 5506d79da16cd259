// "initramfs build": run the recipe of the checkout this CLI was built from, then read
// what it wrote. The recipe is a shell script because it drives Debian's own tools.

import {existsSync, readFileSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {realRunner} from '../adapters/process.js';
import {preconditionError} from '../shared/errors.js';

export interface BuildResult {
  kernel: string;
  initramfs: string;
  sha256: {kernel: string; initramfs: string};
  manifest: {kernel: {version: string}; sizes: {unpacked: number; initramfs: number; vmlinuz: number}} & Record<string, unknown>;
}

export async function buildBaseInitramfs(o: {output: string; kernelPackage: string; profile: 'virtual' | 'baremetal'; bundleDir: string}): Promise<BuildResult> {
  const repo = resolve(o.bundleDir, '..');
  const recipe = join(repo, 'initramfs', 'build.sh');
  const agent = join(repo, 'dist', 'agent.mjs');
  if (!existsSync(recipe) || !existsSync(agent)) {
    throw preconditionError('build-no-checkout', 'initramfs build runs from an anemos checkout (initramfs/build.sh and dist/agent.mjs were not found next to this CLI).', 'git clone the project, run "npm run build", then "./dist/anemos.cjs initramfs build".');
  }
  const out = resolve(o.output);
  await realRunner.run(recipe, ['--out', out, '--agent', agent, '--kernel-package', o.kernelPackage, '--profile', o.profile], {inherit: true});
  const sums = Object.fromEntries(
    readFileSync(join(out, 'SHA256SUMS'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/).reverse()),
  );
  return {
    kernel: join(out, 'vmlinuz'),
    initramfs: join(out, 'initramfs.cpio.zst'),
    sha256: {kernel: sums['vmlinuz'], initramfs: sums['initramfs.cpio.zst']},
    manifest: JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')),
  };
}
