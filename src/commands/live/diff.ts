import {Flags} from '@oclif/core';
import {destinationFromFlags} from '../../core/ssh-destination.js';
import {renderDrift} from '../../core/live/drift.js';
import {liveDiff} from '../../services/live-diff.js';
import {BaseCommand} from '../base.js';

export default class LiveDiffCommand extends BaseCommand {
  static summary = 'List what differs on a live host from the image it booted: files added, changed and removed since boot, with sizes.';
  static description =
    'A live host (anemos deploy with live: in anemos.conf) writes every change to a tmpfs over its image; this lists that layer, each entry classed against the image\'s layers and the host\'s own layer (hostname, network, SSH keys). All of it is gone at the next reboot, but for the persist: paths (not listed: they are not the image). Reads the host\'s files with its own tools: on this machine, or over SSH with --host.';
  static examples = ['<%= config.bin %> live diff', '<%= config.bin %> live diff --host root@web1 --json'];
  static enableJsonFlag = true;
  static flags = {
    host: Flags.string({description: 'Ask [USER@]HOST over SSH instead of this machine.', env: 'ANEMOS_HOST'}),
    'ssh-port': Flags.integer({description: 'With --host: the host\'s SSH port.', dependsOn: ['host']}),
    identity: Flags.string({char: 'i', description: 'With --host: SSH private key (ssh -i).', dependsOn: ['host']}),
    'ssh-option': Flags.string({description: 'With --host: an ssh -o option (repeatable).', multiple: true, dependsOn: ['host']}),
  };

  async run(): Promise<unknown> {
    const {flags} = await this.parse(LiveDiffCommand);
    const destination = flags.host ? destinationFromFlags({...flags, host: flags.host}) : undefined;
    const diff = await liveDiff(destination);
    if (!this.jsonEnabled()) for (const l of renderDrift(diff.entries)) this.out(l);
    return diff;
  }
}
