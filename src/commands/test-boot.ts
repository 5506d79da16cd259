import {BaseCommand} from './base.js';
import {runDeployCommand} from './deploy-command.js';
import {deployFlags} from './deploy-flags.js';

export default class TestBoot extends BaseCommand {
  static summary = 'Boot the deploy environment without a payload, to look around over SSH.';
  static description = 'Same as deploy, but the agent runs in test mode: network and SSH come up, nothing is written to disks, and "reboot" returns to this system.';
  static examples = ['<%= config.bin %> test-boot --yes', '<%= config.bin %> test-boot --dry-run'];
  static enableJsonFlag = true;
  static flags = deployFlags;

  async run(): Promise<unknown> {
    const {flags} = await this.parse(TestBoot);
    return runDeployCommand(this, flags, 'test', this.config.version);
  }
}
