// Which distribution's installer an ISO holds, and where its kernel and initrd are: read
// from the image's own marks (Debian's and Ubuntu's .disk/info, the .treeinfo of Fedora and
// the RHEL family), one detector per family, each answering the same questions. An image
// none of them knows is named with what was looked for.

import {KERNEL_ARGS_HINT, KERNEL_ARGS_PATTERN} from '../kernel-args.js';

export type InstallerKind = 'preseed' | 'kickstart' | 'autoinstall';
export const INSTALLER_KINDS: readonly InstallerKind[] = ['preseed', 'kickstart', 'autoinstall'];

/** What a desired deployment says of an installer (installer: in the record). */
export interface InstallerSpec {
  /** The id of an ISO in serve --media DIR, or an ISO's URL with its sha256 (fetched once by the server, checked, kept). */
  media: string | {url: string; sha256: string};
  /** The answer file's kind; the media's own when left out. */
  kind?: InstallerKind;
  /** A template of the answer file (its text); the built-in one for the kind when left out. */
  template?: string;
  /** {{NAME}} values for the template, over the built-in defaults (MIRROR, TIMEZONE…). */
  vars?: Record<string, string>;
  /** The root disk (sda, /dev/nvme0n1); the smallest non-removable disk of its inventory when left out. */
  disk?: string;
  /** Packages installed beside the base. */
  packages?: string[];
  /** Kernel arguments for the installer, after anemos' own. */
  cmdline?: string;
}

export interface InstallerMedia {
  /** debian, ubuntu, fedora, rhel, rocky, almalinux, centos… */
  distribution: string;
  release: string;
  /** Debian's names (amd64, arm64, i386) or the RPM family's (x86_64, aarch64), as the image says. */
  arch: string;
  /** In the image, from its root. */
  kernel: string;
  initrd: string;
  /** The answer file its installer reads. */
  kind: InstallerKind;
  /** What the image says it is (.disk/info, .treeinfo's name). */
  label: string;
}

/** The image as the detectors see it: the type of an entry, a small text file. */
export interface MediaTree {
  isFile(path: string): Promise<boolean>;
  text(path: string): Promise<string | undefined>;
}

interface Detector {
  family: string;
  looksFor: string;
  detect(t: MediaTree): Promise<InstallerMedia | undefined>;
}

const firstFile = async (t: MediaTree, paths: string[]) => {
  for (const p of paths) if (await t.isFile(p)) return p;
  return undefined;
};

/** Debian: .disk/info "Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST …", d-i in install.<arch>/ (or at the top, as the netboot mini.iso has it). */
const debian: Detector = {
  family: 'Debian',
  looksFor: '.disk/info naming Debian, and install.amd/ (install.a64/, install.386/) with vmlinuz or linux and initrd.gz',
  async detect(t) {
    const info = (await t.text('.disk/info'))?.trim();
    if (!info?.startsWith('Debian')) return undefined;
    for (const [dir, arch] of [['install.amd', 'amd64'], ['install.a64', 'arm64'], ['install.386', 'i386'], ['', '']] as const) {
      const at = (f: string) => (dir ? `${dir}/${f}` : f);
      const kernel = await firstFile(t, [at('vmlinuz'), at('linux')]);
      const initrd = await firstFile(t, [at('initrd.gz')]);
      if (kernel && initrd) {
        const release = info.match(/Debian GNU\/Linux (\S+)/)?.[1] ?? 'unknown';
        return {distribution: 'debian', release, arch: arch || (info.match(/\b(amd64|arm64|i386|armhf|ppc64el|s390x|riscv64)\b/)?.[1] ?? 'unknown'), kernel, initrd, kind: 'preseed', label: info};
      }
    }
    return undefined;
  },
};

/** Ubuntu: .disk/info "Ubuntu-Server 24.04.1 LTS "Noble Numbat" - Release amd64 (20240827)", subiquity's casper/. */
const ubuntu: Detector = {
  family: 'Ubuntu',
  looksFor: '.disk/info naming Ubuntu, and casper/vmlinuz with casper/initrd',
  async detect(t) {
    const info = (await t.text('.disk/info'))?.trim();
    if (!info?.startsWith('Ubuntu')) return undefined;
    const kernel = await firstFile(t, ['casper/vmlinuz', 'casper/hwe-vmlinuz']);
    const initrd = await firstFile(t, ['casper/initrd', 'casper/initrd.gz', 'casper/initrd.lz', 'casper/hwe-initrd']);
    if (!kernel || !initrd) return undefined;
    return {distribution: 'ubuntu', release: info.match(/Ubuntu(?:-Server)? (\d+\.\d+(?:\.\d+)?)/)?.[1] ?? 'unknown', arch: info.match(/\b(amd64|arm64|ppc64el|s390x|riscv64)\b/)?.[1] ?? 'unknown', kernel, initrd, kind: 'autoinstall', label: info};
  },
};

