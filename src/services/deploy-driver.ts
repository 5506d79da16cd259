// The one deploy sequence, whatever starts it: load the config (or the registry's desired
// deployment over it), check and pack the payload, read the host's facts, plan, render;
// then, unless it is a dry run: stop on a problem, confirm, record, execute. The host
// itself, --host over SSH and --qemu differ only in the DeployTarget they hand in (and
// network boot will be one more).

import {randomBytes} from 'node:crypto';
import {hostname, userInfo} from 'node:os';
import {loadConfig} from '../adapters/config-file.js';
import {gatherHostFacts} from '../adapters/host-facts.js';
import type {Host} from '../adapters/host-files.js';
import {commandLine} from '../adapters/process.js';
import type {RegistryTrust} from '../adapters/registry-client.js';
import type {BootMode} from '../core/boot-contract.js';
import {BOOT_METHODS} from '../core/boot-methods/index.js';
import {DEFAULT_CREDENTIAL, type Config} from '../core/config.js';
import {draftDeploy, newDeploymentId, preflightError, type DeployPlan, type Phase} from '../core/deploy-plan.js';
import type {HostFacts} from '../core/host-facts.js';
import {parseDmiUuid, type HardwareInventory} from '../core/inventory.js';
import {renderPlan} from '../core/plan-render.js';
import type {MachineIdentity} from '../core/registry/lifecycle.js';
import {usageError} from '../shared/errors.js';
import type {ProgressSink} from '../shared/progress.js';
import {executeDeploy, type DeployDeps, type DeployResult} from './deploy.js';
import {readLiveImage} from './live.js';
import {preparePayload} from './payload.js';
import {registryAccess, trustOf, type RegistryAccess} from './registry/access.js';
import {loadFromRegistry} from './registry/desired.js';
import {deploymentRecorder} from './registry/record.js';

/** What every deploy is asked with, wherever it runs (here, --qemu, --host). */
export interface DeployRequest {
  configPath: string;
  mode: BootMode;
  phases: Phase[];
  dryRun: boolean;
  yes: boolean;
  allowUnverified: boolean;
  /** --install-kexec: install kexec-tools with the host's package manager when it has none. */
  installKexec?: boolean;
  /** --from-registry: the machine's desired deployment, from the registry, over the config file. */
  fromRegistry?: {url: string; trust: {fingerprint?: string; ca?: string; insecure?: boolean}};
  /** The operator's registry token (ANEMOS_REGISTRY_TOKEN or a token file), when given: used before the machine's own credential. */
  registryToken?: {token: string; source: string};
  cliVersion: string;
  cwd: string;
  progress: ProgressSink;
  log: (line: string) => void;
  confirm: (question: string) => Promise<boolean>;
}

/** Where a deploy runs, and what differs there: the only thing a way of starting a deploy hands in. */
export interface DeployTarget {
  /** The machine's commands and files (this one, or over SSH). */
  host: Host;
  /** The machine as the registry knows machines: DMI UUID, its NICs' own MACs, its name (and its inventory for an enrollment). */
  identity: () => Promise<{identity: MachineIdentity; inventory?: HardwareInventory}>;
  /** Where a payload directory is packed (it is checked and packed where anemos runs). */
  payloadCache: (config: Config) => string;
  /** The facts to plan with: read from the host, unless the target knows them (a VM planned here). */
  facts?: (config: Config) => Promise<HostFacts>;
  /** Whether the registry (config report:) records this deploy; not for a VM tried here, which is not the machine. */
  recorded?: boolean;
  /** Keys to let into the deploy environment beyond root's (the SSH user's). */
  extraAuthorizedKeys?: () => Promise<string[]>;
  /** The config as this target takes it (a VM: its own disk and network). */
  config?: (config: Config) => Config;
  /** The plan as this target takes it (a driver that follows: watch_seconds). */
  plan?: (plan: DeployPlan) => DeployPlan;
  /** Before the plan, in its text ("Host: root@web1"). */
  label?: string;
  /** Commands for --dry-run and the confirmation; none for a VM, which runs no boot method. */
  previewCommands: boolean;
  /** How the executor reaches the host, beside the progress and log every deploy has. */
  executor: () => Omit<DeployDeps, 'progress' | 'log' | 'now' | 'registry'>;
}

export interface PreparedDeploy {
  config: Config;
  facts: HostFacts;
  plan: DeployPlan;
  planText: string;
  /** The registry as this target reaches it, for the record of this deploy. */
  access: (url: string, trust: RegistryTrust, credentialPath: string, enrollToken?: string) => Promise<RegistryAccess | undefined>;
}

