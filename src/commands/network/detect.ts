import {Flags} from '@oclif/core';
import {describeNetwork} from '../../core/network-describe.js';
import {detectHostNetwork} from '../../services/network.js';
import {preconditionError} from '../../shared/errors.js';
import {BaseCommand} from '../base.js';

export default class NetworkDetect extends BaseCommand {
  static summary = "Capture this host's addresses, routes and DNS as network.json (keyed by MAC).";
  static description = 'Reads ip -j addr/route and the resolver configuration. This is what the deploy environment will use.';
  static examples = ['<%= config.bin %> network detect', '<%= config.bin %> network detect --json > network.json'];
  static enableJsonFlag = true;
  static flags = {strict: Flags.boolean({description: 'Fail when the result could not carry a deploy (no interface, no default route).'})};

  async run(): Promise<unknown> {
    const {flags} = await this.parse(NetworkDetect);
    const {network: net, problems} = await detectHostNetwork();
    if (!this.jsonEnabled()) {
      for (const l of describeNetwork(net)) this.out(l);
      for (const p of problems) this.progress(`WARNING: ${p}`);
    }
    if (flags.strict && problems.length) {
      throw preconditionError('network-unusable', `The detected network cannot carry a deploy: ${problems.join('; ')}.`, 'Set "network:" explicitly in anemos.conf.');
    }
    return net;
  }
}
