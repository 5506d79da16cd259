// The use case behind "anemos deploy" and "anemos test-boot": load config, probe the
// host, plan, confirm, execute. Commands only parse flags and render.

import {randomBytes} from 'node:crypto';
import {hostname, userInfo} from 'node:os';
import {gatherHostHardware, hostHardwareSources} from '../adapters/hardware-sources.js';
import {parseDmiUuid, type HardwareInventory} from '../core/inventory.js';
import type {MachineIdentity} from '../core/registry/lifecycle.js';
import {registryAccess, trustOf} from './registry/access.js';
import {checkRegistryUrl} from '../adapters/registry-client.js';
import {loadFromRegistry} from './registry/desired.js';
import {deploymentRecorder} from './registry/record.js';
import {existsSync} from 'node:fs';
import {loadConfig} from '../adapters/config-file.js';
import {operatorKeys} from '../adapters/host-facts.js';
import {runQemu} from '../adapters/qemu.js';
import {DEFAULT_CREDENTIAL, type Config} from '../core/config.js';
import {planQemuArgs, qemuFacts} from '../core/qemu-target.js';
import {fetchArtifact} from '../adapters/fetch.js';
import {gatherHostFacts} from '../adapters/host-facts.js';
import {commandLine, realRunner} from '../adapters/process.js';
import type {BootMode} from '../core/boot-contract.js';
import {BOOT_METHODS} from '../core/boot-methods/index.js';
import {hostFiles, localHost} from '../adapters/host-files.js';
import {draftDeploy, newDeploymentId, planDeploy, preflightError, type DeployPlan, type Phase} from '../core/deploy-plan.js';
import {renderPlan} from '../core/plan-render.js';
import {preconditionError, usageError} from '../shared/errors.js';
import type {ProgressSink} from '../shared/progress.js';
import {executeDeploy, type DeployRecorder, type DeployResult} from './deploy.js';
import {preparePayload} from './payload.js';

export interface QemuTarget {
  disk?: string;
  memoryMb: number;
  sshPort: number;
  accel: string;
}

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

export interface RunDeployOptions extends DeployRequest {
  /** Run the deploy environment in a local VM instead of on this host. */
  qemu?: QemuTarget;
}

