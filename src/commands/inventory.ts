import {gatherInventory} from '../services/inventory.js';
import {BaseCommand} from './base.js';

export default class Inventory extends BaseCommand {
  static summary = 'Show what anemos knows about this host: network, disks, RAM, kexec, SSH keys, firmware.';
  static description = 'The facts the deploy planner uses, plus the block devices. Changes nothing; needs no root (some facts are hidden without it).';
  static examples = ['<%= config.bin %> inventory', '<%= config.bin %> inventory --json'];
  static enableJsonFlag = true;

  async run(): Promise<unknown> {
    await this.parse(Inventory);
    const inv = await gatherInventory();
    if (!this.jsonEnabled()) for (const l of inv.text) this.out(l);
    return inv.data;
  }
}
