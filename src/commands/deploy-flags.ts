// Flags and the shared run of "deploy" and "test-boot" (they differ only in mode).
import {createInterface} from 'node:readline/promises';
import {Flags} from '@oclif/core';
import {DEFAULT_CONFIG_PATH} from '../adapters/config-file.js';
import type {BootMode} from '../core/boot-contract.js';
import {PHASES, type Phase} from '../core/deploy-plan.js';
import {runDeploy} from '../services/deploy-run.js';
import {preflightError} from '../core/deploy-plan.js';
import {AnemosError, usageError} from '../shared/errors.js';
import {makeProgress} from '../shared/progress.js';
import type {BaseCommand} from './base.js';

export const deployFlags = {
  config: Flags.string({char: 'c', description: 'Config file.', env: 'ANEMOS_CONFIG', default: DEFAULT_CONFIG_PATH}),
  yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation.', env: 'ANEMOS_YES'}),
  'dry-run': Flags.boolean({description: 'Print the plan and the exact commands; change nothing, download nothing.'}),
  phases: Flags.string({description: `Comma-separated phases to run (${PHASES.join(',')}); later phases are skipped.`, default: PHASES.join(','), env: 'ANEMOS_PHASES'}),
  'allow-unverified': Flags.boolean({description: 'Accept artifacts without sha256 (warns loudly; shown in the plan).', env: 'ANEMOS_ALLOW_UNVERIFIED'}),
  qemu: Flags.boolean({description: 'Run the deploy environment in a local QEMU VM instead of on this host (try a payload on a laptop).', env: 'ANEMOS_QEMU'}),
  disk: Flags.string({description: 'With --qemu: raw disk image attached as /dev/vda (required for deploy).', env: 'ANEMOS_QEMU_DISK'}),
  memory: Flags.integer({description: 'With --qemu: VM memory in MiB.', default: 1024, env: 'ANEMOS_QEMU_MEMORY'}),
  'ssh-port': Flags.integer({description: 'With --qemu: loopback port forwarded to the VM\'s SSH.', default: 2222, env: 'ANEMOS_QEMU_SSH_PORT'}),
  accel: Flags.string({description: 'With --qemu: QEMU accelerator (kvm:tcg tries KVM first).', default: 'kvm:tcg', env: 'ANEMOS_QEMU_ACCEL'}),
};

export interface DeployFlagValues {
  qemu: boolean;
  disk?: string;
  memory: number;
  'ssh-port': number;
  accel: string;
  config: string;
  yes: boolean;
  'dry-run': boolean;
  phases: string;
  'allow-unverified': boolean;
}

export function parsePhases(text: string): Phase[] {
  const phases = text.split(',').map((p) => p.trim()).filter(Boolean);
  const bad = phases.filter((p) => !PHASES.includes(p as Phase));
  if (bad.length || !phases.length) throw usageError('bad-phase', `Unknown phase "${bad.join(', ') || text}".`, `Phases are ${PHASES.join(', ')}.`);
  // A phase needs the ones before it: "compose" alone still fetches.
  const last = Math.max(...phases.map((p) => PHASES.indexOf(p as Phase)));
  return PHASES.slice(0, last + 1);
}

async function askYesNo(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({input: process.stdin, output: process.stderr});
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export async function runDeployCommand(cmd: BaseCommand & {jsonEnabled(): boolean}, flags: DeployFlagValues, mode: BootMode, version: string): Promise<unknown> {
  const json = cmd.jsonEnabled();
  const say = (l: string) => (json ? process.stderr : process.stdout).write(l + '\n');
  const outcome = await runDeploy({
    ...(flags.qemu ? {qemu: {disk: flags.disk, memoryMb: flags.memory, sshPort: flags['ssh-port'], accel: flags.accel}} : {}),
    configPath: flags.config,
    mode,
    phases: parsePhases(flags.phases),
    dryRun: flags['dry-run'],
    yes: flags.yes,
    allowUnverified: flags['allow-unverified'],
    cliVersion: version,
    cwd: process.cwd(),
    progress: makeProgress(),
    log: say,
    confirm: askYesNo,
  });
  if (outcome.dryRun && outcome.plan.problems.length) {
    // The plan was shown with every problem in it; the exit code says it would not run.
    if (!json) say(outcome.planText + '\n\n(dry run: nothing was downloaded or changed)');
    const err = preflightError(outcome.plan.problems)!;
    throw new AnemosError('precondition', err.code, json ? err.message : `${err.message}${outcome.plan.problems.length > 1 ? ' (listed above)' : ''}`, {hint: err.hint, details: json ? err.details : []});
  }
  if (!json) {
    if (outcome.dryRun) say(outcome.planText + '\n\n(dry run: nothing was downloaded or changed)');
    else if (flags.qemu) say('Done.');
    else if (outcome.result?.executed) {
      say(
        mode === 'deploy'
          ? `The deploy environment starts in ${outcome.plan.delaySeconds} s. Follow it on the console, or SSH as root to the same address.`
          : `The test environment starts in ${outcome.plan.delaySeconds} s; then SSH as root to the same address. "reboot" there returns to this system.`,
      );
    } else say(`Stopped after phase ${outcome.plan.phases.at(-1)}.`);
  }
  return {plan: outcome.plan, result: outcome.result ?? null};
}
