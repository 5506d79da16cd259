import {Args} from '@oclif/core';
import {renderMachine} from '../../services/registry/client-render.js';
import {connectRegistry, machineDeployments, showMachine} from '../../services/registry/client.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';

export default class MachinesShow extends BaseCommand {
  static summary = 'Show one machine: identity, addresses, hardware, attributes, desired deployment, recent deployments.';
  static examples = ['<%= config.bin %> machines show web1.example.net', '<%= config.bin %> machines show 52:54:00:12:34:56 --json'];
  static enableJsonFlag = true;
  static args = {machine: Args.string({required: true, description: 'Its id, UUID or one of its MACs.'})};
  static flags = {...registryFlags};

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(MachinesShow);
    const t = connectRegistry(registryFlagValues(flags));
    const machine = await showMachine(t, args.machine);
    const deployments = await machineDeployments(t, machine.id, 5);
    if (!this.jsonEnabled()) for (const l of renderMachine(machine, deployments)) this.out(l);
    return {machine, deployments};
  }
}
