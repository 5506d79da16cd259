// What anemos knows about the host, probed once (adapters/host-facts.ts) and then only
// read: the planner and preflight are pure functions of these facts.

import type {NetworkConfig} from './network.js';

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
  /** The network as captured, or the reason it could not be. */
  network: {ok: true; config: NetworkConfig} | {ok: false; code: string; message: string; hint?: string};
  ssh: {
    /** root's authorized_keys lines. */
    authorizedKeys: string[];
    /** Host private keys by file name (ssh_host_ed25519_key ...) and their paths. */
    hostKeys: Record<string, string>;
  };
  /** Firmware files the bound NIC/storage drivers declare and that exist. */
  firmware: {path: string; size: number}[];
  boot: {
    grubReboot?: string;
    grubCfg?: string;
    /** The generated grub.cfg sources custom.cfg (41_custom). */
    grubCustomHook: boolean;
    bootFreeBytes?: number;
    /** /boot is a file system of its own (GRUB sees its files without the /boot prefix). */
    separateBoot?: boolean;
  };
}
