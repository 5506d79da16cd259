import {BaseCommand} from './base.js';
import {runDeployCommand} from './deploy-command.js';
import {deployFlags} from './deploy-flags.js';

export default class Deploy extends BaseCommand {
  static summary = 'Re-image this server: boot the deploy environment, which runs the payload.';
  static description =
    'Reads /etc/anemos.conf, probes the host (network, SSH keys, kexec, RAM), shows the plan, asks, then fetches and verifies kernel, base initramfs and payload, composes the final initramfs and kexecs into it. Every check runs before the host is changed.';
  static examples = ['<%= config.bin %> deploy --dry-run', '<%= config.bin %> deploy --yes', '<%= config.bin %> deploy --phases fetch,compose'];
  static enableJsonFlag = true;
  static flags = deployFlags;

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Deploy);
    return runDeployCommand(this, flags, 'deploy', this.config.version);
  }
}
