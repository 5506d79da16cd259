// facts + config → plan, purely. Every precondition that can be judged before a single
// byte is downloaded is judged here, all at once; the ones that need artifact sizes
// (RAM) are judged by checkMemory after the fetch phase. The executor walks the plan.

import type {AgentMode, BootConfig, BootMode} from './boot-contract.js';
import {liveBoot, type ChainProblem, type LiveImage} from './live/image.js';
import {EVERY_BOOT_METHODS} from './boot-methods/grub-live.js';
import {KERNEL_KEYS, payloadFileName, RAM_KEEP_KIB} from './boot-contract.js';
import type {ArtifactRef, Config} from './config.js';
import {missingChecksums} from './config.js';
import {registryUrlProblem} from './registry/trust.js';
import type {HostFacts} from './host-facts.js';
import {diskLayout} from './imgbuild-plan.js';
import {formatSize} from './inventory.js';
import type {PayloadFindings} from './payload-check.js';
import {BOOT_METHOD_NAMES, BOOT_METHODS, type BootMethodName, type PreflightProblem} from './boot-methods/index.js';
import {carriedKernelArgs, droppedKernelArgs} from './kernel-args.js';
import {installKexecCommands} from './install-kexec.js';
import {chooseKeeper, describeKeeper} from './last-deploy.js';
import {checkNetworkUsable, type NetworkConfig} from './network.js';
import {AnemosError} from '../shared/errors.js';

export const PHASES = ['fetch', 'compose', 'load', 'exec'] as const;
export type Phase = (typeof PHASES)[number];

export interface PlannedArtifact extends ArtifactRef {
  name: 'kernel' | 'initramfs' | 'payload';
  verified: boolean;
}

export interface DeployPlan {
  mode: BootMode;
  method: BootMethodName;
  phases: Phase[];
  artifacts: PlannedArtifact[];
  network: NetworkConfig;
  cmdline: string;
  bootConfig: BootConfig;
  authorizedKeys: string[];
  hostKeys: Record<string, string>;
  firmware: {path: string; size: number}[];
  /** kexec_file_load (-s): required under lockdown, verifies the kernel's signature. */
  kexecFileLoad: boolean;
  delaySeconds: number;
  /** Where the final initramfs is written. */
  output: string;
  workDir: string;
  warnings: string[];
  /** Where a failure's outcome outlives the reboot, in words (anemos status reads it). */
  keeper: string;
  /** Commands run on the host before the load phase: kexec-tools with --install-kexec. */
  setup: string[][];
  /** What stops this plan before anything changes; empty for a plan that may run. */
  problems: PreflightProblem[];
  /**
   * The registry (config report:) that records this deployment before the deploy
   * environment is composed: its token for this deployment goes into config.json then.
   */
  registry?: {url: string; deployment: string};
  /** live: in the config: the image booted into RAM instead of a payload (its layers fetched like artifacts). */
  live?: LiveImage;
}

export type {PreflightProblem};

export interface PlanOptions {
  mode: BootMode;
  phases: Phase[];
  allowUnverified: boolean;
  cliVersion: string;
  /** --install-kexec: a host without kexec-tools gets it from its package manager, before the load. */
  installKexec?: boolean;
  /** This deploy's id in the registry (config report:); made by the caller (newDeploymentId). */
  deploymentId?: string;
  /** What checking the payload found before anything changes (a directory or a file on this machine); undefined for a URL, checked once downloaded. */
  payloadCheck?: PayloadFindings;
  /** live: in the config, its chain as read from the manifests (services/live.ts). */
  live?: {image?: LiveImage; problem?: ChainProblem};
}

