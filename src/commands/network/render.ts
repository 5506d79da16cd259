import * as fs from 'node:fs';
import {Args, Flags} from '@oclif/core';
import {RENDER_FORMATS, type RenderFormat} from '../../core/network-render.js';
import {renderNetworkFromFile} from '../../core/network-files.js';
import {BaseCommand} from '../base.js';

export default class NetworkRender extends BaseCommand {
  static summary = 'Write a network.json as the configuration files of a new system.';
  static description = 'The same code runs as anemos-netconf inside the deploy environment. Without ROOT, prints the files.';
  static examples = ['<%= config.bin %> network render --format networkd --network network.json /mnt', '<%= config.bin %> network render --format ifupdown --network network.json'];
  static enableJsonFlag = true;
  static args = {root: Args.string({description: 'Root of the new system; files are written under it.'})};
  static flags = {
    format: Flags.string({char: 'f', options: [...RENDER_FORMATS], required: true, description: 'Configuration style of the new system.'}),
    network: Flags.string({char: 'n', required: true, description: 'network.json (from "anemos network detect --json").'}),
    name: Flags.string({multiple: true, default: [], description: 'MAC=NAME: interface name in the new system (ifupdown, alpine).'}),
  };

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(NetworkRender);
    const files = renderNetworkFromFile(fs, {network: flags.network, format: flags.format as RenderFormat, names: flags.name, root: args.root});
    if (!this.jsonEnabled()) {
      for (const f of files) this.out(args.root ? `wrote ${f.path}` : `==> /${f.path}\n${f.content}`);
    }
    return {files};
  }
}
