// The anemos.conf schema (one source for validation, the published JSON Schema and
// the example's key list) and the pure parse: YAML text in, a normalized Config out,
// or one config error listing every problem with its YAML path.

import {stringify, parseDocument} from 'yaml';
import {configError} from '../shared/errors.js';
import {FAILURE_POLICIES, FS_LABEL, PERSIST_PATH, type FailurePolicy} from './boot-contract.js';
import {BOOT_METHOD_NAMES} from './boot-methods/method.js';
import {validate, type Schema, type SchemaProblem} from './json-schema.js';
import {KERNEL_ARGS_PATTERN, KERNEL_ARGS_HINT} from './kernel-args.js';
import {NETWORK_SCHEMA, normalizeNetwork, validateNetwork} from './network-schema.js';

/** Where this machine's registry credential is kept (JSON, 0600): written when it enrolls. */
/** Where anemos deploy and config check look without --config. */
export const DEFAULT_CONFIG_PATH = '/etc/anemos.conf';
export const DEFAULT_CREDENTIAL = '/etc/anemos/registry-credential';

/** A pin of a TLS public key, as curl and wget --pinnedpubkey take it. */
export const PIN_PATTERN = '^sha256//[A-Za-z0-9+/]{43}=$';
import type {NetworkConfig} from './network.js';
import {INSTALLER_SCHEMA, type InstallerSpec} from './netboot/installer-media.js';

/** boot.method: "auto" or a method of the table (core/boot-methods/). */
export const BOOT_METHOD_CHOICES = ['auto', ...BOOT_METHOD_NAMES] as const;
export type BootMethodChoice = (typeof BOOT_METHOD_CHOICES)[number];
// What to do when a deploy fails is part of the boot contract (the agent reads it).
export {FAILURE_POLICIES, type FailurePolicy};

const SHA256 = '^[0-9a-fA-F]{64}$';
const SIZE = '^[1-9][0-9]*[MG]$';
const DURATION = '^[0-9]+(s|m|h)?$';

const artifact = (what: string): Schema => ({
  type: 'object',
  description: `Where to get the ${what} and its sha256.`,
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: {
      type: 'string',
      description: 'https://, http://, file:// URL or a local path (a relative path is read from the directory of the config file).',
      pattern: '^(https?://|file://|/|\\./|\\.\\./|[^:]+$)',
      'x-hint': 'Use an http(s):// or file:// URL, or a path.',
    },
    sha256: {
      type: 'string',
      description: 'Lower-case hex sha256 of the file. Required unless --allow-unverified.',
      pattern: SHA256,
      'x-hint': 'Put the output of "sha256sum FILE" here: 64 hex digits, quoted if YAML could read them as a number.',
    },
  },
});

const duration = (description: string, def: string): Schema => ({
  oneOf: [
    {type: 'integer', minimum: 1},
    {type: 'string', pattern: DURATION},
  ],
  description: `${description} Seconds, or a number with s, m or h.`,
  default: def,
  'x-hint': 'Write seconds (600) or a duration like "10m" or "1h".',
});

