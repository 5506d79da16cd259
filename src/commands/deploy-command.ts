// The shared run of "deploy" and "test-boot": the request from the flags to one service
// (this host or --qemu: deploy-run; --host: remote-deploy), then what is said about it:
// the plan of a dry run and its problems, the hand-over, the verdict.
import type {BootMode} from '../core/boot-contract.js';
import {preflightError, type DeployPlan} from '../core/deploy-plan.js';
import {parseDuration} from '../core/config.js';
import {destinationFromFlags, parseDestination} from '../core/ssh-destination.js';
import {runDeploy, type DeployRequest} from '../services/deploy-run.js';
import {runRemoteDeploy} from '../services/remote-deploy.js';
import {eventLine} from '../services/watch.js';
import {AnemosError, usageError} from '../shared/errors.js';
import {terminalLines} from '../shared/terminal-text.js';
import type {BaseCommand} from './base.js';
import {deployRequest, type DeployFlagValues} from './deploy-flags.js';

export async function runDeployCommand(cmd: BaseCommand & {jsonEnabled(): boolean}, flags: DeployFlagValues, mode: BootMode, version: string): Promise<unknown> {
  const json = cmd.jsonEnabled();
  // Everything said here may hold what the host sent (its names, its output): made safe for the terminal, line by line.
  const say = (l: string) => (json ? process.stderr : process.stdout).write(terminalLines(l, 100_000) + '\n');
  const request = deployRequest(flags, mode, version, say);
  if (flags.host) return runHostCommand(flags, request, json, say);
  const outcome = await runDeploy({
    ...request,
    ...(flags.qemu ? {qemu: {disk: flags.disk, memoryMb: flags.memory ?? 1024, sshPort: flags['ssh-port'] ?? 2222, accel: flags.accel ?? 'kvm:tcg'}} : {}),
  });
  if (outcome.dryRun) showDryRun(outcome.plan, outcome.planText, json, say);
  else if (!json) {
    if (flags.qemu) say('Done.');
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

/** A dry run: the plan with every problem in it (--json: the returned plan); with a problem, the exit code says it would not run. */
function showDryRun(plan: DeployPlan, planText: string, json: boolean, say: (l: string) => void): void {
  if (!json) say(planText + '\n\n(dry run: nothing was downloaded or changed)');
  const err = preflightError(plan.problems);
  if (!err) return;
  throw new AnemosError('precondition', err.code, json ? err.message : `${err.message}${plan.problems.length > 1 ? ' (listed above)' : ''}`, {hint: err.hint, details: json ? err.details : []});
}

/** --host: deploy from here over SSH, print the events as they come, end with the verdict. */
async function runHostCommand(flags: DeployFlagValues, request: DeployRequest, json: boolean, say: (l: string) => void): Promise<unknown> {
  let timeoutSeconds: number;
  try {
    timeoutSeconds = parseDuration(flags.timeout ?? '1h');
  } catch {
    throw usageError('bad-timeout', `--timeout ${flags.timeout} is not a duration.`, 'Write seconds (3600) or a duration like 30m or 2h.');
  }
  const outcome = await runRemoteDeploy({
    ...request,
    destination: destinationFromFlags({...flags, host: flags.host!}),
    upload: flags.upload,
    timeoutSeconds,
    logsDir: flags.logs,
    check: flags.check,
    attach: flags.attach,
    // One line per event: JSON lines on stdout with --json, the log's own format otherwise.
    onEvent: (e) => (json ? process.stdout.write(JSON.stringify({event: e}) + '\n') : say(`  ${eventLine(e)}`)),
  });
  if (outcome.dryRun && outcome.plan) {
    showDryRun(outcome.plan, outcome.planText, json, say);
    return json ? {plan: outcome.plan} : undefined;
  }
  const v = outcome.verdict;
  if (!v) {
    if (!json) say(`Stopped after phase ${outcome.plan?.phases.at(-1)}.`);
    return json ? {plan: outcome.plan, result: outcome.result ?? null} : undefined;
  }
  if (!json) {
    say(
      v.outcome === 'deployed'
        ? `DEPLOYED and checked in ${Math.round(v.seconds)} s: ${v.checks.join('; ')}. Logs: ${outcome.logsDir}`
        : `The test environment is up: ssh ${flags['ssh-port'] ? `-p ${flags['ssh-port']} ` : ''}root@${parseDestination(flags.host!).host} ("reboot" there returns to the old system). Logs: ${outcome.logsDir}`,
    );
    return undefined;
  }
  process.stdout.write(JSON.stringify({verdict: {...v, exitCode: 0, logs: outcome.logsDir}}) + '\n');
  return undefined;
}
