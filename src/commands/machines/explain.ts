import {Args} from '@oclif/core';
import {explainBoot, connectRegistry, showMachine, type BootExplanation} from '../../services/registry/client.js';
import {BaseCommand} from '../base.js';
import {registryFlags, registryFlagValues} from '../registry-flags.js';

const IS_MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;

export default class MachinesExplain extends BaseCommand {
  static summary = 'Say what a machine would boot from the network now, and why: its record, its state and the rule that decided.';
  static description = 'The same decision anemos serve --boot makes when the machine asks: the deploy environment (deploy, test or register), its local disk, or no answer. A machine the registry does not know is explained by its MAC.';
  static examples = ['<%= config.bin %> machines explain 52:54:00:12:34:56', '<%= config.bin %> machines explain web1.example.net --json'];
  static enableJsonFlag = true;
  static args = {machine: Args.string({required: true, description: 'A MAC it boots with (known or not), or its id or UUID (each of its MACs is explained).'})};
  static flags = {...registryFlags};

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(MachinesExplain);
    const t = connectRegistry(registryFlagValues(flags));
    const macs = IS_MAC.test(args.machine) ? [args.machine.toLowerCase()] : (await showMachine(t, args.machine)).macs;
    const explained: BootExplanation[] = [];
    for (const mac of macs) explained.push(await explainBoot(t, mac));
    if (!this.jsonEnabled()) {
      for (const e of explained) {
        const what = e.boot === 'environment' ? `the deploy environment (${e.mode})` : e.boot === 'installer' ? `the installer of ${e.installer && 'media' in e.installer ? `${e.installer.media} (${e.installer.distribution} ${e.installer.release} ${e.installer.arch}, ${e.installer.kind})` : 'its media'}` : e.boot === 'local-disk' ? 'its local disk' : 'no answer (it goes on to its next boot device)';
        this.out(`${e.mac}: ${what}`);
        this.out(`  why: ${e.rule}`);
        this.out(`  record: ${e.machine ? `${e.machine.id}, ${e.machine.state}, ${e.machine.desired ? 'a desired deployment' : 'no desired deployment'}${e.machine.discovered ? ', found by a network boot' : ''}` : 'none'}`);
        if (e.lastBoot) this.out(`  last network boot: ${e.lastBoot.at}, ${e.lastBoot.client} (${e.lastBoot.firmware}), given ${e.lastBoot.boot}`);
        if (e.installer && 'answer' in e.installer) {
          this.out(`  answer file (the report command's deployment and token are this boot's own when it asks):`);
          for (const l of e.installer.answer.trimEnd().split('\n')) this.out(`    ${l}`);
        }
        if (!e.served) this.out('  (this registry does not boot machines: anemos serve --boot)');
      }
    }
    return explained.length === 1 ? explained[0] : explained;
  }
}