export const CONFIG_SCHEMA: Schema = {
  type: 'object',
  description: 'anemos deploy configuration (/etc/anemos.conf).',
  additionalProperties: false,
  required: ['kernel', 'initramfs'],
  properties: {
    kernel: artifact('kernel (bzImage) that boots the deploy environment'),
    initramfs: artifact('base initramfs made by "anemos initramfs build"'),
    payload: artifact('payload (tar.gz or tar.zst with IMGBUILD or deploy), made by "anemos payload pack"'),
    live: {
      type: 'object',
      additionalProperties: false,
      required: ['image'],
      description: 'Boot a live image into RAM instead of deploying a payload: the disk is not touched (docs/live-images.md).',
      properties: {
        image: {type: 'string', description: 'The top layer\'s build directory (anemos image build writes DIR/out); its parents are found from its manifest. A relative path is read from the config file\'s directory. In a desired deployment a network boot runs: the name of an image of anemos serve --images.', pattern: '^[^:]+$', 'x-hint': 'Name a directory holding manifest.json and layer.squashfs, e.g. images/web/out.'},
        tmpfs: {type: 'string', pattern: SIZE, default: '512M', description: 'The writable layer over the image (a tmpfs in RAM): what the running system may write, in M or G.', 'x-hint': 'A size like 512M or 2G.'},
        every_boot: {type: 'boolean', default: false, description: 'Boot the image at every boot, from this host\'s disk: the deploy environment and the layers go to /boot/anemos-live and a GRUB entry there becomes the default (boot.method auto or bootloader). Without it, the image runs until the next reboot. anemos-boot-os, on the live system, makes the next boot the installed system once; anemos live remove, there, takes the entry out.'},
        persist: {
          type: 'array',
          default: [],
          description: 'Paths kept on a disk instead of in RAM: each is the file system labelled `label` (mkfs.ext4 -L LABEL), mounted there.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['path', 'label'],
            properties: {
              path: {type: 'string', pattern: PERSIST_PATH, 'x-hint': 'An absolute path such as /var/lib/postgresql.'},
              label: {type: 'string', pattern: FS_LABEL, 'x-hint': 'A file system label: letters, digits, _ . -, at most 16.'},
              format: {type: 'string', pattern: '^/dev/[A-Za-z0-9/_.:-]+$', description: 'When no file system has the label: make one (ext4, with the label) on this disk, only if it is empty (no partition table, no file system signature). Without it, a missing label stops the live boot.', 'x-hint': 'A whole disk such as /dev/vdb or /dev/disk/by-id/....'},
            },
          },
        },
      },
    },
    hostname: {type: 'string', description: 'Hostname in the deploy environment and the new system. Default: the current hostname.', pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$', 'x-hint': 'Letters, digits, dots and hyphens, starting with a letter or digit, at most 253 characters: web1 or web1.example.org.'},
    cmdline: {type: 'string', description: 'Extra kernel command line arguments for the deploy environment.', default: '', pattern: KERNEL_ARGS_PATTERN, 'x-hint': KERNEL_ARGS_HINT},
    network: {
      oneOf: [{type: 'string', enum: ['auto']}, NETWORK_SCHEMA],
      description: '"auto" carries over the host\'s current addresses, routes and DNS; or a network.json-style mapping.',
      default: 'auto',
      'x-hint': 'Use "auto", or a mapping like the output of "anemos network detect --json".',
    },
    firmware: {
      oneOf: [{type: 'string', enum: ['auto', 'none']}, {type: 'array', items: {type: 'string'}}],
      description: '"auto" copies the firmware files the host\'s NIC and storage drivers declare; "none"; or a list of paths under /lib/firmware.',
      default: 'auto',
      'x-hint': 'Use "auto", "none" or a list of firmware file paths.',
    },
    boot: {
      type: 'object',
      additionalProperties: false,
      properties: {
        method: {type: 'string', enum: BOOT_METHOD_CHOICES, default: 'auto', description: `How the deploy environment is booted: ${BOOT_METHOD_NAMES.join(', ')}, or auto (the first of them, in that order, that works on the host).`},
        delay: {type: 'integer', minimum: 0, default: 3, description: 'Seconds between loading and executing, so an SSH session can report success.'},
      },
    },
    deploy: {
      type: 'object',
      additionalProperties: false,
      properties: {
        disk: {type: 'string', pattern: '^/dev/', description: 'Target disk the payload may erase (ANEMOS_DISK), e.g. /dev/vda.', 'x-hint': 'Name a block device like /dev/vda or /dev/disk/by-id/....'},
        on_failure: {type: 'string', enum: FAILURE_POLICIES, default: 'auto', description: 'auto: reboot to the old system if no disk was written, else stay reachable; reboot; stay.'},
        timeout: duration('How long the payload may run.', '1h'),
        network_timeout: duration('How long the network check may take before the agent reboots untouched.', '120s'),
        check_url: {type: 'string', pattern: '^https?://', description: 'A URL that must answer before any disk is touched.'},
      },
    },
    access: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ssh_authorized_keys: {
          oneOf: [{type: 'string', enum: ['host']}, {type: 'array', items: {type: 'string', pattern: '^(ssh-|ecdsa-|sk-)'}}],
          default: 'host',
          description: '"host" copies root\'s authorized_keys; or a list of public keys.',
          'x-hint': 'Use "host" or a list of "ssh-ed25519 AAAA..." lines.',
        },
        host_keys: {type: 'string', enum: ['carry', 'new'], default: 'carry', description: 'carry: dropbear uses the host\'s own SSH host keys so known_hosts stays valid.'},
      },
    },
    cache_dir: {
      type: 'string',
      default: '/var/cache/anemos',
      pattern: '^/',
      description: 'Where verified downloads are kept, by sha256, on the machine deployed (with --host too: on that host).',
      'x-hint': 'An absolute path on the machine deployed, e.g. /var/cache/anemos: with --host it is a directory there, so a path relative to this file would name nothing.',
    },
    report: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      description: 'A machine registry (anemos serve): anemos deploy records each deployment there, and the deploy environment reports its hardware inventory and events with a token bound to that deployment; the deploy never waits for it.',
      properties: {
        url: {type: 'string', pattern: '^https?://', description: 'The registry, e.g. https://registry.example.net:8443. Plain http:// only on this machine, or with insecure: true.'},
        fingerprint: {type: 'string', pattern: PIN_PATTERN, description: 'Pin of the registry\'s public key, as anemos serve --tls auto prints it (sha256//BASE64): that registry and no other, whatever its certificate says.', 'x-hint': 'Copy the "fingerprint" line anemos serve prints at start: sha256// and 44 base64 characters.'},
        ca: {type: 'string', pattern: '-----BEGIN CERTIFICATE-----', description: 'PEM of the CA that signed the registry\'s certificate, when it is not a public one.'},
        insecure: {type: 'boolean', default: false, description: 'Allow plain http:// to a registry on another machine (anyone on the path could choose what is deployed: only on a network that is yours alone).'},
        credential: {type: 'string', default: DEFAULT_CREDENTIAL, description: 'This machine\'s own credential (0600), written when it enrolls (anemos inventory --report URL, or the first deploy with enroll_token).'},
        enroll_token: {type: 'string', pattern: '^\\S+$', description: 'An enroll token (anemos tokens create --role enroll): used once, when there is no credential yet, to register this machine and get its credential.'},
      },
    },
  },
};