/** The target disk and the payload against what this host has: deploy.disk must be a whole disk here, large enough for an IMGBUILD's layout. */
export function diskProblems(disk: string | undefined, facts: HostFacts, payload: PayloadFindings | undefined): {problems: PreflightProblem[]; warnings: string[]} {
  const problems: PreflightProblem[] = [];
  const warnings: string[] = [];
  const spec = payload?.imgbuild;
  if (spec?.format.kind === 'raw' && !disk) {
    problems.push({code: 'imgbuild-no-disk', message: `The IMGBUILD "${spec.imgname}" has format raw, which partitions a disk, and deploy.disk is not set.`, hint: `Set deploy.disk in anemos.conf to the disk to write (${facts.disks?.length ? `this host has ${facts.disks.map((d) => `/dev/${d.name}`).join(', ')}` : 'lsblk -d lists them'}).`});
  }
  if (!disk || !facts.disks) return {problems, warnings};
  const name = /^\/dev\/([^/]+)$/.exec(disk)?.[1];
  if (!name) {
    warnings.push(`deploy.disk ${disk} is a link: it is found in the deploy environment, not checked here.`);
    return {problems, warnings};
  }
  const listed = facts.disks.map((d) => `/dev/${d.name} (${formatSize(d.sizeBytes)})`).join(', ') || 'none';
  const whole = facts.disks.find((d) => d.name === name);
  const parent = facts.disks.find((d) => d.partitions.includes(name));
  if (parent) problems.push({code: 'disk-is-partition', message: `deploy.disk is ${disk}, a partition of /dev/${parent.name}, not a disk.`, hint: `Name the whole disk (deploy.disk: /dev/${parent.name}): the payload partitions it.`});
  else if (!whole) problems.push({code: 'disk-missing', message: `deploy.disk is ${disk}, and there is no such disk (disks: ${listed}).`, hint: 'Set deploy.disk to one of them (lsblk -d lists them); the deploy environment names them as this system does.'});
  const layout = whole && spec ? diskLayout(spec, facts.platform?.uefi ?? false) : undefined;
  if (whole && layout && whole.sizeBytes < layout.minBytes) {
    problems.push({code: 'disk-too-small', message: `${disk} has ${formatSize(whole.sizeBytes)}, and the IMGBUILD's format needs at least ${formatSize(layout.minBytes)}.`, hint: 'Use a smaller size in the IMGBUILD\'s format, or "max" (the rest of the disk).'});
  }
  return {problems, warnings};
}

/** The payload's own errors, found before the reboot, as one problem. */
function payloadProblem(url: string, check: PayloadFindings | undefined): PreflightProblem | undefined {
  if (!check?.errors.length) return undefined;
  return {code: 'payload-invalid', message: `The payload ${url} is not valid: ${check.errors.map((e) => e.replace(/\.$/, '')).join('; ')}.`, hint: `Fix it ("anemos payload check ${url}" shows the same list).`};
}

/** A deployment's id: when it started, and a random part (the caller's clock and randomness). */
export function newDeploymentId(now: Date, random: string): string {
  return `dep-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${random}`;
}

const DEFAULT_CONSOLES = ['console=tty0', 'console=ttyS0,115200'];

/** The deploy kernel's command line: the host's consoles, then ours, then the user's. */
export function planCmdline(hostCmdline: string, mode: AgentMode, extra: string): string {
  const consoles = carriedKernelArgs(hostCmdline);
  // panic=10: a kernel panic in the deploy environment reboots into the old system.
  // rootfstype=ramfs: without it the initramfs unpacks into a tmpfs capped at half the RAM,
  // and the 137 MiB base does not fit below ~384 MiB (bench/deploy-env.ts: 288 MiB with it).
  return [...(consoles.length ? consoles : DEFAULT_CONSOLES), `${KERNEL_KEYS.mode}=${mode}`, 'panic=10', 'rootfstype=ramfs', ...extra.split(/\s+/).filter(Boolean)].join(' ');
}

/** Firmware paths from the config: relative to /lib/firmware, or absolute below it; undefined for anything else. */
export function firmwarePath(p: string): string | undefined {
  const rel = p.startsWith('/lib/firmware/') ? p.slice('/lib/firmware/'.length) : p;
  return rel && !rel.startsWith('/') && !rel.split('/').includes('..') ? rel : undefined;
}

/** A method's description without its parenthesis: "a one-shot GRUB entry". */
const shortDescription = (name: BootMethodName) => BOOT_METHODS[name].description.replace(/ \(.*\)$/, '');
const capitalized = (s: string) => `${s[0]!.toUpperCase()}${s.slice(1)}`;

