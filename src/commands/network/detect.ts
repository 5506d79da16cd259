import {Flags} from '@oclif/core';
import {gatherNetworkCaptures} from '../../adapters/host-network.js';
import {realRunner} from '../../adapters/process.js';
import {checkNetworkUsable, parseNetwork, type NetworkConfig} from '../../core/network.js';
import {preconditionError} from '../../shared/errors.js';
import {BaseCommand} from '../base.js';

export function describeNetwork(net: NetworkConfig): string[] {
  const lines: string[] = [];
  for (const i of Object.values(net.interfaces)) {
    lines.push(`${i.mac} (${i.name}${i.mtu ? `, mtu ${i.mtu}` : ''})${i.dhcp4 ? ' dhcp4' : ''}${i.slaac ? ' slaac' : ''}`);
    for (const a of i.addresses) lines.push(`  address ${a.address}/${a.prefix}${a.dynamic ? ' (dynamic)' : ''}`);
    for (const r of i.routes) lines.push(`  route ${r.to}${r.via ? ` via ${r.via}` : ''}${r.onlink ? ' onlink' : ''}${r.metric !== undefined ? ` metric ${r.metric}` : ''}${r.dynamic ? ' (dynamic)' : ''}`);
  }
  lines.push(`dns ${net.dns.servers.join(' ') || '(none)'}${net.dns.search.length ? ` search ${net.dns.search.join(' ')}` : ''}`);
  for (const s of net.skipped) lines.push(`not carried: ${s.name}: ${s.reason}`);
  return lines;
}

export default class NetworkDetect extends BaseCommand {
  static summary = "Capture this host's addresses, routes and DNS as network.json (keyed by MAC).";
  static description = 'Reads ip -j addr/route and the resolver configuration. This is what the deploy environment will use.';
  static examples = ['<%= config.bin %> network detect', '<%= config.bin %> network detect --json > network.json'];
  static enableJsonFlag = true;
  static flags = {strict: Flags.boolean({description: 'Fail when the result could not carry a deploy (no interface, no default route).'})};

  async run(): Promise<unknown> {
    const {flags} = await this.parse(NetworkDetect);
    const net = parseNetwork(await gatherNetworkCaptures(realRunner));
    const problems = checkNetworkUsable(net);
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