export interface ReportConfig {
  url: string;
  fingerprint?: string;
  ca?: string;
  insecure: boolean;
  credential: string;
  enroll_token?: string;
}

export interface ArtifactRef {
  url: string;
  sha256?: string;
  /** The payload names a local payload directory: packed at deploy time, its sha256 computed then. */
  dir?: true;
}

export interface Config {
  kernel: ArtifactRef;
  initramfs: ArtifactRef;
  payload?: ArtifactRef;
  /** Boot this image live instead of deploying a payload. */
  live?: LiveConfig;
  hostname?: string;
  cmdline: string;
  network: 'auto' | NetworkConfig;
  firmware: 'auto' | 'none' | string[];
  boot: {method: BootMethodChoice; delay: number};
  deploy: {disk?: string; on_failure: FailurePolicy; timeout: number; network_timeout: number; check_url?: string};
  access: {ssh_authorized_keys: 'host' | string[]; host_keys: 'carry' | 'new'};
  cache_dir: string;
  report?: ReportConfig;
}

export interface LiveConfig {
  /** The top layer's build directory, resolved. */
  image: string;
  tmpfsMib: number;
  persist: {path: string; label: string; format?: string}[];
  /** Boot it at every boot from this host's disk (a default GRUB entry), not once. */
  everyBoot: boolean;
}

/** "512M" or "2G" in MiB. */
export const sizeMib = (v: string) => Number(v.slice(0, -1)) * (v.endsWith('G') ? 1024 : 1);