/** The plan and everything that stops it, without throwing: --dry-run shows both. */
export function draftDeploy(config: Config, facts: HostFacts, opts: PlanOptions): DeployPlan {
  const problems: PreflightProblem[] = [];
  const warnings: string[] = [];
  const need = (code: string, message: string, hint: string) => problems.push({code, message, hint});
  const willBoot = opts.phases.includes('load') || opts.phases.includes('exec');

  if (!facts.isRoot && willBoot) need('not-root', 'anemos deploy must run as root to load a kernel.', 'Run it with sudo, or as root.');

  const missing = missingChecksums(config);
  if (missing.length && !opts.allowUnverified) need('missing-sha256', `No sha256 for ${missing.join(', ')}.`, 'Add the sha256 of each file to anemos.conf, or pass --allow-unverified.');
  if (missing.length && opts.allowUnverified) warnings.push(`UNVERIFIED downloads allowed for ${missing.join(', ')}: anything on the way can replace them.`);
  if (config.report) {
    const r = config.report;
    const bad = registryUrlProblem(r.url, {...(r.fingerprint ? {pin: r.fingerprint} : {}), ...(r.ca ? {ca: r.ca} : {}), insecure: r.insecure}, 'report.insecure: true in anemos.conf');
    if (bad) need(bad.code, bad.message, bad.hint);
  }
  if (opts.mode === 'deploy' && config.payload) {
    const bad = payloadProblem(config.payload.url, opts.payloadCheck);
    if (bad) problems.push(bad);
    const disk = diskProblems(config.deploy.disk, facts, opts.payloadCheck);
    problems.push(...disk.problems);
    warnings.push(...disk.warnings);
  }
  const live = opts.mode === 'deploy' && config.live ? opts.live : undefined;
  if (live?.problem) problems.push(live.problem);
  if (opts.mode === 'deploy' && config.live && !opts.live) need('live-unread', 'live: names an image, and its layers were not read.', 'This is a bug of anemos: report it.');
  if (live && config.report) need('live-report', 'live: with report: is not supported yet: the registry records a live boot when it boots the machine itself (network boot).', 'Remove report: to boot this host live by kexec.');
  const agentMode: AgentMode = live ? 'live' : opts.mode;
  if (opts.mode === 'deploy' && !config.payload && !config.live) need('no-payload', 'deploy mode needs a payload, and anemos.conf has none.', 'Add "payload: {url, sha256}" (anemos payload pack prints it), or use "anemos test-boot".');

  // Boot method: the one asked for, or with "auto" the first of the table's order that can work here.
  let candidates: BootMethodName[] = config.boot.method === 'auto' ? [...BOOT_METHOD_NAMES] : [config.boot.method];
  // live.every_boot: the image from this disk at every boot, through GRUB's default entry.
  if (live && config.live?.everyBoot) {
    if (!EVERY_BOOT_METHODS.includes(config.boot.method)) need('live-every-boot-kexec', `live.every_boot boots the image from this disk through GRUB at every boot, and boot.method is ${config.boot.method}.`, 'Set boot.method to auto (or bootloader), or remove live.every_boot to boot the image once by kexec.');
    candidates = ['live-disk'];
    warnings.push('live.every_boot: from now on every boot of this host runs the image (GRUB\'s default entry, in /boot/grub/custom.cfg). On the live system, anemos-boot-os makes the next boot the installed system, once; there, anemos live remove takes the entry out.');
  }

  // --install-kexec: kexec-tools is planned as present, and installed before the load.
  let setup: string[][] = [];
  if (opts.installKexec && !facts.kexec.tool && candidates.some((n) => BOOT_METHODS[n].installable === 'kexec-tools')) {
    const commands = facts.os ? installKexecCommands(facts.os) : undefined;
    if (!commands) need('kexec-install-unknown', `--install-kexec: no package manager known for this host (/etc/os-release ID "${facts.os?.id ?? ''}").`, 'Install kexec-tools yourself, or drop --install-kexec to use the one-shot GRUB entry (boot.method: auto).');
    else {
      setup = commands;
      facts = {...facts, kexec: {...facts.kexec, tool: 'kexec'}};
      warnings.push(`kexec-tools is not installed: --install-kexec installs it (${commands.at(-1)!.join(' ')}) after the downloads are verified, before the load.`);
    }
  }

  const refusals = willBoot ? candidates.map((name) => ({name, problem: BOOT_METHODS[name].problem(facts)})) : [];
  const usable = willBoot ? refusals.find((r) => !r.problem) : undefined;
  let method: BootMethodName = usable?.name ?? candidates[0]!;
  if (willBoot && !usable) {
    refusals.forEach((r, i) => problems.push(i === 0 ? r.problem! : {...r.problem!, message: `${capitalized(shortDescription(r.name))} cannot be used either: ${r.problem!.message}`}));
  } else if (usable && usable.name !== candidates[0]) {
    const first = refusals[0]!;
    warnings.push(`${first.name} is not usable (${first.problem!.message.replace(/\.$/, '')}); using ${shortDescription(usable.name)} instead.`);
    method = usable.name;
  }
  const kexecFileLoad = facts.kexec.lockdown === 'integrity';
  warnings.push(...BOOT_METHODS[method].notes(facts, {cmdline: '', kexecFileLoad}));
  const dropped = droppedKernelArgs(facts.cmdline);
  if (dropped.length) warnings.push(`Kernel arguments not carried over (characters a bootloader configuration cannot hold safely): ${dropped.join(' ')}.`);

  // Network.
  let network: NetworkConfig | undefined = config.network !== 'auto' ? config.network : undefined;
  if (!network) {
    if (facts.network.ok) network = facts.network.config;
    else need(facts.network.code, facts.network.message, facts.network.hint ?? 'Set "network:" explicitly in anemos.conf.');
  }
  if (network) {
    for (const p of checkNetworkUsable(network)) need('network-unusable', `The network to carry over is unusable: ${p}.`, 'Check "anemos network detect", or set "network:" explicitly in anemos.conf.');
    for (const s of network.skipped) warnings.push(`Network: ${s.name} is not carried into the deploy environment (${s.reason}).`);
  }

  // Access.
  const authorizedKeys = config.access.ssh_authorized_keys === 'host' ? facts.ssh.authorizedKeys : config.access.ssh_authorized_keys;
  if (!authorizedKeys.length) {
    need('no-ssh-keys', "Nobody could log in to the deploy environment: root has no authorized_keys and anemos.conf lists none.", 'Add keys to access.ssh_authorized_keys (or to /root/.ssh/authorized_keys).');
  }
  const hostKeys = config.access.host_keys === 'carry' ? facts.ssh.hostKeys : {};
  if (config.access.host_keys === 'carry' && !Object.keys(hostKeys).length) warnings.push('No SSH host keys found to carry: the deploy environment gets new ones (known_hosts will complain).');

  // Firmware: each listed file must exist now, with its size (compose writes it as it is).
  let firmware: DeployPlan['firmware'] = [];
  if (config.firmware === 'auto') firmware = facts.firmware;
  else if (config.firmware !== 'none') {
    for (const p of config.firmware) {
      const rel = firmwarePath(p);
      const size = rel !== undefined ? facts.firmwareFiles?.[rel] : undefined;
      if (rel === undefined) need('firmware-path', `firmware lists "${p}", which is not a path below /lib/firmware.`, 'List firmware files relative to /lib/firmware (e.g. rtl_nic/rtl8168h-2.fw).');
      else if (size === undefined || size === null) need('firmware-missing', `firmware lists ${rel}, but /lib/firmware/${rel} does not exist on this host.`, 'Install the package that provides it, or remove it from firmware: in anemos.conf.');
      else firmware.push({path: rel, size});
    }
  }

  const artifacts: PlannedArtifact[] = (['kernel', 'initramfs', 'payload'] as const).flatMap((name) => {
    const a = config[name];
    if (!a || (name === 'payload' && opts.mode === 'test')) return [];
    return [{name, url: a.url, ...(a.sha256 ? {sha256: a.sha256} : {}), ...(a.dir ? {dir: true as const} : {}), verified: Boolean(a.sha256)}];
  });
  const hostname = config.hostname ?? facts.hostname;
  const payload = opts.mode === 'deploy' && config.payload ? {file: payloadFileName(config.payload.url), sha256: config.payload.sha256 ?? ''} : undefined;
  const workDir = `${config.cache_dir}/work`;
  const keeper = chooseKeeper({efi: facts.pstore?.efi ?? false, ...(facts.pstore?.ramoops ? {ramoops: facts.pstore.ramoops} : {}), cmdline: facts.cmdline});
  // ramoops' parameters (and the memory set aside for it) go to the deploy kernel, which
  // then dumps its log into the same memory at the reboot; the user's arguments come last.
  const extra = [...(keeper.kind === 'ramoops' ? keeper.args : []), config.cmdline].join(' ');
  return {
    mode: opts.mode,
    method,
    phases: opts.phases,
    artifacts,
    network: {...(network ?? {version: 1, interfaces: {}, dns: {servers: [], search: []}, skipped: []}), hostname},
    cmdline: planCmdline(facts.cmdline, agentMode, extra),
    bootConfig: {...bootConfigOf(config, {mode: agentMode, cliVersion: opts.cliVersion, hostname, payload}), ...(live?.image ? {live: liveBoot(live.image, config.live!)} : {})},
    authorizedKeys,
    hostKeys,
    firmware,
    kexecFileLoad,
    delaySeconds: config.boot.delay,
    output: `${workDir}/initramfs-${opts.mode}.img`,
    workDir,
    warnings,
    keeper: describeKeeper(keeper),
    setup,
    problems,
    ...(config.report && opts.deploymentId ? {registry: {url: config.report.url, deployment: opts.deploymentId}} : {}),
    ...(live?.image ? {live: live.image} : {}),
  };
}

