// The answer file a distribution's installer reads (Debian's preseed, the RHEL family's
// kickstart, Ubuntu's autoinstall), rendered for one machine from its record: its name,
// its network, its keys, the root disk chosen from its inventory, its packages, and a last
// command that reports the outcome to the registry with this boot's token. Every rendered
// file is checked before it is served: an unknown {{VARIABLE}}, no root disk, an empty or
// unparsable file is refused with the reason, so that no machine boots an installer that
// would stop at a question.

import {parseDocument} from 'yaml';
import type {InventoryDisk} from '../inventory.js';
import {TEMPLATE_VARIABLES, templateValues, unknownTemplateVariables} from '../imgbuild.js';
import type {NetworkConfig} from '../network.js';
import {mediaName, type InstallerKind, type InstallerSpec} from './installer-media.js';

export type {InstallerSpec} from './installer-media.js';

/** The installer's own variables, beside IMGBUILD templates' (HOSTNAME, IPV4, DISK…). */
export const INSTALLER_VARIABLES = ['SSH_AUTHORIZED_KEYS', 'SSH_AUTHORIZED_KEYS_BASE64', 'SSH_AUTHORIZED_KEYS_JSON', 'PACKAGES', 'REPORT_COMMAND'] as const;

/** Defaults a record's vars may change, per kind. */
export const DEFAULT_VARS: Record<InstallerKind, Record<string, string>> = {
  preseed: {LOCALE: 'en_US.UTF-8', KEYMAP: 'us', TIMEZONE: 'UTC', MIRROR: 'deb.debian.org', MIRROR_DIRECTORY: '/debian'},
  kickstart: {LOCALE: 'en_US.UTF-8', KEYMAP: 'us', TIMEZONE: 'UTC'},
  autoinstall: {LOCALE: 'en_US.UTF-8', KEYMAP: 'us', TIMEZONE: 'UTC'},
};

export const ANSWER_FILE_NAME: Record<InstallerKind, string> = {preseed: 'preseed.cfg', kickstart: 'ks.cfg', autoinstall: 'user-data'};

const PRESEED = `# Debian preseed for {{HOSTNAME}} ({{MAC}}), rendered by anemos serve from its record.
d-i debian-installer/locale string {{LOCALE}}
d-i keyboard-configuration/xkb-keymap select {{KEYMAP}}
d-i netcfg/choose_interface select auto
d-i netcfg/get_hostname string {{SHORT_HOSTNAME}}
d-i netcfg/get_domain string {{DOMAIN}}
d-i netcfg/hostname string {{HOSTNAME}}
d-i hw-detect/load_firmware boolean true
d-i mirror/country string manual
d-i mirror/http/hostname string {{MIRROR}}
d-i mirror/http/directory string {{MIRROR_DIRECTORY}}
d-i mirror/http/proxy string
d-i clock-setup/utc boolean true
d-i time/zone string {{TIMEZONE}}
d-i passwd/root-login boolean true
d-i passwd/make-user boolean false
d-i passwd/root-password-crypted password !
d-i partman-auto/disk string {{DISK}}
d-i partman-auto/method string regular
d-i partman-auto/choose_recipe select atomic
d-i partman-efi/non_efi_system boolean true
d-i partman-lvm/device_remove_lvm boolean true
d-i partman-md/device_remove_md boolean true
d-i partman-partitioning/confirm_write_new_label boolean true
d-i partman/choose_partition select finish
d-i partman/confirm boolean true
d-i partman/confirm_nooverwrite boolean true
tasksel tasksel/first multiselect standard, ssh-server
d-i pkgsel/include string openssh-server {{PACKAGES}}
d-i pkgsel/upgrade select none
popularity-contest popularity-contest/participate boolean false
d-i grub-installer/only_debian boolean true
d-i grub-installer/bootdev string {{DISK}}
d-i finish-install/reboot_in_progress note
d-i preseed/late_command string in-target sh -c 'mkdir -p -m 700 /root/.ssh && echo {{SSH_AUTHORIZED_KEYS_BASE64}} | base64 -d >> /root/.ssh/authorized_keys'; {{REPORT_COMMAND}}
`;

const KICKSTART = `# Kickstart for {{HOSTNAME}} ({{MAC}}), rendered by anemos serve from its record.
text
lang {{LOCALE}}
keyboard {{KEYMAP}}
timezone {{TIMEZONE}} --utc
network --bootproto=dhcp --hostname={{HOSTNAME}} --activate
rootpw --lock
ignoredisk --only-use={{DISK}}
clearpart --all --initlabel --drives={{DISK}}
autopart --type=plain
bootloader --boot-drive={{DISK}}
reboot

%packages
@core
openssh-server
{{PACKAGES}}
%end

%post
mkdir -p -m 700 /root/.ssh
echo {{SSH_AUTHORIZED_KEYS_BASE64}} | base64 -d >> /root/.ssh/authorized_keys
%end

%post --nochroot
{{REPORT_COMMAND}}
%end
`;

