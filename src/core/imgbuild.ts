// IMGBUILD (makeimg's IMGBUILD(5)): what the file means, judged from the variables a real
// sh printed after sourcing it. Shell is never parsed here: evaluatorScript() is run by
// sh (dash in the deploy environment, the host's sh for `payload check`), and this module
// reads its NUL-separated output, validates it and renders the project's templates.

import type {PayloadFile} from './payload-check.js';
import type {NetworkConfig} from './network.js';
import {PARTITION_TABLES, ROOT_FILESYSTEMS, type ImgbuildSpec, type ImgFormat, type ImgTarget} from './imgbuild-spec.js';
import {TARGET_MODULES, TARGETS} from './targets/index.js';

export {PARTITION_TABLES, ROOT_FILESYSTEMS, TARGETS, type ImgbuildSpec, type ImgFormat, type ImgTarget};

/** The directives every target reads; lists hold one value per line (or word). */
const COMMON_DIRECTIVES = ['imgname', 'target', 'format', 'from', 'from_sha256', 'kernel', 'hostconf', 'packages', 'services', 'required_files'];

/** Which target reads each of the targets' own directives (debian_suite: debian). */
const OPTION_OWNERS = new Map(Object.entries(TARGET_MODULES).flatMap(([name, t]) => Object.keys(t.options).map((o) => [o, name] as const)));

/** Every directive read from an IMGBUILD: the common ones, then each target's own (from the target table). */
export const DIRECTIVES: readonly string[] = [...COMMON_DIRECTIVES, ...OPTION_OWNERS.keys()];
export const FUNCTIONS = ['provision', 'setup', 'cleanup'] as const;

export const DEFAULT_FORMAT = 'raw 8G msdos ext4';

export interface ImgbuildFindings {
  spec?: ImgbuildSpec;
  errors: string[];
  warnings: string[];
}

/**
 * sh source that sources ./IMGBUILD from the directory given as $1 and prints
 * `name NUL value NUL` for every directive and `fn NUL name NUL` for every defined
 * function, on fd 1 only (whatever the IMGBUILD prints goes to stderr).
 */
export function evaluatorScript(): string {
  const vars = DIRECTIVES.map((d) => `printf '%s\\0%s\\0' ${d} "\${${d}-}"`).join('\n');
  const fns = FUNCTIONS.map((f) => `case "$(type ${f} 2>/dev/null)" in *function*) printf 'fn\\0%s\\0' ${f} ;; esac`).join('\n');
  return `set -e\ncd "$1"\nexec 3>&1 1>&2\n. ./IMGBUILD\nexec 1>&3 3>&-\n${vars}\n${fns}\n`;
}

export interface Evaluation {
  vars: Record<string, string>;
  functions: string[];
}

export function parseEvaluation(stdout: string): Evaluation {
  const parts = stdout.split('\0');
  const vars: Record<string, string> = {};
  const functions: string[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const [k, v] = [parts[i]!, parts[i + 1]!];
    if (k === 'fn') functions.push(v);
    else vars[k] = v;
  }
  return {vars, functions};
}

/** A list directive: one value per line (words on a line are values too); "# ..." to the end of a line is a comment. */
export function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split('\n')
    .flatMap((line) => line.replace(/(^|\s)#.*$/, '').split(/\s+/))
    .filter(Boolean);
}

const UNITS: Record<string, number> = {K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40};

/** "8G", "512M", "20480K", "1T" (binary units) or "max"; null for max, undefined when malformed. */
export function parseSize(text: string): number | null | undefined {
  if (text === 'max') return null;
  const m = /^(\d+)(?:([KMGT])(?:i?B)?)?$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]) * (m[2] ? UNITS[m[2].toUpperCase()]! : 1);
  return n > 0 ? n : undefined;
}

