import {Args} from '@oclif/core';
import {connectRegistry, wakeMachine} from '../../services/registry/client.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';

export default class MachinesWake extends BaseCommand {
  static summary = 'Wake a machine that is off: Wake-on-LAN for each of its MACs, sent by the registry on its boot segment.';
  static description = 'The registry must run network boot (anemos serve --boot) on the segment the machine is on; the machine\'s NIC must be armed for Wake-on-LAN (its firmware setting). Recorded in the audit log. What it boots then is what its record says (anemos machines explain).';
  static examples = ['<%= config.bin %> machines wake mac-525400123456'];
  static enableJsonFlag = true;
  static args = {machine: Args.string({required: true, description: 'Its id, UUID or one of its MACs.'})};
  static flags = {...registryFlags};

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(MachinesWake);
    const r = await wakeMachine(connectRegistry(registryFlagValues(flags)), args.machine);
    if (!this.jsonEnabled()) this.out(`${r.machine}: ${r.packets} magic packet(s) sent for ${r.macs.join(', ')}`);
    return r;
  }
}