export function parseDuration(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^([0-9]+)(s|m|h)?$/.exec(v);
  if (!m) throw new Error(`bad duration ${v}`);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

function formatProblems(problems: SchemaProblem[]): string[] {
  return problems.map((p) => `${p.path}: ${p.message}${p.hint ? ` — ${p.hint}` : ''}`);
}

export interface ParseConfigOptions {
  /** Missing sha256 values are allowed (--allow-unverified); otherwise each is a problem. */
  allowUnverified?: boolean;
  /** Relative artifact paths are read from here: the directory of the config file. */
  baseDir?: string;
  /** Whether a (resolved) local path is a directory: a payload directory needs no sha256, it is packed at deploy time. */
  isDirectory?: (path: string) => boolean;
  /** Whether a (resolved) local path exists; given, an artifact path that names nothing is a problem of the config. */
  exists?: (path: string) => boolean;
}

/** sha256 of zero bytes: a placeholder, never the sum of a kernel, an initramfs or a payload. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Problems the schema cannot state: checksums, and the network mapping's own rules. */
function semanticProblems(raw: Record<string, any>, opts: ParseConfigOptions): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const name of ['kernel', 'initramfs', 'payload']) {
    const a = raw[name];
    if (!a || typeof a !== 'object' || typeof a.url !== 'string') continue;
    // A path that names nothing is the problem to report, not the sha256 it lacks.
    if (isPath(a.url) && opts.exists && !opts.exists(placePath(a.url, opts))) {
      const where = placePath(a.url, opts);
      problems.push({
        path: `${name}.url`,
        message: `names ${where}, which does not exist`,
        hint: `Check the path${where !== a.url ? ` (a relative path is read from the config file's directory, ${opts.baseDir})` : ''}${name === 'payload' ? '; a payload is a directory (packed when the deploy starts) or a .tar.gz/.tar.zst' : ''}.`,
      });
      continue;
    }
    if (name === 'payload' && payloadDir(a.url, opts)) continue;
    if (a.sha256 === undefined && !opts.allowUnverified) {
      problems.push({path: `${name}.sha256`, message: 'is required', hint: 'Add the sha256 of the file (sha256sum FILE), or pass --allow-unverified to accept unverified downloads.'});
    }
    if (typeof a.sha256 === 'string' && a.sha256.toLowerCase() === EMPTY_SHA256) {
      problems.push({path: `${name}.sha256`, message: "is the sha256 of an empty file (anemos.conf.example's placeholder): no real file matches it", hint: 'Put the sha256 of the real file: sha256sum FILE, or its line in the SHA256SUMS published beside it.'});
    }
  }
  if (raw.live && typeof raw.live === 'object') {
    if (raw.payload) problems.push({path: 'live', message: 'boots an image live, and payload: deploys one to disk: a deploy does one or the other', hint: 'Remove payload: to boot live, or live: to deploy the payload.'});
    const paths = Array.isArray(raw.live.persist) ? raw.live.persist.map((p: any) => p?.path).filter((p: unknown) => typeof p === 'string') : [];
    paths.forEach((p: string, i: number) => {
      if (p.split('/').some((s) => s === '.' || s === '..')) problems.push({path: `live.persist.${i}.path`, message: `${p} has a "." or ".." part`, hint: 'Write the path plainly: /var/lib/postgresql.'});
      else if (p === '/' || /^\/(proc|sys|dev|run)(\/|$)/.test(p)) problems.push({path: `live.persist.${i}.path`, message: `${p} is the root or a file system the kernel provides`, hint: 'Persist a data directory, such as /var/lib/postgresql or /srv.'});
      if (paths.indexOf(p) !== i) problems.push({path: `live.persist.${i}.path`, message: `${p} is listed twice`, hint: 'List each path once.'});
    });
  }
  if (raw.report && typeof raw.report === 'object' && 'token' in raw.report) {
    problems.push({
      path: 'report.token',
      message: 'is no longer read: one token on every host let any host speak for any machine',
      hint: 'Enroll each host once (anemos inventory --report URL with an enroll token), or put an enroll token in report.enroll_token: the host then gets its own credential, and each deployment a token of its own.',
    });
  }
  if (raw.network && typeof raw.network === 'object') {
    // The schema has passed; these are the cross-field rules (prefix by family, MAC keys).
    problems.push(...validateNetwork(raw.network, 'network').map((p) => ({...p, hint: p.hint ?? 'Use "auto", or a mapping like the output of "anemos network detect --json".'})));
  }
  return problems;
}