export function parseFormat(text: string): ImgFormat | string {
  const words = splitList(text);
  const kind = words[0];
  if (kind === 'raw') {
    const [, sizeText = '8G', table = 'msdos', fs = 'ext4', ...extra] = words;
    const size = parseSize(sizeText);
    if (size === undefined) return `format "${text}": size "${sizeText}" is not a size; write it like 8G, 512M or max (the rest of the disk).`;
    if (!(PARTITION_TABLES as readonly string[]).includes(table)) return `format "${text}": partition table "${table}" is not one of ${PARTITION_TABLES.join(', ')}.`;
    if (!(ROOT_FILESYSTEMS as readonly string[]).includes(fs)) {
      return `format "${text}": file system "${fs}" is not one of ${ROOT_FILESYSTEMS.join(', ')} (the tools the deploy environment carries).`;
    }
    if (extra.length) return `format "${text}": too many words; the form is "raw SIZE PARTTYPE FS".`;
    return {kind: 'raw', size, sizeText, table: table as 'msdos' | 'gpt', fs: fs as 'ext4'};
  }
  if ((kind === 'custom' || kind === 'dir' || kind === 'live') && words.length === 1) return {kind};
  if (kind === 'tar') {
    return `format "${text}": a tar image has nowhere to go in a deploy (the target disk is the image); use "raw SIZE PARTTYPE FS", or "custom" with setup() to prepare the disk yourself.`;
  }
  return `format "${text}" is not one of "raw SIZE PARTTYPE FS", "custom", "dir", "live".`;
}

// Package names as Debian, Alpine and Arch spell them. Anything else (; $ ` | & spaces in
// quotes, version pins) would reach a shell or a resolver with a meaning of its own.
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+._-]*$/;
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9@:._-]*$/;

/**
 * @param purpose deploy: a payload (anemos deploy, payload check); live: a live image's
 *   layer (anemos image build), which only format live is, and which builds Debian trees with
 *   files/, provision() and services (templates belong to the host layer rendered at boot).
 */