/**
 * config.json from a config: what the deploy environment does. One function for every way a
 * deploy starts (the host's plan here, a network boot in services/netboot), so that a
 * record gives the same config.json whichever way its machine boots.
 */
export function bootConfigOf(config: Config, o: {mode: AgentMode; cliVersion: string; hostname: string; payload?: {file: string; sha256: string}}): BootConfig {
  return {
    version: 1,
    mode: o.mode,
    cli_version: o.cliVersion,
    hostname: o.hostname,
    ...(o.payload ? {payload: o.payload} : {}),
    ...(config.deploy.disk ? {disk: config.deploy.disk} : {}),
    on_failure: config.deploy.on_failure,
    timeout: config.deploy.timeout,
    network_timeout: config.deploy.network_timeout,
    ...(config.deploy.check_url ? {check_url: config.deploy.check_url} : {}),
  };
}

/** One precondition error naming every problem of a plan, or undefined when there is none. */
export function preflightError(problems: PreflightProblem[]): AnemosError | undefined {
  if (!problems.length) return undefined;
  return new AnemosError('precondition', problems.length === 1 ? problems[0].code : 'preflight', problems.length === 1 ? problems[0].message : `${problems.length} problems stop this deploy before anything changes.`, {
    hint: problems.length === 1 ? problems[0].hint : 'Fix each one; nothing was changed on this host.',
    details: problems.length === 1 ? [] : problems.map((p) => `${p.message} — ${p.hint}`),
  });
}

