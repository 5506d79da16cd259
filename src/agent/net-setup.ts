// Bring the carried-over network up in the deploy environment. The plan is pure: which
// ip(8) commands to run for which kernel interface, matched by MAC; DHCP where the host
// used it, falling back to the address the host had.

import type {NetInterface, NetRoute, NetworkConfig} from '../core/network.js';
import type {Argv} from '../core/boot-methods/index.js';

export interface Link {
  name: string;
  mac: string;
}

export interface IfacePlan {
  name: string;
  mac: string;
  dhcp4: boolean;
  up: Argv[];
  /** Static configuration, or the fallback after DHCP failed. */
  statics: Argv[];
}

export interface NetworkPlan {
  ifaces: IfacePlan[];
  /** MACs in network.json that no interface here has. */
  missing: string[];
  resolvConf: string;
  /** Gateways to check, with the interface to reach them. */
  gateways: {address: string; family: 4 | 6; dev: string}[];
}

function routeArgv(r: NetRoute, dev: string): Argv {
  const args: Argv = ['ip', `-${r.family}`, 'route', 'replace', r.to];
  if (r.via) args.push('via', r.via);
  args.push('dev', dev);
  if (!r.via) args.push('scope', 'link');
  if (r.onlink) args.push('onlink');
  if (r.metric !== undefined) args.push('metric', String(r.metric));
  return args;
}

function staticCommands(i: NetInterface, dev: string, includeDynamic: boolean): Argv[] {
  const cmds: Argv[] = [];
  for (const a of i.addresses) {
    if (a.dynamic && !includeDynamic) continue;
    // busybox ip(8): no "nodad", so an IPv6 address is usable after DAD (about a second).
    cmds.push(['ip', `-${a.family}`, 'addr', 'replace', `${a.address}/${a.prefix}`, 'dev', dev]);
  }
  for (const r of i.routes) if (includeDynamic || !r.dynamic) cmds.push(routeArgv(r, dev));
  return cmds;
}

export function planNetwork(net: NetworkConfig, links: Link[]): NetworkPlan {
  const byMac = new Map(links.map((l) => [l.mac.toLowerCase(), l.name]));
  const ifaces: IfacePlan[] = [];
  const missing: string[] = [];
  const gateways: NetworkPlan['gateways'] = [];
  for (const i of Object.values(net.interfaces)) {
    const dev = byMac.get(i.mac.toLowerCase());
    if (!dev) {
      missing.push(i.mac);
      continue;
    }
    const up: Argv[] = [['ip', 'link', 'set', dev, 'up']];
    if (i.mtu) up.unshift(['ip', 'link', 'set', dev, 'mtu', String(i.mtu)]);
    // With DHCP, statics hold the host's lease as a fallback; without, they are the configuration.
    ifaces.push({name: dev, mac: i.mac, dhcp4: i.dhcp4, up, statics: staticCommands(i, dev, i.dhcp4)});
    for (const r of i.routes) if (r.to === 'default' && r.via) gateways.push({address: r.via, family: r.family, dev});
  }
  const resolv = [...(net.dns.search.length ? [`search ${net.dns.search.join(' ')}`] : []), ...net.dns.servers.map((s) => `nameserver ${s}`)];
  return {ifaces, missing, resolvConf: resolv.join('\n') + '\n', gateways};
}