export function validateImgbuild(evaluation: Evaluation, files: PayloadFile[], purpose: 'deploy' | 'live' = 'deploy'): ImgbuildFindings {
  const errors: string[] = [];
  const warnings: string[] = [];
  const v = evaluation.vars;
  const known = new Set<string>(DIRECTIVES);
  for (const k of Object.keys(v)) if (!known.has(k)) warnings.push(`IMGBUILD: "${k}" is not a directive anemos reads.`);

  const imgname = (v.imgname ?? '').trim();
  if (!imgname) errors.push('IMGBUILD: imgname is required (a name for this system, e.g. imgname=web1).');
  const target = (v.target ?? '').trim();
  if (!target) errors.push(`IMGBUILD: target is required: one of ${TARGETS.join(', ')}.`);
  else if (!(TARGETS as readonly string[]).includes(target)) errors.push(`IMGBUILD: target "${target}" is not one of ${TARGETS.join(', ')}.`);

  const format = parseFormat((v.format ?? '').trim() || DEFAULT_FORMAT);
  if (typeof format === 'string') errors.push(`IMGBUILD: ${format}`);


  const packages = splitList(v.packages);
  const badPackages = packages.filter((p) => !PACKAGE_NAME.test(p));
  if (badPackages.length) {
    errors.push(
      `IMGBUILD: packages ${badPackages.map((p) => `"${p}"`).join(', ')} ${badPackages.length > 1 ? 'are' : 'is'} not a package name ` +
        '(letters, digits, + . _ - only; no shell characters, quotes or version pins: pin versions with files/etc/apt/preferences.d or in provision()).',
    );
  }
  const module = TARGETS.includes(target) ? TARGET_MODULES[target] : undefined;
  const kernel = (v.kernel ?? '').trim() || (module?.defaultKernel ?? '');
  if (module && !PACKAGE_NAME.test(kernel)) errors.push(`IMGBUILD: kernel "${kernel}" is not a package name.`);

  // The target's own directives, by its table; another target's, set here, are said to be ignored.
  const options: Record<string, string> = {};
  for (const [name, o] of Object.entries(module?.options ?? {})) {
    const value = (v[name] ?? '').trim() || o.default;
    if (!o.form.test(value)) errors.push(`IMGBUILD: ${name} "${value}" is not ${o.expected}.`);
    options[name] = o.url ? value.replace(/\/+$/, '') : value;
  }
  for (const [name, owner] of OPTION_OWNERS) {
    if (module && !(name in module.options) && (v[name] ?? '').trim()) warnings.push(`IMGBUILD: ${name} is read by target "${owner}" only; target "${target}" ignores it.`);
  }
  const services = splitList(v.services);
  const badServices = services.filter((s) => !SERVICE_NAME.test(s));
  if (badServices.length) errors.push(`IMGBUILD: services ${badServices.map((s) => `"${s}"`).join(', ')}: not a service name.`);
  const hostconf = splitList(v.hostconf);
  for (const h of hostconf) if (h !== 'keyring') errors.push(`IMGBUILD: hostconf "${h}" is not known (only "keyring").`);

  const fns = new Set(evaluation.functions);
  const functions = {provision: fns.has('provision'), setup: fns.has('setup'), cleanup: fns.has('cleanup')};
  const from = (v.from ?? '').trim();
  const live = typeof format !== 'string' && format.kind === 'live';
  if (purpose === 'deploy' && live) errors.push('IMGBUILD: format "live" is a live image\'s layer: build it with anemos image build DIR; a payload deploys "raw", "custom" or "dir".');
  if (purpose === 'live' && typeof format !== 'string' && !live) errors.push(`IMGBUILD: format "${format.kind}" is deployed as a payload; anemos image build builds format "live".`);
  if (from && !live) errors.push('IMGBUILD: from= names the parent of a live layer: it goes with format "live".');
  const fromSha256 = (v.from_sha256 ?? '').trim().toLowerCase();
  const remoteFrom = /^https?:\/\//i.test(from);
  if (remoteFrom && !/^[0-9a-f]{64}$/.test(fromSha256)) {
    errors.push(`IMGBUILD: from=${from} is downloaded: from_sha256= must pin it, the sha256 of its manifest.json (64 hex digits; anemos image build prints it as "manifest sha256"), ${fromSha256 ? `not "${fromSha256}"` : 'and there is none'}.`);
  }
  if (fromSha256 && !remoteFrom) errors.push('IMGBUILD: from_sha256= pins a parent downloaded from an http(s) URL; from= names a local one here, which needs no pin.');
  if (purpose === 'live' && module && !module.liveTree) errors.push(`IMGBUILD: target "${target}" builds no live layers yet (target "debian" does, with mmdebstrap and without root).`);
  if (typeof format !== 'string' && format.kind !== 'raw' && !live && !functions.setup) {
    errors.push(`IMGBUILD: format "${format.kind}" needs a setup() function that partitions the disk and mounts the new root at "$root".`);
  }
  if (typeof format !== 'string' && format.kind === 'raw' && (functions.setup || functions.cleanup)) {
    warnings.push('IMGBUILD: setup()/cleanup() run only with format "custom" or "dir"; with "raw", anemos partitions the disk itself.');
  }

  // Project folders.
  const byPath = new Map(files.map((f) => [f.path, f]));
  const {patches, templates} = projectParts(files);
  for (const p of splitList(v.required_files)) {
    const rel = p.replace(/^\/+/, '');
    if (!byPath.has(`files/${rel}`) && !byPath.has(`files/${rel}.makeimg.template`)) {
      errors.push(`IMGBUILD: required_files names "${p}", but neither files/${rel} nor files/${rel}.makeimg.template is in the payload.`);
    }
  }
  const has = (p: string) => byPath.has(p);
  const project: ImgbuildSpec['project'] = {files: has('files'), secrets: has('secrets'), repositories: has('repositories'), keys: has('keys'), pacmanConf: has('pacman.conf')};
  if (purpose === 'live') {
    if (templates.length || patches.length) errors.push(`IMGBUILD: ${[...templates, ...patches].join(', ')}: templates and patches are rendered for one machine, and a layer is shared by many; put a host's own files under conffs/ (templates there are rendered for each host at boot).`);
    if (has('conffs')) project.conffs = true;
    if (project.secrets) errors.push('IMGBUILD: secrets/ would be in a layer every host boots and anyone with the layer reads: keep secrets out of live layers.');
    if (functions.setup || functions.cleanup) warnings.push('IMGBUILD: setup()/cleanup() prepare a disk; a live layer has none, and they are not run.');
  }
  if (module) warnings.push(...module.warnings(project, v));

  if (errors.length || typeof format === 'string') return {errors, warnings};
  return {
    errors,
    warnings,
    spec: {
      imgname,
      target: target as ImgTarget,
      ...(from ? {from} : {}),
      ...(remoteFrom ? {fromSha256} : {}),
      format,
      kernel,
      options,
      hostconf,
      packages,
      services,
      functions,
      project,
      patches,
      templates,
    },
  };
}

/** The patches and templates under files/: checked whether or not the rest of the IMGBUILD is valid. */
export function projectParts(files: PayloadFile[]): {patches: string[]; templates: string[]} {
  const under = files.filter((f) => f.type === 'file' && f.path.startsWith('files/'));
  return {patches: under.filter((f) => f.path.endsWith('.makeimg.patch')).map((f) => f.path), templates: under.filter((f) => f.path.endsWith('.makeimg.template')).map((f) => f.path)};
}

// --- templates ---------------------------------------------------------------------------

/** A template's name: the file it becomes, then this. */
export const TEMPLATE_SUFFIX = '.makeimg.template';

