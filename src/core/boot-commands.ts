// The exact commands that load and start the deploy environment, from the plan alone:
// the executor runs them and --dry-run prints them, so the two cannot drift apart.

import type {DeployPlan} from './deploy-plan.js';
import {grubWord} from './kernel-args.js';

export type Argv = [string, ...string[]];

export interface BootPaths {
  kernel: string;
  initramfs: string;
}

export const GRUB_ENTRY = 'anemos-deploy';
export const BOOT_DIR = '/boot/anemos';

export function planLoadCommands(plan: DeployPlan, p: BootPaths): Argv[] {
  if (plan.method === 'kexec') {
    return [
      // Unload whatever an earlier run may have left loaded.
      ['kexec', '-u'],
      ['kexec', ...(plan.kexecFileLoad ? ['-s'] : []), '-l', p.kernel, `--initrd=${p.initramfs}`, `--append=${plan.cmdline}`],
    ];
  }
  return [
    ['install', '-D', '-m', '0600', p.kernel, `${BOOT_DIR}/vmlinuz`],
    ['install', '-D', '-m', '0600', p.initramfs, `${BOOT_DIR}/initramfs.img`],
    ['grub-reboot', GRUB_ENTRY],
  ];
}

/**
 * Started detached after the delay, so an SSH session can print the result first.
 * "systemctl kexec" shuts down cleanly. Debian's kexec-load service (LOAD_KEXEC=true by
 * default) would load its own kernel at shutdown, but skips that when an image is already
 * loaded (/sys/kernel/kexec_loaded = 1), so ours stays; proven in test/e2e/deploy.test.ts.
 */
export function planExecCommand(plan: DeployPlan, systemd: boolean): Argv {
  if (plan.method === 'kexec') return systemd ? ['systemctl', 'kexec'] : ['kexec', '-e'];
  return systemd ? ['systemctl', 'reboot'] : ['reboot'];
}

/** Where GRUB finds /boot/anemos: "/anemos" when /boot is a file system of its own. */
export function grubBootPrefix(separateBoot: boolean | undefined): string {
  return separateBoot ? BOOT_DIR.replace(/^\/boot/, '') : BOOT_DIR;
}

const BEGIN = '### BEGIN anemos (one-shot entry, selected with grub-reboot; replaced by the next anemos run)';
const END = '### END anemos';

/** The GRUB menu entry for the bootloader method (kept between markers in /boot/grub/custom.cfg). */
export function renderGrubEntry(plan: DeployPlan, bootPrefix = BOOT_DIR): string {
  return [
    BEGIN,
    `menuentry '${GRUB_ENTRY}' --id ${GRUB_ENTRY} {`,
    '\tinsmod gzio',
    '\tinsmod part_msdos',
    '\tinsmod part_gpt',
    '\tinsmod ext2',
    `\tsearch --no-floppy --file --set=root ${bootPrefix}/vmlinuz`,
    // Each argument as one GRUB word: the config's cmdline is validated, the quoting is the second wall.
    `\tlinux ${bootPrefix}/vmlinuz ${plan.cmdline.split(/\s+/).filter(Boolean).map(grubWord).join(' ')}`,
    `\tinitrd ${bootPrefix}/initramfs.img`,
    '}',
    END,
    '',
  ].join('\n');
}

/** custom.cfg with our block replaced or appended; whatever else the operator keeps there stays. */
export function mergeCustomCfg(existing: string | undefined, entry: string): string {
  const kept = (existing ?? '').replace(new RegExp(`${escape(BEGIN)}[\\s\\S]*?${escape(END)}\\n?`, 'g'), '');
  return `${kept}${kept && !kept.endsWith('\n') ? '\n' : ''}${entry}`;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