/** Commands with placeholders for the cached paths, for --dry-run and the confirmation. */
export function previewCommands(plan: DeployPlan, cacheDir: string, systemd: boolean): string[] {
  const kernel = plan.artifacts.find((a) => a.name === 'kernel');
  const kernelPath = kernel?.sha256 ? `${cacheDir}/sha256/${kernel.sha256}` : `${cacheDir}/sha256/<sha256 of kernel>`;
  const method = BOOT_METHODS[plan.method];
  const argvs = [
    ...(plan.phases.includes('load') ? plan.setup : []),
    ...(plan.phases.includes('load') ? method.load(plan, {kernel: kernelPath, initramfs: plan.output}) : []),
    ...(plan.phases.includes('exec') ? [method.exec(systemd)] : []),
  ];
  return argvs.map((a) => commandLine(a[0], a.slice(1)));
}

/** Load, check, read the facts, plan and render: everything a dry run shows, nothing changed. */
export async function prepareDeploy(o: DeployRequest, t: DeployTarget): Promise<PreparedDeploy> {
  // The target's own credential (or an enrollment) is read and written on the target.
  const access: PreparedDeploy['access'] = (url, trust, credentialPath, enrollToken) =>
    registryAccess({url, trust, operatorToken: o.registryToken, credentialPath, enrollToken, files: t.host.files, identity: t.identity, where: t.host.name, log: o.log});
  const fr = o.fromRegistry;
  const loaded = fr
    ? await loadFromRegistry(o.configPath, await access(fr.url, trustOf(fr.trust), DEFAULT_CREDENTIAL), fr.url, fr.trust, (await t.identity()).identity.macs, o)
    : await loadConfig(o.configPath, {allowUnverified: o.allowUnverified});
  const prepared = await preparePayload(loaded, {mode: o.mode, dryRun: o.dryRun, cacheDir: t.payloadCache(loaded), log: o.log});
  const config = t.config ? t.config(prepared.config) : prepared.config;
  const facts = t.facts
    ? await t.facts(config)
    : await gatherHostFacts(t.host, {firmware: Array.isArray(config.firmware) ? config.firmware : [], extraAuthorizedKeys: (await t.extraAuthorizedKeys?.()) ?? []});
  const draft = draftDeploy(config, facts, {
    mode: o.mode,
    phases: o.phases,
    allowUnverified: o.allowUnverified,
    cliVersion: o.cliVersion,
    installKexec: o.installKexec,
    deploymentId: newDeploymentId(new Date(), randomBytes(4).toString('hex')),
    payloadCheck: prepared.check,
    ...(config.live ? {live: readLiveImage(config.live.image)} : {}),
  });
  const plan = t.plan ? t.plan(draft) : draft;
  const rendered = renderPlan(plan, t.previewCommands ? previewCommands(plan, config.cache_dir, facts.kexec.systemd) : []);
  return {config, facts, plan, planText: t.label ? `${t.label}\n${rendered}` : rendered, access};
}

/** Stop on any problem of the plan, show it, and ask (unless --yes) before anything irreversible. */
export async function confirmDeploy(p: PreparedDeploy, o: DeployRequest, where: string): Promise<void> {
  const stop = preflightError(p.plan.problems);
  if (stop) throw stop;
  o.log(p.planText);
  if (!p.plan.phases.includes('exec') || o.yes) return;
  const what = o.mode === 'deploy' ? `boot ${where} into the deploy environment; the payload may erase ${p.plan.bootConfig.disk ?? 'disks'}` : `boot ${where} into the test environment (nothing is written to disks)`;
  if (!(await o.confirm(`This will ${what}. Continue?`))) throw usageError('not-confirmed', 'Not confirmed; nothing was changed.', 'Pass --yes to skip the question.');
}

/** Record (config report:), then fetch, compose, load and hand over, through the target's executor. */
export async function executePrepared(p: PreparedDeploy, o: DeployRequest, t: DeployTarget): Promise<DeployResult> {
  const report = t.recorded === false ? undefined : p.config.report;
  const trust = report ? trustOf(report) : {};
  const registry = report
    ? deploymentRecorder({
        plan: p.plan,
        trust,
        who: `${userInfo().username}@${hostname()}`,
        uuid: parseDmiUuid(await t.host.files.read('/sys/class/dmi/id/product_uuid')),
        log: o.log,
        access: () => p.access(report.url, trust, report.credential, report.enroll_token),
      })
    : undefined;
  return executeDeploy(
    p.plan,
    p.facts,
    {...t.executor(), progress: o.progress, log: o.log, now: () => performance.now(), ...(registry ? {registry} : {})},
    {cacheDir: p.config.cache_dir, allowUnverified: o.allowUnverified, baseDir: o.cwd},
  );
}
