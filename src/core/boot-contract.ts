// The contract between the host CLI and the agent in the initramfs: which files the
// appended segments carry and what config.json holds (DESIGN.md §3). Shared by both sides.

import type {BootTimeline} from './boot-timeline.js';
import {validate, type Schema, type SchemaProblem} from './json-schema.js';

export const CONTRACT = {
  dir: 'anemos',
  config: 'anemos/config.json',
  network: 'anemos/network.json',
  authorizedKeys: 'anemos/ssh/authorized_keys',
  hostKeysDir: 'anemos/ssh/host_keys',
  payloadPrefix: 'anemos/payload',
  firmwareDir: 'lib/firmware',
  /** A live image's layers (squashfs), bottom first: LIVE_LAYER_FILE names them. */
  liveDir: 'anemos/live',
} as const;

/** Where the running deploy environment keeps its state; a driver over SSH reads it there. */
export const RUNTIME = {
  dir: '/run/anemos',
  events: '/run/anemos/events.jsonl',
  /** The hardware inventory (core/inventory.ts), written at every boot. */
  inventory: '/run/anemos/inventory.json',
  /** Created by a driver once it has read the outcome event (BootConfig.watch_seconds). */
  outcomeSeen: '/run/anemos/outcome-seen',
  /**
   * Live mode: the agent has mounted the image at LIVE_ROOT and writes the image's init
   * here; /init then moves /dev, /proc, /sys and /run under it and switch_roots into it.
   */
  liveSwitch: '/run/anemos/live/switch',
} as const;

/** Where a live layer carries its IMGBUILD's conffs/ (a host's own files, rendered into its host layer at boot); each layer's over its parent's. */
export const LIVE_CONFFS = '/usr/lib/anemos/conffs';

/** Where the live image is mounted for /init's switch_root: outside /run, which moves under it. */
export const LIVE_ROOT = '/newroot';

/** A layer's file in the initramfs: its place in the chain (bottom 0) and its name. */
export const liveLayerFile = (index: number, name: string) => `${String(index).padStart(2, '0')}-${name}.squashfs`;

/** Kernel command-line keys: written by the host's planner, read by the agent (and by a driver that asks what booted). */
export const KERNEL_KEYS = {mode: 'anemos.mode', debug: 'anemos.debug'} as const;

/** Whether a /proc/cmdline is the deploy environment's: it carries anemos.mode=. */
export const isDeployEnvironment = (cmdline: string) => cmdline.split(/\s+/).some((a) => a.startsWith(`${KERNEL_KEYS.mode}=`));

/**
 * The environment of a payload's ./deploy and of an IMGBUILD's steps: what a payload author
 * may rely on (docs/payloads.md, whose table a test holds to this one). PATH and HOME are set too.
 */
export const PAYLOAD_ENV = {
  ANEMOS_PAYLOAD_DIR: 'the unpacked payload (the working directory of ./deploy)',
  ANEMOS_CONFIG: "this deploy's config.json (hostname, disk, timeouts)",
  ANEMOS_NETWORK: 'network.json: the addresses, routes and DNS carried over, keyed by MAC',
  ANEMOS_HOSTNAME: "the new system's hostname",
  ANEMOS_LOG: "the deploy log (the payload's output goes there too)",
  ANEMOS_DISK: 'deploy.disk, when anemos.conf sets it: the disk the payload may erase',
  ANEMOS_RAM_KEEP_KIB: 'KiB of RAM a payload leaves free when it holds a download in memory (what the deploy environment needs to go on)',
} as const;
/**
 * RAM a payload leaves free when it holds a download in memory: the agent, dropbear, the
 * tools and their page cache. One figure for every payload (payloads/image reads it from
 * ANEMOS_RAM_KEEP_KIB, an IMGBUILD's Arch target bakes it into its step); a 256 MB machine
 * streams a 133 MiB image with it (test/e2e/ipv6-only.test.ts).
 */
export const RAM_KEEP_KIB = 64 * 1024;

export type PayloadEnv = Record<Exclude<keyof typeof PAYLOAD_ENV, 'ANEMOS_DISK'>, string> & {ANEMOS_DISK?: string};

export const FAILURE_POLICIES = ['auto', 'reboot', 'stay'] as const;
export type FailurePolicy = (typeof FAILURE_POLICIES)[number];

export const BOOT_MODES = ['deploy', 'test'] as const;
export type BootMode = (typeof BOOT_MODES)[number];
/** What the deploy environment does: a boot mode, or live (a deploy whose config names an image to boot into RAM). */
export const AGENT_MODES = [...BOOT_MODES, 'live'] as const;
export type AgentMode = (typeof AGENT_MODES)[number];

