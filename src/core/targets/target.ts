// What a target distribution answers when an IMGBUILD is planned (mkosi's one class per
// distribution): how to bootstrap it, how it names NICs and writes the network, how it
// enables services, what its bootloader needs. The planner asks; it never branches on a
// target's name. Adding a distribution is one file here and its tests.

import type {ImgbuildSpec, ImgStep, PlanContext} from '../imgbuild-spec.js';
import type {RenderFormat} from '../network-render.js';

/** A directive of the IMGBUILD that one target reads (debian_suite, alpine_mirror, ...). */
export interface TargetOption {
  /** When the IMGBUILD does not set it. */
  default: string;
  /** The form a value must have, and how the error says it. */
  form: RegExp;
  expected: string;
  /** A mirror: trailing slashes dropped. */
  url?: boolean;
}

/** An http(s) URL with nothing a shell would read a meaning into. */
export const MIRROR_FORM = /^https?:\/\/[^\s'"`$\\]+$/;

export interface Target {
  /** os-release IDs (ID, then ID_LIKE) of a root this target configures (anemos-configure --target auto). */
  osReleaseIds: string[];
  /** The target as the plan and payload check name it ("debian trixie"). */
  summary: (spec: ImgbuildSpec) => string;
  /** The IMGBUILD directives only this target reads, with their defaults and forms (IMGBUILD's directives are the common ones and these). */
  options: Record<string, TargetOption>;
  /** Package of the kernel when the IMGBUILD names none. */
  defaultKernel: string;
  network: {
    /** anemos-netconf's format for the new system. */
    format: RenderFormat;
    /**
     * Whose interface names the configuration uses: "host" for a format that matches by MAC
     * (networkd), "kernel" where names are written down and the new system keeps the
     * kernel's names (eth0), which are the deploy environment's names for the same NICs.
     */
    names: 'host' | 'kernel';
    /** sh that enables the network service in "$root" without running the new system. */
    enable: string;
  };
  /** The service that runs sshd, enabled when the IMGBUILD installs OpenSSH (null: the package enables it). */
  sshService: (packages: string[]) => string | null;
  /** Steps before the first write to a disk: downloads into RAM and their verification. */
  prepare?: (spec: ImgbuildSpec, ctx: PlanContext) => ImgStep[];
  bootstrap: (spec: ImgbuildSpec, ctx: PlanContext, bootloaderPackages: string[]) => ImgStep;
  /** sh that enables each service in "$root" (a missing one is an error). */
  enableServices: (services: string[]) => string;
  bootloader: {
    /** Packages the bootstrap adds for GRUB on this firmware. */
    packages: (efi: boolean) => string[];
    /** sh run in the bootloader step before grub-install (initramfs tools, debconf answers). */
    before: (ctx: PlanContext) => string;
    /** sh that writes grub.cfg inside the new root. */
    mkconfig: string;
  };
  /**
   * A live layer's whole tree (anemos image build): the command that makes it as a tar, without
   * root, from the chain's bottom layer up; a target without it has no live layers yet. With
   * PARENT (a tar of the tree of a parent downloaded by URL, no /dev entries), the chain's layers
   * are built on that tree instead of from nothing.
   */
  liveTree?: (chain: {dir: string; spec: ImgbuildSpec}[], out: string, epoch: number, parent?: string) => {cmd: string; args: string[]; env: Record<string, string>};
  /** Warnings about project folders this target does not read, or reads differently, and about what the IMGBUILD set (its variables as sh gave them). */
  warnings: (project: ImgbuildSpec['project'], vars: Record<string, string>) => string[];
}