const isPath = (url: string) => !/^[a-z][a-z0-9+.-]*:/i.test(url);
/** POSIX path REL read from directory BASE, normalized (what path.resolve does, without Node: core runs on QuickJS too). */
export function resolveFrom(base: string, rel: string): string {
  const parts: string[] = [];
  for (const seg of (rel.startsWith('/') ? rel : `${base}/${rel}`).split('/')) {
    if (seg === '..') parts.pop();
    else if (seg && seg !== '.') parts.push(seg);
  }
  return `/${parts.join('/')}`;
}
const placePath = (url: string, opts: ParseConfigOptions) => (isPath(url) && !url.startsWith('/') && opts.baseDir ? resolveFrom(opts.baseDir, url) : url);
const payloadDir = (url: string, opts: ParseConfigOptions) => isPath(url) && Boolean(opts.isDirectory?.(placePath(url, opts)));

/** Parse and validate the YAML text of anemos.conf. `source` names the file in messages. */
export function parseConfig(text: string, source: string, opts: ParseConfigOptions = {}): Config {
  const doc = parseDocument(text, {prettyErrors: true, uniqueKeys: true});
  if (doc.errors.length) {
    // prettyErrors puts the line and a caret under the place after the first line: keep them.
    throw configError('config-yaml', `${source} is not valid YAML.`, 'Fix the YAML syntax at the line shown.', doc.errors.map((e) => e.message.trimEnd()));
  }
  const raw = (doc.toJS() ?? {}) as unknown;
  let problems = validate(CONFIG_SCHEMA, raw);
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const seen = new Set(problems.map((p) => p.path));
    const semantic = semanticProblems(raw as Record<string, any>, opts);
    // report.token was removed: said in its own words rather than as an unknown key.
    problems = [...problems.filter((p) => p.path !== 'report.token'), ...semantic.filter((p) => !seen.has(p.path) || p.path === 'report.token')];
  }
  if (problems.length) {
    throw configError(
      'config-invalid',
      `${source} has ${problems.length} problem${problems.length > 1 ? 's' : ''}.`,
      'Fix each key listed; "anemos config check" validates without doing anything. anemos.conf.example documents every key.',
      formatProblems(problems),
    );
  }
  const r = raw as Record<string, any>;
  const lower = (a?: ArtifactRef) => (a ? {url: placePath(a.url, opts), ...(a.sha256 ? {sha256: a.sha256.toLowerCase()} : {})} : undefined);
  return {
    kernel: lower(r.kernel)!,
    initramfs: lower(r.initramfs)!,
    ...(r.payload ? {payload: {...lower(r.payload)!, ...(payloadDir(r.payload.url, opts) ? {dir: true as const} : {})}} : {}),
    ...(r.live ? {live: {image: placePath(r.live.image, opts), tmpfsMib: sizeMib(r.live.tmpfs ?? '512M'), persist: (r.live.persist ?? []).map((p: {path: string; label: string; format?: string}) => ({path: p.path, label: p.label, ...(p.format ? {format: p.format} : {})})), everyBoot: r.live.every_boot === true}} : {}),
    ...(r.hostname ? {hostname: r.hostname} : {}),
    cmdline: r.cmdline ?? '',
    network: r.network && r.network !== 'auto' ? normalizeNetwork(r.network) : 'auto',
    firmware: r.firmware ?? 'auto',
    boot: {method: r.boot?.method ?? 'auto', delay: r.boot?.delay ?? 3},
    deploy: {
      ...(r.deploy?.disk ? {disk: r.deploy.disk} : {}),
      on_failure: r.deploy?.on_failure ?? 'auto',
      timeout: parseDuration(r.deploy?.timeout ?? '1h'),
      network_timeout: parseDuration(r.deploy?.network_timeout ?? '120s'),
      ...(r.deploy?.check_url ? {check_url: r.deploy.check_url} : {}),
    },
    access: {ssh_authorized_keys: r.access?.ssh_authorized_keys ?? 'host', host_keys: r.access?.host_keys ?? 'carry'},
    cache_dir: r.cache_dir ?? '/var/cache/anemos',
    ...(r.report
      ? {
          report: {
            url: r.report.url,
            ...(r.report.fingerprint ? {fingerprint: r.report.fingerprint} : {}),
            ...(r.report.ca ? {ca: r.report.ca} : {}),
            insecure: r.report.insecure ?? false,
            credential: placePath(r.report.credential ?? DEFAULT_CREDENTIAL, opts),
            ...(r.report.enroll_token ? {enroll_token: r.report.enroll_token} : {}),
          },
        }
      : {}),
  };
}