export interface BootConfig {
  version: 1;
  mode: AgentMode;
  cli_version: string;
  hostname: string;
  /** File name under /anemos and its sha256, checked again by the agent before use. */
  payload?: {file: string; sha256: string};
  disk?: string;
  on_failure: FailurePolicy;
  /** Seconds. */
  timeout: number;
  network_timeout: number;
  check_url?: string;
  /**
   * Seconds to wait, after the outcome, for a driver (anemos deploy --host) to say it has
   * read it (it creates RUNTIME.outcomeSeen) before rebooting; absent: reboot at once.
   */
  watch_seconds?: number;
  /**
   * The machine registry (anemos serve) the agent reports its inventory and events to, as
   * the deployment with this id, with that deployment's own token; the deploy never waits for it.
   */
  report?: ReportTarget;
  /**
   * Network boot: the boot service's answer for this machine (GET, JSON {boot, mode, rule}),
   * asked every `seconds` while the deploy environment waits in test mode. When it is no
   * longer `current` (an operator made a deployment ready), the machine reboots and its
   * network boot takes the new answer.
   */
  next_boot?: NextBoot;
  /** Live mode: the image to boot into RAM instead of a payload (docs/live-images.md). */
  live?: LiveBoot;
}

/** What the deploy environment boots in live mode. */
export interface LiveBoot {
  /** The image's name (its top layer's) and its layers, bottom first, each checked again before it is mounted. */
  image: string;
  layers: {name: string; file: string; sha256: string}[];
  /** The writable upper's size (a tmpfs), MiB. */
  tmpfs_mib: number;
  /** Paths kept on a file system of a disk, found by its label, instead of in RAM; format: the disk to make it on (ext4) when none has the label, only if that disk is empty. */
  persist: {path: string; label: string; format?: string}[];
  /** A network boot's: the registry record's attributes as conffs/ template variables (ATTR_ROLE: its value). */
  attributes?: Record<string, string>;
  /** A network boot's registry: where the live system reports its drift (POST /api/v1/drift, plain HTTP), with the token for it, every `seconds`. */
  drift?: {url: string; token: string; seconds: number};
  /** Booted from the host's own disk at every boot (live.every_boot): the live system gets anemos-boot-os, the way back to the installed system. */
  every_boot?: boolean;
}

export interface NextBoot {
  url: string;
  seconds: number;
  /** This boot's answer, "environment register" or "environment test". */
  current: string;
  /** poweroff: once registered (its inventory delivered) and with nothing else to boot, the machine powers off until it is woken. */
  idle?: 'poweroff';
}

export interface ReportTarget {
  url: string;
  token: string;
  /** PEM: the CA that signed the registry's certificate, when the base's CA bundle does not know it. */
  ca?: string;
  /** sha256//BASE64 of the registry's public key: wget --pinnedpubkey, that key and no other. */
  pin?: string;
  deployment: string;
}

/** An image's (a layer's) name, as IMGBUILD's imgname allows it. */
export const LAYER_NAME = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** A persist: path: absolute, plain names (no "..", no spaces: it goes into /proc/mounts and fstab-like places). */
export const PERSIST_PATH = '^(/[A-Za-z0-9_@+,:=.-]+)+$';
/** A file system label as mkfs and blkid take it. */
export const FS_LABEL = '^[A-Za-z0-9_.-]{1,16}$';

/**
 * config.json's schema (schema/boot-config.schema.json): the CLI checks what it composes,
 * the agent what it boots with. The version, positive timeouts and the payload in deploy
 * mode are checked in words of their own (validateBootConfig).
 */