const AUTOINSTALL = `#cloud-config
# Ubuntu autoinstall for {{HOSTNAME}} ({{MAC}}), rendered by anemos serve from its record.
autoinstall:
  version: 1
  locale: {{LOCALE}}
  keyboard: {layout: {{KEYMAP}}}
  timezone: {{TIMEZONE}}
  identity: {hostname: {{SHORT_HOSTNAME}}, username: ubuntu, password: '!'}
  ssh: {install-server: true, allow-pw: false, authorized-keys: {{SSH_AUTHORIZED_KEYS_JSON}}}
  storage: {layout: {name: direct, match: {path: {{DISK}}}}}
  packages: [{{PACKAGES}}]
  late-commands:
    - {{REPORT_COMMAND}}
`;

export const BUILT_IN_TEMPLATES: Record<InstallerKind, string> = {preseed: PRESEED, kickstart: KICKSTART, autoinstall: AUTOINSTALL};

/** The report a finished installer sends: the deployment succeeded (the record becomes deployed, and the next network boot goes to its disk). */
export interface ReportTo {
  url: string;
  token: string;
  deployment: string;
  mac: string;
}

export interface AnswerInput {
  kind: InstallerKind;
  spec: InstallerSpec;
  hostname: string;
  network: NetworkConfig;
  authorizedKeys: string[];
  /** The disks of its last inventory. */
  disks: InventoryDisk[];
  report: ReportTo;
}

export class AnswerError extends Error {
  override name = 'AnswerError';
}

