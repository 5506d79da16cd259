// What an IMGBUILD becomes once it is read (the spec) and what its plan is made of (steps
// and their context): the types every target module (core/targets/) and the planner share.
// It imports nothing, so a target can name them without an import cycle.

/** A target's name, as an IMGBUILD's "target" gives it: one of core/targets/index.ts's TARGETS. */
export type ImgTarget = string;

export const ROOT_FILESYSTEMS = ['ext4', 'ext3', 'ext2'] as const;
export const PARTITION_TABLES = ['msdos', 'gpt'] as const;

export type ImgFormat =
  | {kind: 'raw'; /** Bytes of the root partition; null: the rest of the disk ("max"). */ size: number | null; sizeText: string; table: (typeof PARTITION_TABLES)[number]; fs: (typeof ROOT_FILESYSTEMS)[number]}
  | {kind: 'custom'}
  | {kind: 'dir'}
  /** A live image's layer (anemos image build): a squashfs of the tree, booted into RAM, never deployed as a payload. */
  | {kind: 'live'};

export interface ImgbuildSpec {
  imgname: string;
  target: ImgTarget;
  /** format live: the parent layer (its project or build directory), relative to the IMGBUILD's. */
  from?: string;
  /** from= an http(s) URL: the sha256 of the manifest.json there, which pins its layer and each parent below it. */
  fromSha256?: string;
  format: ImgFormat;
  kernel: string;
  /** The target's own directives (its Target.options), checked, with their defaults: debian_suite, alpine_mirror, ... */
  options: Record<string, string>;
  hostconf: string[];
  packages: string[];
  services: string[];
  functions: {provision: boolean; setup: boolean; cleanup: boolean};
  /** Project folders present in the payload. */
  /** conffs: a live layer's files for each host, rendered into its host layer at boot (docs/live-images.md). */
  project: {files: boolean; secrets: boolean; repositories: boolean; keys: boolean; pacmanConf: boolean; conffs?: boolean};
  patches: string[];
  templates: string[];
}

export type StepPhase = 'prepare' | 'disk' | 'bootstrap' | 'customise' | 'bootloader' | 'finish';

export interface ImgStep {
  id: string;
  title: string;
  phase: StepPhase;
  script: string;
}

export interface PlanContext {
  /** Mount point of the new root. */
  root: string;
  /** The unpacked payload. */
  payload: string;
  /** Scratch space in RAM: pre-rendered templates, downloaded bootstrap tools. */
  work: string;
  disk?: string;
  /** Booted by UEFI firmware (/sys/firmware/efi exists): ESP + grub-efi instead of BIOS GRUB. */
  efi: boolean;
  /** Kernel arguments to carry into the new system's bootloader (console=, net.ifnames=). */
  kernelArgs: string[];
  /** The deploy environment's network.json, for anemos-netconf. */
  networkJson: string;
  authorizedKeys: string;
  hostKeysDir: string;
}