/** Fedora and the RHEL family: .treeinfo ([general] or productmd's [release]/[tree], and [images-ARCH] kernel=, initrd=). */
const treeinfo: Detector = {
  family: 'Fedora, RHEL, Rocky, AlmaLinux, CentOS',
  looksFor: '.treeinfo with an [images-ARCH] section naming kernel and initrd',
  async detect(t) {
    const text = await t.text('.treeinfo');
    if (!text) return undefined;
    const ini = parseIni(text);
    const name = ini.release?.name ?? ini.general?.family ?? '';
    const release = ini.release?.version ?? ini.general?.version ?? 'unknown';
    const arch = ini.tree?.arch ?? ini.general?.arch ?? '';
    const images = ini[`images-${arch}`];
    if (!name || !images?.kernel || !images.initrd) return undefined;
    if (!(await t.isFile(images.kernel)) || !(await t.isFile(images.initrd))) return undefined;
    return {distribution: distributionOf(name), release, arch, kernel: images.kernel, initrd: images.initrd, kind: 'kickstart', label: `${name} ${release} ${arch}`};
  },
};

export const DETECTORS: readonly Detector[] = [debian, ubuntu, treeinfo];

export async function detectMedia(t: MediaTree): Promise<{media: InstallerMedia} | {unknown: string}> {
  for (const d of DETECTORS) {
    const media = await d.detect(t);
    if (media) return {media};
  }
  return {unknown: `no installer this reads: looked for ${DETECTORS.map((d) => `${d.looksFor} (${d.family})`).join('; ')}`};
}

function distributionOf(name: string): string {
  const n = name.toLowerCase();
  if (n.includes('red hat')) return 'rhel';
  if (n.includes('alma')) return 'almalinux';
  if (n.includes('centos')) return 'centos';
  return n.split(/\s+/)[0]!;
}

/** INI sections as the .treeinfo files write them: [section] and key = value, ; and # comments. */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const head = line.match(/^\[([^\]]+)\]$/);
    if (head) {
      section = out[head[1]!.trim()] ??= {};
      continue;
    }
    const kv = line.match(/^([^=]+?)\s*=\s*(.*)$/);
    if (kv && section) section[kv[1]!] = kv[2]!;
  }
  return out;
}

/** installer: in a desired deployment. */
export const INSTALLER_SCHEMA = {
  type: 'object',
  description: "The distribution's own installer, booted from an ISO of anemos serve --media with an answer file rendered for the machine (network boot only).",
  additionalProperties: false,
  required: ['media'],
  properties: {
    media: {
      oneOf: [
        {type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$', description: 'The id of an ISO in serve --media DIR (its file name without .iso).'},
        {type: 'object', additionalProperties: false, required: ['url', 'sha256'], properties: {url: {type: 'string', pattern: '^https?://\\S+$'}, sha256: {type: 'string', pattern: '^[0-9a-f]{64}$'}}, description: "An ISO's URL and sha256: the server fetches it once, checks it and keeps it."},
      ],
    },
    kind: {type: 'string', enum: INSTALLER_KINDS, description: "The answer file's kind; the media's own when left out."},
    template: {type: 'string', maxLength: 262144, description: 'The answer file as a template with {{VARIABLES}}; the built-in one for the kind when left out.'},
    vars: {type: 'object', additionalProperties: {type: 'string'}, propertyNames: {pattern: '^[A-Z][A-Z0-9_]*$'}, description: '{{NAME}} values for the template (MIRROR, TIMEZONE, LOCALE, KEYMAP, or names of its own).'},
    disk: {type: 'string', pattern: '^(/dev/)?[A-Za-z0-9._-]+$', description: 'The root disk; the smallest non-removable disk of its inventory when left out.'},
    packages: {type: 'array', items: {type: 'string', pattern: '^[A-Za-z0-9@][A-Za-z0-9.+:_@-]*$'}, description: 'Packages installed beside the base.'},
    cmdline: {type: 'string', maxLength: 2048, pattern: KERNEL_ARGS_PATTERN, 'x-hint': KERNEL_ARGS_HINT, description: "Kernel arguments for the installer, after anemos' own."},
  },
} as const;

/** How a record's media reads in messages and templates: its id, or its URL. */
export function mediaName(media: InstallerSpec['media']): string {
  return typeof media === 'string' ? media : media.url;
}
