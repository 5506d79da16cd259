// What a boot method answers (Linux's kexec_file_ops, one table per image type): whether it
// can work on this host, what it writes before loading, the exact load and exec commands
// (the executor runs them, --dry-run prints them), and what a refusal of the kernel means.
// The planner and the executor ask the method; they never branch on its name.

import type {HostFacts} from '../host-facts.js';
import type {AnemosError} from '../../shared/errors.js';

export type Argv = [string, ...string[]];

/** Every method, in the order boot.method "auto" tries them: the first that can work on the host is used. */
export const BOOT_METHOD_NAMES = ['kexec', 'bootloader'] as const;
/** Those, and live-disk: what live.every_boot uses, never chosen by boot.method. */
export type BootMethodName = (typeof BOOT_METHOD_NAMES)[number] | 'live-disk';

export interface PreflightProblem {
  code: string;
  message: string;
  hint: string;
}

/** Where the fetched kernel and the composed initramfs are. */
export interface BootPaths {
  kernel: string;
  initramfs: string;
}

/** What a method needs to know of the plan. */
export interface BootRequest {
  cmdline: string;
  /** kexec_file_load (-s): required under lockdown, verifies the kernel's signature. */
  kexecFileLoad: boolean;
}

/** A file the method writes before it loads: its new content from the old (undefined: absent). */
export interface StagedFile {
  path: string;
  content: (existing: string | undefined) => string;
  /** For the log: what the change is. */
  what: string;
}

export interface BootMethod {
  name: BootMethodName;
  /** What it is, in the plan's and the config reference's words ("a one-shot GRUB entry"). */
  description: string;
  /** The package --install-kexec installs when the host lacks it (kexec-tools). */
  installable?: 'kexec-tools';
  /** Why this method cannot work on this host; undefined when it can. */
  problem(facts: HostFacts): PreflightProblem | undefined;
  /** How it will work here, for the plan's warnings. */
  notes(facts: HostFacts, req: BootRequest): string[];
  /** Room it needs once sizes are known (bytes of kernel + composed initramfs). */
  room(facts: HostFacts, bytes: number): string | undefined;
  stage(facts: HostFacts, req: BootRequest): StagedFile[];
  load(req: BootRequest, paths: BootPaths): Argv[];
  /** Load commands whose failure is harmless (unloading what is not loaded). */
  mayFail(argv: Argv): boolean;
  exec(systemd: boolean): Argv;
  /** A load command failed: the error that says why in the user's terms, if the output tells. */
  explain(output: string, req: BootRequest): AnemosError | undefined;
}
