import {Args, Flags} from '@oclif/core';
import {parseDuration} from '../../core/config.js';
import {renderEvent} from '../../services/registry/client-render.js';
import {connectRegistry, watchMachine} from '../../services/registry/client.js';
import {AnemosError, usageError} from '../../shared/errors.js';
import {terminalLine} from '../../shared/terminal-text.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';

export default class MachinesWatch extends BaseCommand {
  static summary = "Follow a machine's deployment through the registry, live, to its outcome.";
  static description =
    'Follows the deployment running now (or the next one to start) event by event, and exits like anemos deploy --host: 0 deployed, 10 failed before writing (the old system is back), 11 failed after writing (it stays in the deploy environment), 12 no outcome within --timeout. So a CI job can wait on a machine that deploys from the registry.';
  static examples = ['<%= config.bin %> machines watch web1 --timeout 45m'];
  static enableJsonFlag = true;
  static args = {machine: Args.string({required: true, description: 'Its id, UUID or one of its MACs.'})};
  static flags = {
    ...registryFlags,
    deployment: Flags.string({description: 'Follow this deployment (default: the one running, or the next to start).'}),
    timeout: Flags.string({description: 'Give up after this long (exit 12): seconds or 30m, 2h.', default: '1h'}),
  };

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(MachinesWatch);
    let seconds: number;
    try {
      seconds = parseDuration(flags.timeout);
    } catch {
      throw usageError('bad-timeout', `--timeout ${flags.timeout} is not a duration.`, 'Write seconds (3600) or a duration like 30m or 2h.');
    }
    const json = this.jsonEnabled();
    const say = (l: string) => (json ? process.stderr : process.stdout).write(`${terminalLine(l)}\n`);
    const t0 = Date.now();
    const end = await watchMachine(connectRegistry(registryFlagValues(flags)), args.machine, {
      ...(flags.deployment ? {deployment: flags.deployment} : {}),
      deadline: t0 + seconds * 1000,
      onEvent: (e) => (json ? process.stdout.write(JSON.stringify({event: e}) + '\n') : say(renderEvent(e))),
      say,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: () => Date.now(),
    });
    if (!end) throw new AnemosError('timeout', 'watch-timeout', `No outcome within --timeout ${flags.timeout}.`, {hint: 'Look at the machine\'s page in the registry, or its console.'});
    const d = end.deployment;
    if (end.outcome === 'failed' && end.event?.action === 'stay') throw new AnemosError('stranded', 'deploy-failed-after-write', `Deployment ${d.id} failed after writing to ${end.event.written?.join(', ') || 'a disk'}; the machine stays in the deploy environment.`, {hint: 'Repair or retry there over SSH (the log is in /run/anemos).'});
    if (end.outcome === 'failed') throw new AnemosError('rolledBack', 'deploy-failed-rolled-back', `Deployment ${d.id} failed before writing to any disk; the machine reboots into its old system.`, {hint: 'Fix the cause and deploy again.'});
    if (end.outcome === 'aborted') throw new AnemosError('rolledBack', 'deploy-aborted', `Deployment ${d.id} stopped on the host before the hand-over; nothing changed there.`, {hint: 'Its last event says why.'});
    if (!json) say(`DEPLOYED: ${d.id} succeeded${d.durationSeconds !== null ? ` in ${d.durationSeconds} s` : ''}.`);
    return {verdict: {outcome: 'deployed', deployment: d.id, seconds: d.durationSeconds, exitCode: 0}};
  }
}
