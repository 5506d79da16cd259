// anemos-configure: the IMGBUILD runner's steps for a payload that writes the root itself
// (payloads/image unpacks a tarball): the disk (partition, file systems, the root mounted;
// then the EFI system partition), and for the root once written fstab, hostname, the
// carried network by the target's rule, authorized keys, the old SSH host keys, GRUB with
// the carried consoles. One implementation of those steps, planned by core/imgbuild-plan.ts
// and the target's module, whoever wrote the root.

import {parseFlags} from '../shared/parse-flags.js';
import {CONTRACT} from '../core/boot-contract.js';
import {parseFormat, TARGETS, type ImgbuildSpec, type ImgFormat, type ImgTarget} from '../core/imgbuild.js';
import {planImgbuild, stepPrelude, type PlanContext} from '../core/imgbuild-plan.js';
import {carriedKernelArgs, KERNEL_ARG} from '../core/kernel-args.js';
import {defaultOptions, TARGET_MODULES} from '../core/targets/index.js';
import {env, existsSync, join, mkdirSync, readFileSync, runner, stderr, stdout, writeFileSync} from './runtime.js';

export const CONFIGURE_STEPS = ['partition', 'esp', 'system', 'bootloader'] as const;
/** The steps for a root that exists: the disk's are named, never implied. */
const DEFAULT_STEPS = 'system,bootloader';
/** The steps that need no distribution in ROOT (there is none yet). */
const DISK_STEPS = new Set<string>(['partition', 'esp']);
const USAGE = `usage: anemos-configure ROOT --disk DISK [--target auto|${TARGETS.join('|')}] [--steps ${CONFIGURE_STEPS.join(',')}] [--format "raw max msdos|gpt ext4"] [--cmdline "ARGS"]\n`;

/** The distribution in ROOT, from its os-release (ID, then ID_LIKE). */
export function detectTarget(osRelease: string): ImgTarget | undefined {
  const field = (k: string) => new RegExp(`^${k}=["']?([^"'\\n]*)`, 'm').exec(osRelease)?.[1] ?? '';
  for (const id of [field('ID'), ...field('ID_LIKE').split(/\s+/)]) {
    const found = TARGETS.find((t) => TARGET_MODULES[t].osReleaseIds.includes(id));
    if (found) return found;
  }
  return undefined;
}

/** What the steps need of an IMGBUILD, for a root that exists already (format raw: fstab from the mounts). */
export function configureSpec(target: ImgTarget, hostname: string, format: ImgFormat = {kind: 'raw', size: null, sizeText: 'max', table: 'msdos', fs: 'ext4'}): ImgbuildSpec {
  return {
    imgname: hostname.split('.')[0] || 'anemos',
    target,
    format,
    kernel: TARGET_MODULES[target]!.defaultKernel,
    options: defaultOptions(TARGET_MODULES[target]!),
    hostconf: [],
    packages: [],
    services: [],
    functions: {provision: false, setup: false, cleanup: false},
    project: {files: false, secrets: false, repositories: false, keys: false, pacmanConf: false},
    patches: [],
    templates: [],
  };
}

/** Runs anemos-configure; its exit code. */
export async function configure(args: string[]): Promise<number> {
  const fail = (why: string) => {
    stderr(`anemos-configure: ${why}\n${USAGE}`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseFlags(args, {disk: {type: 'string'}, target: {type: 'string', default: 'auto'}, steps: {type: 'string', default: DEFAULT_STEPS}, format: {type: 'string', default: 'raw max msdos ext4'}, cmdline: {type: 'string', default: ''}});
  } catch (err) {
    return fail((err as Error).message);
  }
  const {values, positionals} = parsed;
  const [root, ...extra] = positionals;
  if (!root || extra.length) return fail('name the new root, once');
  if (!values.disk) return fail('--disk is required (it is partitioned, or GRUB is installed on it)');
  const steps = values.steps!.split(',').filter(Boolean);
  const unknown = steps.filter((s) => !(CONFIGURE_STEPS as readonly string[]).includes(s));
  if (unknown.length) return fail(`unknown step ${unknown.join(', ')}`);
  const format = parseFormat(values.format!);
  if (typeof format === 'string') return fail(`--format: ${format}`);
  if (format.kind !== 'raw' && steps.some((s) => DISK_STEPS.has(s))) return fail('--format: the disk steps lay out a "raw SIZE TABLE FS" disk');
  // The disk's steps come before the root holds a distribution: any target plans them alike.
  const osRelease = [`${root}/etc/os-release`, `${root}/usr/lib/os-release`].find((p) => existsSync(p));
  const detected = values.target === 'auto' ? (osRelease ? detectTarget(readFileSync(osRelease, 'utf8')) : undefined) : (values.target as ImgTarget);
  const target = steps.every((s) => DISK_STEPS.has(s)) ? (detected ?? TARGETS[0]!) : detected;
  if (!target || !TARGETS.includes(target)) return fail(`cannot tell which distribution ${root} holds (its os-release names none of ${TARGETS.join(', ')}); pass --target`);
  const extraArgs = values.cmdline!.split(/\s+/).filter(Boolean);
  const unsafe = extraArgs.filter((a) => !KERNEL_ARG.test(a));
  if (unsafe.length) return fail(`--cmdline: ${unsafe.join(' ')}: kernel arguments may use letters, digits and _ . , : / = @ + % ~ - only (they are written into GRUB's configuration)`);

  const work = '/run/anemos/configure';
  const ctx: PlanContext = {
    root,
    payload: work,
    work,
    disk: values.disk,
    efi: existsSync('/sys/firmware/efi'),
    kernelArgs: [...carriedKernelArgs(readFileSync('/proc/cmdline', 'utf8')), ...extraArgs],
    networkJson: `/${CONTRACT.network}`,
    authorizedKeys: `/${CONTRACT.authorizedKeys}`,
    hostKeysDir: `/${CONTRACT.hostKeysDir}`,
  };
  const spec = configureSpec(target, env().ANEMOS_HOSTNAME ?? 'anemos', format);
  const prelude = stepPrelude(spec, ctx);
  mkdirSync(join(work, 'steps'), {recursive: true});
  stdout(`anemos-configure: ${steps.every((s) => DISK_STEPS.has(s)) ? `${values.disk} for ${root}` : `${root} holds ${target}`}; steps ${steps.join(', ')} (scripts in ${work}/steps)\n`);
  for (const step of planImgbuild(spec, ctx).filter((s) => steps.includes(s.id))) {
    const file = join(work, 'steps', `${step.id}.sh`);
    writeFileSync(file, `#!/bin/sh\n# anemos-configure step: ${step.title}\n${prelude}\n${step.script}`, {mode: 0o755});
    stdout(`anemos-configure: ${step.title}\n`);
    const r = await runner.run('/bin/sh', [file], {allowFail: true, inherit: true});
    if (r.exitCode !== 0) {
      stderr(`anemos-configure: step ${step.id} failed with exit code ${r.exitCode}; rerun it with: sh ${file}\n`);
      return 1;
    }
  }
  return 0;
}