/** The part of a machine's record in the registry that a deploy takes (services/registry). */
export interface DesiredConfig {
  kernel?: {url: string; sha256: string};
  initramfs?: {url: string; sha256: string};
  payload?: {url: string; sha256: string};
  config?: Record<string, unknown>;
  /** Instead of a payload: the distribution's own installer from an ISO of anemos serve --media, with its answer file (network boot only). */
  installer?: InstallerSpec;
}

/**
 * anemos deploy --from-registry: the local config file's YAML (may be empty) with the
 * machine's desired deployment over it, key by key (its artifacts, then its config
 * overrides), and the registry as report: unless the file names one. Validated afterwards
 * like any config, so a bad record is named key by key.
 */
/** The desired deployment's own shape: the three artifacts (each with its sha256) and config overrides. */
export const DESIRED_SCHEMA: Schema = (() => {
  const withSha = (a: Schema): Schema => ({...a, required: ['url', 'sha256']});
  const props = CONFIG_SCHEMA.properties!;
  // Overrides: any anemos.conf key but where the host reports (the registry is that) and its own cache.
  const overrides = Object.fromEntries(Object.entries(props).filter(([k]) => !['kernel', 'initramfs', 'payload', 'report', 'cache_dir'].includes(k)));
  return {
    type: 'object',
    description: "A machine's desired deployment in the registry: what anemos deploy --from-registry lays over the host's config.",
    additionalProperties: false,
    properties: {
      kernel: withSha(props.kernel!),
      initramfs: withSha(props.initramfs!),
      payload: withSha(props.payload!),
      config: {type: 'object', description: 'anemos.conf keys that override the host\'s own (report: and cache_dir: stay the host\'s).', additionalProperties: false, properties: overrides},
      installer: INSTALLER_SCHEMA as unknown as Schema,
    },
  };
})();

/**
 * Every problem of a desired deployment, with its path (desired.config.deploy.disk), in
 * the words "anemos config check" uses: the registry refuses a record with any.
 */
export function validateDesired(desired: unknown): string[] {
  const problems = validate(DESIRED_SCHEMA, desired, 'desired');
  const d = desired as DesiredConfig | null;
  if (!problems.length && d?.installer && (d.payload || d.kernel || d.initramfs)) problems.push({path: 'desired.installer', message: "names the distribution's installer: it takes no payload, kernel or initramfs beside it"});
  const config = (desired as {config?: unknown} | null)?.config;
  if (!problems.length && config && typeof config === 'object') {
    const network = (config as Record<string, unknown>).network;
    if (network && typeof network === 'object') problems.push(...validateNetwork(network, 'desired.config.network'));
  }
  return formatProblems(problems);
}

export function applyDesired(text: string, desired: DesiredConfig, registry: {url: string; fingerprint?: string; ca?: string; insecure?: boolean}): string {
  const doc = parseDocument(text || '{}', {prettyErrors: true, uniqueKeys: true});
  if (doc.errors.length) throw configError('config-yaml', 'The local config is not valid YAML.', 'Fix the YAML syntax at the line shown.', doc.errors.map((e) => e.message.trimEnd()));
  const local = (doc.toJS() ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = {...local, ...(desired.config ?? {})};
  for (const k of ['kernel', 'initramfs', 'payload'] as const) if (desired[k]) merged[k] = desired[k];
  merged.report ??= {url: registry.url, ...(registry.fingerprint ? {fingerprint: registry.fingerprint} : {}), ...(registry.ca ? {ca: registry.ca} : {}), ...(registry.insecure ? {insecure: true} : {})};
  return stringify(merged);
}

/** Artifacts that lack a sha256: an error unless the user allowed unverified downloads. */
export function missingChecksums(c: Config): string[] {
  const named: [string, ArtifactRef | undefined][] = [['kernel', c.kernel], ['initramfs', c.initramfs], ['payload', c.payload]];
  return named.filter(([, a]) => a && !a.sha256 && !a.dir).map(([n]) => `${n}.sha256`);
}