export interface RunDeployOutcome {
  plan: DeployPlan;
  planText: string;
  dryRun: boolean;
  result?: DeployResult;
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

/** This machine as the registry knows machines: its DMI UUID, its NICs' own MACs, its name, and its inventory for an enrollment. */
async function thisMachine(): Promise<{identity: MachineIdentity; inventory: HardwareInventory}> {
  const inventory = gatherHostHardware();
  return {identity: {...(inventory.system.uuid ? {uuid: inventory.system.uuid} : {}), macs: inventory.nics.map((n) => n.mac), hostname: hostname()}, inventory};
}

/** The registry's record of a deploy on this host (config report:), with the credential found when it is recorded. */
export function localRecorder(o: DeployRequest, config: Config, plan: DeployPlan): DeployRecorder | undefined {
  const report = config.report;
  if (!report) return undefined;
  const trust = trustOf(report);
  return deploymentRecorder({
    plan,
    trust,
    who: `${userInfo().username}@${hostname()}`,
    uuid: parseDmiUuid(hostHardwareSources().read('/sys/class/dmi/id/product_uuid')),
    log: o.log,
    access: () => registryAccess({url: report.url, trust, operatorToken: o.registryToken, credentialPath: report.credential, enrollToken: report.enroll_token, files: hostFiles, identity: thisMachine, where: 'this machine', log: o.log}),
  });
}

export async function runDeploy(o: RunDeployOptions): Promise<RunDeployOutcome> {
  const fromRegistry = o.fromRegistry;
  // Before any credential is read: a registry that may not be trusted this way is refused first.
  if (fromRegistry) checkRegistryUrl(fromRegistry.url, trustOf(fromRegistry.trust), '--insecure-registry');
  const loaded = fromRegistry
    ? await loadFromRegistry(
        o.configPath,
        await registryAccess({url: fromRegistry.url, trust: trustOf(fromRegistry.trust), operatorToken: o.registryToken, credentialPath: DEFAULT_CREDENTIAL, files: hostFiles, identity: thisMachine, where: 'this machine', log: o.log}),
        fromRegistry.url,
        fromRegistry.trust,
        (await thisMachine()).identity.macs,
        o,
      )
    : await loadConfig(o.configPath, {allowUnverified: o.allowUnverified});
  const {config, check: payloadCheck} = await preparePayload(loaded, {mode: o.mode, dryRun: o.dryRun, cacheDir: loaded.cache_dir, log: o.log});
  if (o.qemu) return runInQemu(config, o, o.qemu);
  const facts = await gatherHostFacts(localHost, {firmware: Array.isArray(config.firmware) ? config.firmware : []});
  const plan = draftDeploy(config, facts, {mode: o.mode, phases: o.phases, allowUnverified: o.allowUnverified, cliVersion: o.cliVersion, installKexec: o.installKexec, deploymentId: newDeploymentId(new Date(), randomBytes(4).toString('hex')), payloadCheck});
  const planText = renderPlan(plan, previewCommands(plan, config.cache_dir, facts.kexec.systemd));
  // A dry run shows the plan with every problem; the caller reports them after it.
  if (o.dryRun) return {plan, planText, dryRun: true};
  const stop = preflightError(plan.problems);
  if (stop) throw stop;
  o.log(planText);
  const irreversible = plan.phases.includes('exec');
  if (irreversible && !o.yes) {
    const what = o.mode === 'deploy' ? `boot the deploy environment; the payload may erase ${plan.bootConfig.disk ?? 'disks'}` : 'boot the test environment (nothing is written to disks)';
    if (!(await o.confirm(`This will ${what}. Continue?`))) throw usageError('not-confirmed', 'Not confirmed; nothing was changed.', 'Pass --yes to skip the question.');
  }
  const registry = localRecorder(o, config, plan);
  const result = await executeDeploy(
    plan,
    facts,
    {runner: realRunner, fetch: fetchArtifact, files: hostFiles, progress: o.progress, log: o.log, now: () => performance.now(), ...(registry ? {registry} : {})},
    {cacheDir: config.cache_dir, allowUnverified: o.allowUnverified, baseDir: o.cwd},
  );
  return {plan, planText, dryRun: false, result};
}

/** --qemu: fetch and compose as usual, then boot the result in a local VM on this terminal. */
async function runInQemu(config: Config, o: RunDeployOptions, q: QemuTarget): Promise<RunDeployOutcome> {
  if (o.mode === 'deploy' && !q.disk) throw usageError('qemu-no-disk', 'deploy --qemu needs a disk image for the VM.', 'Create one (truncate -s 8G disk.img) and pass --disk disk.img.');
  if (q.disk && !existsSync(q.disk)) throw usageError('qemu-disk-missing', `The disk image ${q.disk} does not exist.`, `Create it: truncate -s 8G ${q.disk}`);
  const keys = config.access.ssh_authorized_keys === 'host' ? await operatorKeys() : config.access.ssh_authorized_keys;
  const facts = qemuFacts(config.hostname ?? 'anemos-qemu', keys, q.memoryMb);
  const planned = planDeploy({...config, network: 'auto', firmware: 'none', deploy: {...config.deploy, disk: '/dev/vda'}}, facts, {
    mode: o.mode,
    phases: ['fetch', 'compose'],
    allowUnverified: o.allowUnverified,
    cliVersion: o.cliVersion,
  });
  const plan = {...planned, output: planned.output.replace(/\.img$/, '-qemu.img')};
  const planText = renderPlan(plan, []);
  if (o.dryRun) return {plan, planText, dryRun: true};
  o.log(planText);
  const result = await executeDeploy(
    plan,
    facts,
    {runner: realRunner, fetch: fetchArtifact, files: hostFiles, progress: o.progress, log: o.log, now: () => performance.now()},
    {cacheDir: config.cache_dir, allowUnverified: o.allowUnverified, baseDir: o.cwd},
  );
  const kernel = result.artifacts.find((a) => a.name === 'kernel');
  if (!kernel) throw preconditionError('qemu-no-kernel', 'No kernel was fetched.', 'Check kernel.url in the config.');
  const args = planQemuArgs({kernel: kernel.path, initrd: plan.output, cmdline: plan.cmdline, memoryMb: q.memoryMb, sshPort: q.sshPort, disk: q.disk, accel: q.accel});
  o.log(`\nStarting the VM (the console follows; leave QEMU with Ctrl-A X). SSH: ssh -p ${q.sshPort} root@127.0.0.1\n$ ${commandLine('qemu-system-x86_64', args)}`);
  const t0 = performance.now();
  const code = await runQemu(args);
  result.timings.vm = (performance.now() - t0) / 1000;
  result.commands.push(commandLine('qemu-system-x86_64', args));
  o.log(`\nThe VM stopped (exit ${code}) after ${result.timings.vm.toFixed(1)} s.${q.disk && o.mode === 'deploy' ? ` Boot the result: qemu-system-x86_64 -m 1024 -nographic -drive file=${q.disk},format=raw,if=virtio` : ''}`);
  result.executed = true;
  return {plan, planText, dryRun: false, result};
}
