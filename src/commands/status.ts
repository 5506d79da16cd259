import {Flags} from '@oclif/core';
import {clearLastDeploy, readLastDeploy, renderStatus} from '../services/status.js';
import {BaseCommand} from './base.js';

export default class Status extends BaseCommand {
  static summary = 'Show how the last deploy on this machine ended, after its reboot: outcome, failing step, last log lines.';
  static description =
    'The deploy environment leaves its outcome where the next system can read it without writing to a disk: an EFI variable on UEFI machines, or the kernel log that ramoops keeps when the host kernel has ramoops configured. Read-only; root is needed to read pstore.';
  static examples = ['<%= config.bin %> status', '<%= config.bin %> status --json', '<%= config.bin %> status --clear'];
  static enableJsonFlag = true;
  static flags = {
    clear: Flags.boolean({description: 'Remove the kept record (the EFI variable, the pstore files that hold one) after showing it.'}),
  };

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Status);
    const r = await readLastDeploy();
    if (flags.clear) {
      const cleared = await clearLastDeploy();
      if (!this.jsonEnabled()) for (const l of [...renderStatus(r), cleared.length ? `Removed: ${cleared.join(', ')}` : 'Nothing to remove.']) this.out(l);
      return {lastDeploy: r.record ?? null, searched: r.searched, cleared};
    }
    if (!this.jsonEnabled()) for (const l of renderStatus(r)) this.out(l);
    return {lastDeploy: r.record ?? null, searched: r.searched};
  }
}