/** The plan, or a precondition error naming every problem at once. */
export function planDeploy(config: Config, facts: HostFacts, opts: PlanOptions): DeployPlan {
  const plan = draftDeploy(config, facts, opts);
  const err = preflightError(plan.problems);
  if (err) throw err;
  return plan;
}

/**
 * The deploy environment lives in RAM: the unpacked initramfs, the page cache of what
 * it downloads and the agent (QuickJS) itself. Loading also needs kernel + initramfs in
 * free memory now.
 */
export function checkMemory(facts: HostFacts, sizes: {kernel: number; initramfs: number; unpacked: number; payloadUnpacked?: number}): string | undefined {
  const MiB = 1048576;
  // The agent on QuickJS, dropbear and the tools at work, plus the payload's own working
  // memory. bench/deploy-env.ts finds the smallest -m at which a tiny payload completes
  // (112 MiB since /usr is a squashfs image; 160 before). The same figure a payload leaves
  // free when it holds a download in RAM (payloads/image streams an image that does not fit).
  const runtime = RAM_KEEP_KIB * 1024;
  const needTotal = sizes.unpacked + sizes.initramfs + sizes.kernel + runtime;
  if (facts.memory.totalBytes < needTotal) {
    return `This machine has ${Math.round(facts.memory.totalBytes / MiB)} MiB of RAM; the deploy environment needs about ${Math.round(needTotal / MiB)} MiB (${Math.round(sizes.unpacked / MiB)} MiB unpacked initramfs + ${Math.round(runtime / MiB)} MiB to run).`;
  }
  // The payload is unpacked into /run, a tmpfs the kernel caps at half the RAM, beside the
  // agent's own log (which keeps 512 KiB in reserve there).
  const runCap = facts.memory.totalBytes / 2 - 4 * MiB;
  if (sizes.payloadUnpacked && sizes.payloadUnpacked > runCap) {
    return `The payload unpacks to about ${Math.round(sizes.payloadUnpacked / MiB)} MiB in /run, which the deploy environment's kernel caps at half this machine's RAM (${Math.round(runCap / MiB)} MiB here).`;
  }
  const needNow = sizes.kernel + sizes.initramfs + 32 * MiB;
  if (facts.memory.availableBytes < needNow) {
    return `Only ${Math.round(facts.memory.availableBytes / MiB)} MiB of RAM are free; loading the deploy kernel needs ${Math.round(needNow / MiB)} MiB now.`;
  }
  return undefined;
}
