// The one-shot GRUB entry ("bootloader"): kernel and initramfs copied to /boot/anemos, an
// entry in /boot/grub/custom.cfg (the operator's own lines kept), selected for the next
// boot only with grub-reboot, then a reboot. For hosts where kexec cannot work.

import {grubWord} from '../kernel-args.js';
import type {HostFacts} from '../host-facts.js';
import type {BootMethod, BootRequest} from './method.js';

export const GRUB_ENTRY = 'anemos-deploy';
export const BOOT_DIR = '/boot/anemos';
export const CUSTOM_CFG = '/boot/grub/custom.cfg';

/** /boot file systems GRUB's entry reads with "insmod ext2" (ext2, ext3 and ext4 alike). */
const GRUB_BOOT_FILESYSTEMS = ['ext2', 'ext3', 'ext4'];

/** Where GRUB finds DIR (under /boot): "/anemos" for /boot/anemos when /boot is a file system of its own. */
export function grubBootPrefix(separateBoot: boolean | undefined, dir = BOOT_DIR): string {
  return separateBoot ? dir.replace(/^\/boot/, '') : dir;
}

/** How a GRUB entry's requirements are worded: what asks for GRUB, the entry, what it carries, and the way out without it. */
export interface GrubWords {
  asks: string;
  entry: string;
  files: string;
  otherwise: string;
}

const ONE_SHOT: GrubWords = {asks: 'boot.method is bootloader', entry: 'the one-shot GRUB entry', files: 'the deploy kernel and initramfs', otherwise: 'use boot.method: kexec'};

/** What stops GRUB from booting an entry of custom.cfg from /boot on this host, in W's words. */
export function grubProblem(facts: HostFacts, w: GrubWords): ReturnType<BootMethod['problem']> {
  const b = facts.boot;
  if (!b.grubReboot) return {code: 'no-grub', message: `${w.asks}, and grub-reboot was not found.`, hint: `Install GRUB 2 (grub-common), or ${w.otherwise}.`};
  if (!b.grubCustomHook) {
    return {
      code: 'grub-no-custom-cfg',
      message: `${b.grubCfg ?? '/boot/grub/grub.cfg'} does not read custom.cfg (no 41_custom section), so GRUB would never see ${w.entry} and the machine would boot its old system.`,
      hint: `Restore /etc/grub.d/41_custom and run update-grub, or ${w.otherwise}.`,
    };
  }
  const fs = b.filesystem;
  if (fs && /^\/dev\/(mapper\/|dm-|md)/.test(fs.source)) {
    return {code: 'boot-unreadable', message: `/boot is on ${fs.source} (LVM, device mapper or software RAID); ${w.entry} reads /boot from a plain partition only.`, hint: `Put /boot on a plain ext4 partition, or ${w.otherwise}.`};
  }
  if (fs && !GRUB_BOOT_FILESYSTEMS.includes(fs.type)) {
    return {code: 'boot-unreadable', message: `/boot is ${fs.type} (${fs.source}); ${w.entry} reads ext2, ext3 and ext4 only.`, hint: `Put /boot on an ext4 partition, or ${w.otherwise}.`};
  }
  return undefined;
}

/** Why /boot cannot take BYTES of W's files (and some room to spare); undefined when it can. */
export function grubRoom(facts: HostFacts, bytes: number, w: GrubWords): string | undefined {
  const MiB = 1048576;
  if (facts.boot.bootFreeBytes === undefined) return 'The free space of /boot could not be read.';
  const need = bytes + 16 * MiB;
  if (facts.boot.bootFreeBytes < need) return `/boot has ${Math.round(facts.boot.bootFreeBytes / MiB)} MiB free; ${w.files} need ${Math.round(need / MiB)} MiB there.`;
  return undefined;
}

const BEGIN = '### BEGIN anemos (one-shot entry, selected with grub-reboot; replaced by the next anemos run)';
const END = '### END anemos';

/** A menu entry booting DIR/vmlinuz with DIR/initramfs.img, DIR found by GRUB's search (its file system, whichever disk). */
export function grubMenuEntry(id: string, dir: string, cmdline: string): string[] {
  return [
    `menuentry '${id}' --id ${id} {`,
    '\tinsmod gzio',
    '\tinsmod part_msdos',
    '\tinsmod part_gpt',
    '\tinsmod ext2',
    `\tsearch --no-floppy --file --set=root ${dir}/vmlinuz`,
    // Each argument as one GRUB word: the config's cmdline is validated, the quoting is the second wall.
    `\tlinux ${dir}/vmlinuz ${cmdline.split(/\s+/).filter(Boolean).map(grubWord).join(' ')}`,
    `\tinitrd ${dir}/initramfs.img`,
    '}',
  ];
}

/** The GRUB menu entry (kept between markers in /boot/grub/custom.cfg). */
export function renderGrubEntry(req: Pick<BootRequest, 'cmdline'>, bootPrefix = BOOT_DIR): string {
  return [BEGIN, ...grubMenuEntry(GRUB_ENTRY, bootPrefix, req.cmdline), END, ''].join('\n');
}

/** custom.cfg with our block replaced or appended; whatever else the operator keeps there stays. */
export function mergeCustomCfg(existing: string | undefined, entry: string): string {
  return replaceBlock(existing, BEGIN, END, entry);
}

/** TEXT without the block between BEGIN and END (each line of them), then BLOCK appended when given. */
export function replaceBlock(text: string | undefined, begin: string, end: string, block = ''): string {
  const kept = (text ?? '').replace(new RegExp(`${escape(begin)}[\\s\\S]*?${escape(end)}\\n?`, 'g'), '');
  return `${kept}${kept && block && !kept.endsWith('\n') ? '\n' : ''}${block}`;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export const grubOnce: BootMethod = {
  name: 'bootloader',
  description: 'a one-shot GRUB entry (grub-reboot, then a normal reboot)',
  problem: (facts) => grubProblem(facts, ONE_SHOT),
  notes: () => [],
  room: (facts, bytes) => grubRoom(facts, bytes, ONE_SHOT),
  stage: (facts, req) => [{path: CUSTOM_CFG, what: 'the anemos entry', content: (existing) => mergeCustomCfg(existing, renderGrubEntry(req, grubBootPrefix(facts.boot.separateBoot)))}],
  load: (_req, p) => [
    ['install', '-D', '-m', '0600', p.kernel, `${BOOT_DIR}/vmlinuz`],
    ['install', '-D', '-m', '0600', p.initramfs, `${BOOT_DIR}/initramfs.img`],
    ['grub-reboot', GRUB_ENTRY],
  ],
  mayFail: () => false,
  exec: (systemd) => (systemd ? ['systemctl', 'reboot'] : ['reboot']),
  explain: () => undefined,
};