/** The root disk: the one the record names (it must be in the inventory when there is one), else the smallest non-removable disk. */
export function chooseRootDisk(disks: InventoryDisk[], named?: string): string {
  if (named) {
    const name = named.replace(/^\/dev\//, '');
    if (disks.length && !disks.some((d) => d.name === name)) throw new AnswerError(`the root disk ${named} is not among its disks (${disks.map((d) => d.name).join(', ')})`);
    return `/dev/${name}`;
  }
  const fixed = disks.filter((d) => !d.removable && d.sizeBytes > 0).sort((a, b) => a.sizeBytes - b.sizeBytes || a.name.localeCompare(b.name));
  if (!fixed.length) throw new AnswerError(`no root disk: its inventory lists ${disks.length ? `only removable or empty disks (${disks.map((d) => d.name).join(', ')})` : 'no disk'}, and installer.disk names none`);
  return `/dev/${fixed[0]!.name}`;
}

/** The shell command that tells the registry this deployment succeeded: busybox wget in debian-installer, curl in Anaconda and subiquity. */
export function reportCommand(kind: InstallerKind, r: ReportTo): string {
  const body = JSON.stringify({machine: {macs: [r.mac]}, deployment: {id: r.deployment, mode: 'deploy', source: 'agent'}, events: [{seq: 1, msg: 'the installer finished', outcome: 'succeeded'}]});
  const url = `${r.url}/api/v1/reports`;
  for (const v of [body, url, r.token]) if (v.includes("'")) throw new AnswerError(`a value of the report command carries a quote: ${v}`);
  return kind === 'preseed'
    ? `wget -q -O /dev/null --header 'Authorization: Bearer ${r.token}' --header 'Content-Type: application/json' --post-data '${body}' '${url}'`
    : `curl -fsS -o /dev/null -H 'Authorization: Bearer ${r.token}' -H 'Content-Type: application/json' --data '${body}' '${url}'`;
}

/** The answer file, rendered and checked: an AnswerError names what stops it. */
export function renderAnswer(a: AnswerInput): string {
  const template = a.spec.template ?? BUILT_IN_TEMPLATES[a.kind];
  const source = a.spec.template ? 'installer.template' : `the built-in ${a.kind} template`;
  const own = new Set<string>([...TEMPLATE_VARIABLES, ...INSTALLER_VARIABLES]);
  for (const k of Object.keys(a.spec.vars ?? {})) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new AnswerError(`installer.vars.${k}: a variable is named in capitals (A-Z, 0-9, _)`);
    if (own.has(k)) throw new AnswerError(`installer.vars.${k}: {{${k}}} comes from the record and cannot be set`);
  }
  const extra = {...DEFAULT_VARS[a.kind], ...(a.spec.vars ?? {})};
  const known = new Set([...own, ...Object.keys(extra)]);
  const unknown = unknownTemplateVariables(template).filter((n) => !known.has(n));
  if (unknown.length) throw new AnswerError(`${source}: unknown variable${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{{${u}}}`).join(', ')}; known: ${[...known].join(', ')}`);
  const uses = (n: string) => new RegExp(`\\{\\{\\s*${n}\\s*\\}\\}`).test(template);
  const disk = uses('DISK') ? chooseRootDisk(a.disks, a.spec.disk) : '';
  const keys = a.authorizedKeys.join('\n');
  const values: Record<string, string> = {
    ...templateValues(a.network, {hostname: a.hostname, imgname: mediaName(a.spec.media), target: a.kind, disk}),
    SSH_AUTHORIZED_KEYS: keys,
    SSH_AUTHORIZED_KEYS_BASE64: Buffer.from(keys ? `${keys}\n` : '').toString('base64'),
    SSH_AUTHORIZED_KEYS_JSON: JSON.stringify(a.authorizedKeys),
    PACKAGES: (a.spec.packages ?? []).join(a.kind === 'kickstart' ? '\n' : a.kind === 'autoinstall' ? ', ' : ' '),
    // autoinstall's late-commands are YAML: the command as a quoted scalar.
    REPORT_COMMAND: a.kind === 'autoinstall' ? JSON.stringify(reportCommand(a.kind, a.report)) : reportCommand(a.kind, a.report),
    ...extra,
  };
  // One pass: a value that holds braces is written as it is.
  const text = template.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (_, n: string) => values[n]!);
  checkAnswer(a.kind, text, source);
  return text;
}

const PRESEED_TYPES = new Set(['string', 'boolean', 'select', 'multiselect', 'note', 'password', 'text', 'error', 'title']);
const KICKSTART_SECTIONS = new Set(['%packages', '%pre', '%pre-install', '%post', '%onerror', '%traceback', '%addon', '%anaconda']);

/** The rendered file's own syntax, as its installer reads it. */
export function checkAnswer(kind: InstallerKind, text: string, source: string): void {
  const lines = text.split('\n');
  if (!lines.some((l) => l.trim() && !l.trim().startsWith('#'))) throw new AnswerError(`${source} renders to an empty ${kind} file`);
  if (kind === 'preseed') {
    const joined = text.replace(/\\\n/g, ' ').split('\n');
    joined.forEach((l, i) => {
      if (!l.trim() || l.trimStart().startsWith('#')) return;
      const m = l.match(/^\s*(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/);
      if (!m || !PRESEED_TYPES.has(m[3]!)) throw new AnswerError(`${source}, line ${i + 1}: not "owner question type value" (type one of ${[...PRESEED_TYPES].join(', ')}): ${l.slice(0, 120)}`);
      if (m[3] === 'boolean' && !['true', 'false'].includes((m[4] ?? '').trim())) throw new AnswerError(`${source}, line ${i + 1}: ${m[2]} is a boolean, given "${(m[4] ?? '').trim()}"`);
    });
  } else if (kind === 'kickstart') {
    let open: string | undefined;
    lines.forEach((l, i) => {
      const t = l.trim();
      if (!t || t.startsWith('#')) return;
      if (t.startsWith('%')) {
        const word = t.split(/\s+/)[0]!;
        if (word === '%end') {
          if (!open) throw new AnswerError(`${source}, line ${i + 1}: %end without a section`);
          open = undefined;
        } else if (KICKSTART_SECTIONS.has(word)) {
          if (open) throw new AnswerError(`${source}, line ${i + 1}: ${word} inside ${open} (no %end before it)`);
          open = word;
        } else if (!word.startsWith('%include') && !word.startsWith('%ksappend')) throw new AnswerError(`${source}, line ${i + 1}: unknown section ${word}`);
      } else if (!open && !/^[a-z][a-z0-9_-]*(\s|$)/.test(t)) throw new AnswerError(`${source}, line ${i + 1}: not a kickstart command: ${t.slice(0, 120)}`);
    });
    if (open) throw new AnswerError(`${source}: ${open} has no %end`);
  } else {
    const doc = parseDocument(text, {uniqueKeys: true});
    if (doc.errors.length) throw new AnswerError(`${source} is not YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    const v = doc.toJS() as {autoinstall?: {version?: unknown}} | null;
    if (!v || typeof v !== 'object' || !v.autoinstall || typeof v.autoinstall !== 'object') throw new AnswerError(`${source} has no autoinstall: mapping`);
    if (v.autoinstall.version !== 1) throw new AnswerError(`${source}: autoinstall.version must be 1`);
    if (!text.startsWith('#cloud-config')) throw new AnswerError(`${source}: the user-data must start with #cloud-config`);
  }
}
