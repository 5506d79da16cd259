import {Flags} from '@oclif/core';
import {MACHINE_STATES} from '../../core/registry/lifecycle.js';
import {renderMachines} from '../../services/registry/client-render.js';
import {connectRegistry, listMachines} from '../../services/registry/client.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';

export default class MachinesList extends BaseCommand {
  static summary = "List the registry's machines: state, addresses, tags, last deployment.";
  static examples = ['<%= config.bin %> machines list --registry https://registry:8443', '<%= config.bin %> machines list --state failed --tag rack3 --json'];
  static enableJsonFlag = true;
  static flags = {
    ...registryFlags,
    state: Flags.string({options: [...MACHINE_STATES], description: 'Only machines in this state.'}),
    tag: Flags.string({description: 'Only machines with this tag.'}),
    search: Flags.string({char: 'q', description: 'Text in the id, hostname, serial, product, a MAC, an address or a tag.'}),
    sort: Flags.string({options: ['hostname', 'state', 'seen', 'id'], description: 'Order (default hostname; seen: newest first).'}),
    limit: Flags.integer({description: 'Machines per page (1-500).', min: 1, max: 500}),
    all: Flags.boolean({description: 'Every page, not only the first.'}),
  };

  async run(): Promise<unknown> {
    const {flags} = await this.parse(MachinesList);
    const r = await listMachines(connectRegistry(registryFlagValues(flags)), {state: flags.state, tag: flags.tag, q: flags.search, sort: flags.sort, limit: flags.limit, all: flags.all});
    if (!this.jsonEnabled()) for (const l of renderMachines(r.machines, r.total, r.next)) this.out(l);
    return r;
  }
}
