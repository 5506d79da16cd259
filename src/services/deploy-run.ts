// The use case behind "anemos deploy" and "anemos test-boot": load config, probe the
// host, plan, confirm, execute. Commands only parse flags and render.

import {loadConfig} from '../adapters/config-file.js';
import {fetchArtifact} from '../adapters/fetch.js';
import {gatherHostFacts} from '../adapters/host-facts.js';
import {commandLine, realRunner} from '../adapters/process.js';
import type {BootMode} from '../core/boot-contract.js';
import {planExecCommand, planLoadCommands} from '../core/boot-commands.js';
import {planDeploy, type DeployPlan, type Phase} from '../core/deploy-plan.js';
import type {NetworkConfig} from '../core/network.js';
import {renderPlan} from '../core/plan-render.js';
import {usageError} from '../shared/errors.js';
import type {ProgressSink} from '../shared/progress.js';
import {detachCommand, executeDeploy, type DeployResult} from './deploy.js';

export interface RunDeployOptions {
  configPath: string;
  mode: BootMode;
  phases: Phase[];
  dryRun: boolean;
  yes: boolean;
  allowUnverified: boolean;
  cliVersion: string;
  cwd: string;
  progress: ProgressSink;
  log: (line: string) => void;
  confirm: (question: string) => Promise<boolean>;
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
  const argvs = [
    ...(plan.phases.includes('load') ? planLoadCommands(plan, {kernel: kernelPath, initramfs: plan.output}) : []),
    ...(plan.phases.includes('exec') ? [planExecCommand(plan, systemd)] : []),
  ];
  return argvs.map((a) => commandLine(a[0], a.slice(1)));
}

export async function runDeploy(o: RunDeployOptions): Promise<RunDeployOutcome> {
  const config = await loadConfig(o.configPath);
  const facts = await gatherHostFacts(realRunner);
  const plan = planDeploy(config, facts, {
    mode: o.mode,
    phases: o.phases,
    allowUnverified: o.allowUnverified,
    cliVersion: o.cliVersion,
    ...(config.network !== 'auto' ? {network: config.network as unknown as NetworkConfig} : {}),
  });
  const planText = renderPlan(plan, previewCommands(plan, config.cache_dir, facts.kexec.systemd));
  if (o.dryRun) return {plan, planText, dryRun: true};
  o.log(planText);
  const irreversible = plan.phases.includes('exec');
  if (irreversible && !o.yes) {
    const what = o.mode === 'deploy' ? `boot the deploy environment; the payload may erase ${plan.bootConfig.disk ?? 'disks'}` : 'boot the test environment (nothing is written to disks)';
    if (!(await o.confirm(`This will ${what}. Continue?`))) throw usageError('not-confirmed', 'Not confirmed; nothing was changed.', 'Pass --yes to skip the question.');
  }
  const result = await executeDeploy(
    plan,
    facts,
    {runner: realRunner, fetch: fetchArtifact, progress: o.progress, log: o.log, detach: detachCommand, now: () => performance.now()},
    {cacheDir: config.cache_dir, allowUnverified: o.allowUnverified, baseDir: o.cwd},
  );
  return {plan, planText, dryRun: false, result};
}
