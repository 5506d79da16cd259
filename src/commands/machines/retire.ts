import {Args, Flags} from '@oclif/core';
import {connectRegistry, setMachine} from '../../services/registry/client.js';
import {usageError} from '../../shared/errors.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';

export default class MachinesRetire extends BaseCommand {
  static summary = 'Retire a machine: its record stays, nothing is deployed on it again (retired is final).';
  static examples = ['<%= config.bin %> machines retire web7 --yes'];
  static enableJsonFlag = true;
  static args = {machine: Args.string({required: true, description: 'Its id, UUID or one of its MACs.'})};
  static flags = {...registryFlags, yes: Flags.boolean({char: 'y', description: 'Retire it: the lifecycle has no way back from retired.'})};

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(MachinesRetire);
    if (!flags.yes) throw usageError('not-confirmed', `Retiring ${args.machine} is final; nothing was changed.`, 'Pass --yes to retire it.');
    const machine = await setMachine(connectRegistry(registryFlagValues(flags)), args.machine, {state: 'retired'});
    if (!this.jsonEnabled()) this.out(`${machine.hostname ?? machine.id} (${machine.id}) is retired.`);
    return {machine};
  }
}
