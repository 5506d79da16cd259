import {liveRemove} from '../../services/live-remove.js';
import {BaseCommand} from '../base.js';

export default class LiveRemoveCommand extends BaseCommand {
  static summary = "Stop booting the live image at every boot (live.every_boot): its GRUB entry and /boot/anemos-live are taken out.";
  static description =
    "Run on the installed system (on the live system, anemos-boot-os makes the next boot that one, once). GRUB's own default entry is the default again; the operator's lines in /boot/grub/custom.cfg stay. A host without the entry is left as it is.";
  static examples = ['<%= config.bin %> live remove'];
  static enableJsonFlag = true;

  async run(): Promise<unknown> {
    await this.parse(LiveRemoveCommand);
    const r = await liveRemove();
    if (!this.jsonEnabled()) {
      if (!r.removed.length) this.out('This host boots no live image at every boot: nothing to remove.');
      for (const l of r.removed) this.out(`Removed: ${l}`);
    }
    return r;
  }
}