export const TEMPLATE_VARIABLES = [
  'HOSTNAME', 'SHORT_HOSTNAME', 'DOMAIN', 'IPV4', 'IPV4_PREFIX', 'IPV4_GATEWAY', 'IPV6', 'IPV6_PREFIX', 'IPV6_GATEWAY', 'MAC', 'DNS', 'IMGNAME', 'TARGET', 'DISK',
] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** A live image's conffs/ templates may also name the registry record's attributes: role as {{ATTR_ROLE}}. */
export const ATTRIBUTE_VARIABLE = /^ATTR_[A-Z0-9_]+$/;

/** An attribute's template variable: its key upper case, anything but a letter or digit as _. */
export const attributeVariable = (key: string) => `ATTR_${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** A record's attributes as template variables: those with a string, number or boolean value. */
export function attributeValues(attributes: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[attributeVariable(k)] = String(v);
  return out;
}

/** Placeholders that are not known variables: an error before any disk is touched. attributes: ATTR_ names are known (a live image's conffs/). */
export function unknownTemplateVariables(text: string, o: {attributes?: boolean} = {}): string[] {
  const known = new Set<string>(TEMPLATE_VARIABLES);
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((n) => !known.has(n) && !(o.attributes && ATTRIBUTE_VARIABLE.test(n))))];
}

/**
 * Render {{NAME}} placeholders (shell-like $VARS are left alone: zone files and scripts use
 * them). attributes: the record's (ATTR_ names), for a live image's conffs/; one a template
 * names and the record lacks stops it, as an unknown variable does.
 */
export function renderTemplate(text: string, vars: Record<TemplateVariable, string>, name: string, attributes?: Record<string, string>): string {
  const unknown = unknownTemplateVariables(text, {attributes: Boolean(attributes)});
  if (unknown.length) {
    throw new Error(`${name}: unknown template variable${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{{${u}}}`).join(', ')}; known: ${TEMPLATE_VARIABLES.join(', ')}.`);
  }
  const missing = [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((n) => ATTRIBUTE_VARIABLE.test(n) && attributes?.[n] === undefined))];
  if (missing.length) {
    throw new Error(`${name}: ${missing.map((u) => `{{${u}}}`).join(', ')} ${missing.length > 1 ? 'are attributes' : 'is an attribute'} of the machine's registry record, and ${Object.keys(attributes ?? {}).length ? `its record has only ${Object.keys(attributes!).join(', ')}` : 'this boot has none (they come with a network boot from the registry)'}; set ${missing.length > 1 ? 'them' : 'it'} (anemos machines set ID --attribute key=value).`);
  }
  return text.replace(PLACEHOLDER, (_, n: string) => (ATTRIBUTE_VARIABLE.test(n) ? attributes![n]! : vars[n as TemplateVariable]));
}

/** The deploy's values for templates: the first static (else any) address of each family. */
export function templateValues(net: NetworkConfig, o: {hostname: string; imgname: string; target: string; disk?: string}): Record<TemplateVariable, string> {
  const ifaces = Object.values(net.interfaces);
  const pick = (family: 4 | 6) => {
    const all = ifaces.flatMap((i) => i.addresses.filter((a) => a.family === family && !(family === 6 && a.address.toLowerCase().startsWith('fe80'))).map((a) => ({i, a})));
    return all.find((x) => !x.a.dynamic) ?? all[0];
  };
  const gateway = (family: 4 | 6) => ifaces.flatMap((i) => i.routes).find((r) => r.family === family && r.to === 'default')?.via ?? '';
  const v4 = pick(4);
  const v6 = pick(6);
  const short = o.hostname.split('.')[0]!;
  return {
    HOSTNAME: o.hostname,
    SHORT_HOSTNAME: short,
    DOMAIN: o.hostname.includes('.') ? o.hostname.slice(short.length + 1) : '',
    IPV4: v4?.a.address ?? '',
    IPV4_PREFIX: v4 ? String(v4.a.prefix) : '',
    IPV4_GATEWAY: gateway(4),
    IPV6: v6?.a.address ?? '',
    IPV6_PREFIX: v6 ? String(v6.a.prefix) : '',
    IPV6_GATEWAY: gateway(6),
    MAC: (v4 ?? v6)?.i.mac ?? ifaces[0]?.mac ?? '',
    DNS: net.dns.servers.join(' '),
    IMGNAME: o.imgname,
    TARGET: o.target,
    DISK: o.disk ?? '',
  };
}
