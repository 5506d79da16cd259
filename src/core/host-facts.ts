// What anemos knows about the host, probed once (adapters/host-facts.ts) and then only
// read: the planner and preflight are pure functions of these facts.

import type {NetworkConfig} from './network.js';
import type {OsRelease} from './install-kexec.js';
import type {RamoopsParams} from './last-deploy.js';

export interface HostDisk {
  name: string;
  sizeBytes: number;
  /** Names of its partitions (vda1, nvme0n1p2). */
  partitions: string[];
}

/** Block devices that are not disks a payload could be written to. */
export const NOT_A_DISK = /^(loop|ram|zram|sr|fd)\d/;

export interface HostFacts {
  isRoot: boolean;
  hostname: string;
  /** /proc/cmdline of the running kernel. */
  cmdline: string;
  kexec: {
    /** Path of the kexec binary, if installed. */
    tool?: string;
    /** /proc/sys/kernel/kexec_load_disabled = 1: no kexec until reboot. */
    loadDisabled: boolean;
    /** Active lockdown mode: none, integrity or confidentiality. */
    lockdown: 'none' | 'integrity' | 'confidentiality' | 'unknown';
    systemd: boolean;
  };
  memory: {totalBytes: number; availableBytes: number};
  /** /etc/os-release: which package manager --install-kexec would use. */
  os?: OsRelease;
  /** The network as captured, or the reason it could not be. */
  network: {ok: true; config: NetworkConfig} | {ok: false; code: string; message: string; hint?: string};
  ssh: {
    /** root's authorized_keys lines. */
    authorizedKeys: string[];
    /** Host private keys by file name (ssh_host_ed25519_key ...) and their paths. */
    hostKeys: Record<string, string>;
  };
  /** Whole disks (/sys/block, without loop, ram, zram, sr, fd): name, size, partitions. Undefined: not read (a VM planned with --qemu). */
  disks?: HostDisk[];
  /** Firmware files the bound NIC/storage drivers declare and that exist. */
  firmware: {path: string; size: number}[];
  /** Sizes of the firmware files anemos.conf lists (relative to /lib/firmware); null: not there. */
  firmwareFiles?: Record<string, number | null>;
  /** How the machine booted: UEFI or BIOS, and on UEFI whether Secure Boot is on (undefined: not known). */
  platform?: {uefi: boolean; secureBoot?: boolean};
  /** Where the deploy environment's outcome could outlive the reboot (src/core/last-deploy.ts). */
  pstore?: {efi: boolean; ramoops?: RamoopsParams};
  boot: {
    grubReboot?: string;
    grubCfg?: string;
    /** The generated grub.cfg sources custom.cfg (41_custom). */
    grubCustomHook: boolean;
    bootFreeBytes?: number;
    /** /boot is a file system of its own (GRUB sees its files without the /boot prefix). */
    separateBoot?: boolean;
    /** The file system that holds /boot: its type and device. */
    filesystem?: {type: string; source: string};
  };
}

/** The mount that holds `path`, from /proc/self/mountinfo: the longest mount point above it. */
export function mountOf(mountinfo: string, path: string): {mountPoint: string; type: string; source: string} | undefined {
  let best: {mountPoint: string; type: string; source: string} | undefined;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!right) continue;
    // Mount points escape spaces and the like as octal (\040).
    const mountPoint = (left.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const [type, source] = right.split(' ');
    const inside = mountPoint === '/' || path === mountPoint || path.startsWith(`${mountPoint}/`);
    // The last of several mounts on one point is the visible one.
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = {mountPoint, type: type ?? '', source: source ?? ''};
  }
  return best;
}

/**
 * The firmware's SecureBoot variable as efivarfs gives it (4 attribute bytes, then 1 = on,
 * 0 = off); undefined when it is absent or not that shape.
 */
export function parseSecureBoot(file: string | undefined): boolean | undefined {
  if (file === undefined || file.length !== 5) return undefined;
  const v = file.charCodeAt(4);
  return v === 1 ? true : v === 0 ? false : undefined;
}

export function describePlatform(p: HostFacts['platform']): string {
  if (!p) return 'not known';
  if (!p.uefi) return 'BIOS (legacy boot)';
  return `UEFI, Secure Boot ${p.secureBoot === undefined ? 'state not readable' : p.secureBoot ? 'on' : 'off'}`;
}