export const BOOT_CONFIG_SCHEMA: Schema = {
  type: 'object',
  description: 'anemos/config.json: what the deploy environment does (DESIGN.md §3).',
  additionalProperties: false,
  required: ['version', 'mode', 'cli_version', 'hostname', 'on_failure', 'timeout', 'network_timeout'],
  properties: {
    version: {type: 'integer', enum: [1]},
    mode: {type: 'string', enum: AGENT_MODES},
    cli_version: {type: 'string'},
    hostname: {type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$'},
    payload: {
      type: 'object',
      additionalProperties: false,
      required: ['file', 'sha256'],
      properties: {file: {type: 'string', pattern: '^payload\\.(tar\\.gz|tar\\.zst|tar\\.xz|tar)$'}, sha256: {type: 'string', pattern: '^[0-9a-f]{64}$'}},
    },
    disk: {type: 'string', pattern: '^/dev/'},
    on_failure: {type: 'string', enum: FAILURE_POLICIES},
    timeout: {type: 'integer'},
    network_timeout: {type: 'integer'},
    check_url: {type: 'string', pattern: '^https?://'},
    watch_seconds: {type: 'integer', minimum: 0, maximum: 3600},
    report: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'token', 'deployment'],
      properties: {
        url: {type: 'string', pattern: '^https?://'},
        token: {type: 'string', pattern: '^\\S+$'},
        ca: {type: 'string', pattern: '-----BEGIN CERTIFICATE-----'},
        pin: {type: 'string', pattern: '^sha256//[A-Za-z0-9+/]{43}=$'},
        deployment: {type: 'string', pattern: '^[A-Za-z0-9._-]{8,64}$'},
      },
    },
    live: {
      type: 'object',
      additionalProperties: false,
      required: ['image', 'layers', 'tmpfs_mib', 'persist'],
      properties: {
        image: {type: 'string', pattern: LAYER_NAME},
        layers: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'file', 'sha256'],
            properties: {name: {type: 'string', pattern: LAYER_NAME}, file: {type: 'string', pattern: '^[0-9]{2}-[A-Za-z0-9._-]+\\.squashfs$'}, sha256: {type: 'string', pattern: '^[0-9a-f]{64}$'}},
          },
        },
        tmpfs_mib: {type: 'integer', minimum: 16},
        persist: {
          type: 'array',
          items: {type: 'object', additionalProperties: false, required: ['path', 'label'], properties: {path: {type: 'string', pattern: PERSIST_PATH}, label: {type: 'string', pattern: FS_LABEL}, format: {type: 'string', pattern: '^/dev/[A-Za-z0-9/_.:-]+$'}}},
        },
        attributes: {type: 'object', propertyNames: {pattern: '^ATTR_[A-Z0-9_]+$'}, additionalProperties: {type: 'string', maxLength: 65536}},
        drift: {
          type: 'object',
          additionalProperties: false,
          required: ['url', 'token', 'seconds'],
          // Sent by the live system's bash over /dev/tcp: plain HTTP to an address and port, nothing it would have to quote.
          properties: {url: {type: 'string', pattern: '^http://[A-Za-z0-9.:\\[\\]-]+:[0-9]+$'}, token: {type: 'string', pattern: '^[A-Za-z0-9_-]+$'}, seconds: {type: 'integer', minimum: 10, maximum: 86400}},
        },
        every_boot: {type: 'boolean'},
      },
    },
    next_boot: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'seconds', 'current'],
      properties: {url: {type: 'string', pattern: '^https?://'}, seconds: {type: 'integer', minimum: 1, maximum: 3600}, current: {type: 'string'}, idle: {enum: ['poweroff']}},
    },
  },
};

/** Every problem of a config.json, in words for the console. */
export function validateBootConfig(c: unknown): string[] {
  const v = (c ?? {}) as Partial<BootConfig>;
  const bad: string[] = [];
  if (v.version !== 1) bad.push('version must be 1');
  if (v.mode === 'live' && !v.live?.layers?.length) bad.push('live.layers is required in live mode');
  if (v.mode === 'deploy' && (!v.payload?.file || !/^[0-9a-f]{64}$/.test(v.payload.sha256 ?? ''))) bad.push('payload.file and payload.sha256 are required in deploy mode');
  if (!((v.timeout ?? 0) > 0) || !((v.network_timeout ?? 0) > 0)) bad.push('timeout and network_timeout must be positive');
  const said = (p: SchemaProblem) => p.path === 'version' || ((p.path === 'payload' || p.path.startsWith('payload.')) && bad.some((b) => b.startsWith('payload')));
  return [...bad, ...validate(BOOT_CONFIG_SCHEMA, c).filter((p) => !said(p)).map((p) => `${p.path}: ${p.message}`)];
}

/** Payload file name inside the initramfs, keeping the compression suffix the agent needs. */
export function payloadFileName(url: string): string {
  const m = /\.(tar\.gz|tgz|tar\.zst|tar\.xz|tar)$/.exec(url.split('?')[0]);
  const ext = m ? (m[1] === 'tgz' ? 'tar.gz' : m[1]) : 'tar.gz';
  return `payload.${ext}`;
}

/**
 * One line of RUNTIME.events (events.jsonl): what the deploy environment says as it works,
 * numbered, for a driver following it over SSH and for the registry (a type, not an interface,
 * so that it is a registry ReportEvent as it is).
 */
export type LogEvent = {
  /** 1, 2, 3...: a watcher that reconnects asks for what follows the last one it saw. */
  seq: number;
  t: string;
  level: 'info' | 'warn' | 'error';
  step?: string;
  status?: 'start' | 'ok' | 'fail';
  seconds?: number;
  /** The run's end, once: what a watcher should expect next (DESIGN.md §8). */
  outcome?: 'succeeded' | 'failed' | 'test-ready';
  /** With outcome failed: reboot (the old system comes back) or stay (reachable here). */
  action?: 'reboot' | 'stay';
  /** With outcome failed: the disks written to before the failure. */
  written?: string[];
  /** Seconds since the kernel started at each stage of the boot (src/core/boot-timeline.ts). */
  timeline?: BootTimeline;
  msg: string;
};
