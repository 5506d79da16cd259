// The use case behind "anemos deploy" and "anemos test-boot": load config, probe the
// host, plan, confirm, execute. Commands only parse flags and render.

import {hostname} from 'node:os';
import {gatherHostHardware} from '../adapters/hardware-sources.js';
import type {HardwareInventory} from '../core/inventory.js';
import type {MachineIdentity} from '../core/registry/lifecycle.js';
import {trustOf} from './registry/access.js';
import {checkRegistryUrl} from '../adapters/registry-client.js';
import {existsSync} from 'node:fs';
import {operatorKeys} from '../adapters/host-facts.js';
import {runQemu} from '../adapters/qemu.js';
import {planQemuArgs, qemuFacts} from '../core/qemu-target.js';
import {fetchArtifact} from '../adapters/fetch.js';
import {commandLine, realRunner} from '../adapters/process.js';
import {hostFiles, localHost} from '../adapters/host-files.js';
import type {DeployPlan} from '../core/deploy-plan.js';
import {preconditionError, usageError} from '../shared/errors.js';
import type {DeployResult} from './deploy.js';
import {confirmDeploy, executePrepared, prepareDeploy, type DeployRequest, type DeployTarget} from './deploy-driver.js';

export type {DeployRequest};

export interface QemuTarget {
  disk?: string;
  memoryMb: number;
  sshPort: number;
  accel: string;
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

/** This machine as the registry knows machines: its DMI UUID, its NICs' own MACs, its name, and its inventory for an enrollment. */
async function thisMachine(): Promise<{identity: MachineIdentity; inventory: HardwareInventory}> {
  const inventory = gatherHostHardware();
  return {identity: {...(inventory.system.uuid ? {uuid: inventory.system.uuid} : {}), macs: inventory.nics.map((n) => n.mac), hostname: hostname()}, inventory};
}

/** This machine, as the deploy driver's target: its own commands and files. */
const thisHost: DeployTarget = {
  host: localHost,
  identity: thisMachine,
  payloadCache: (config) => config.cache_dir,
  previewCommands: true,
  executor: () => ({runner: realRunner, fetch: fetchArtifact, files: hostFiles}),
};

export async function runDeploy(o: RunDeployOptions): Promise<RunDeployOutcome> {
  // Before any credential is read: a registry that may not be trusted this way is refused first.
  if (o.fromRegistry) checkRegistryUrl(o.fromRegistry.url, trustOf(o.fromRegistry.trust), '--insecure-registry');
  if (o.qemu) return runInQemu(o, o.qemu);
  const prepared = await prepareDeploy(o, thisHost);
  // A dry run shows the plan with every problem; the caller reports them after it.
  if (o.dryRun) return {plan: prepared.plan, planText: prepared.planText, dryRun: true};
  await confirmDeploy(prepared, o, 'this host');
  return {plan: prepared.plan, planText: prepared.planText, dryRun: false, result: await executePrepared(prepared, o, thisHost)};
}

/** --qemu: fetch and compose as usual, then boot the result in a local VM on this terminal. */
async function runInQemu(o: RunDeployOptions, q: QemuTarget): Promise<RunDeployOutcome> {
  if (o.mode === 'deploy' && !q.disk) throw usageError('qemu-no-disk', 'deploy --qemu needs a disk image for the VM.', 'Create one (truncate -s 8G disk.img) and pass --disk disk.img.');
  if (q.disk && !existsSync(q.disk)) throw usageError('qemu-disk-missing', `The disk image ${q.disk} does not exist.`, `Create it: truncate -s 8G ${q.disk}`);
  // A VM planned here: its facts are known, its disk is /dev/vda, its network QEMU's; the
  // deploy stops after compose, and the registry is not told (the VM is not the machine).
  const vm: DeployTarget = {
    ...thisHost,
    config: (config) => ({...config, network: 'auto', firmware: 'none', deploy: {...config.deploy, disk: '/dev/vda'}}),
    facts: async (config) => qemuFacts(config.hostname ?? 'anemos-qemu', config.access.ssh_authorized_keys === 'host' ? await operatorKeys() : config.access.ssh_authorized_keys, q.memoryMb),
    plan: ({registry: _, ...plan}) => ({...plan, output: plan.output.replace(/\.img$/, '-qemu.img')}),
    recorded: false,
    previewCommands: false,
  };
  const request = {...o, phases: ['fetch', 'compose'] as DeployPlan['phases']};
  const prepared = await prepareDeploy(request, vm);
  const {plan, planText} = prepared;
  if (o.dryRun) return {plan, planText, dryRun: true};
  // Nothing on this machine changes (fetch and compose only): no question asked.
  await confirmDeploy(prepared, {...request, yes: true}, 'the VM');
  const result = await executePrepared(prepared, request, vm);
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
