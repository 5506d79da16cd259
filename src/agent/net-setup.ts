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
  /** The configuration that is not DHCP's: applied in every case (a static IPv6 beside DHCPv4). */
  statics: Argv[];
  /** The host's DHCP lease (its dynamic IPv4 addresses and routes): applied only when DHCP gets no answer. */
  fallback: Argv[];
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

/** ip(8) commands for the addresses and routes `pick` selects. */
function commands(i: NetInterface, dev: string, pick: (x: {dynamic?: boolean; family: 4 | 6}) => boolean): Argv[] {
  const cmds: Argv[] = [];
  // busybox ip(8): no "nodad", so an IPv6 address is usable after DAD (about a second).
  for (const a of i.addresses) if (pick(a)) cmds.push(['ip', `-${a.family}`, 'addr', 'replace', `${a.address}/${a.prefix}`, 'dev', dev]);
  for (const r of i.routes) if (pick(r)) cmds.push(routeArgv(r, dev));
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
    // Dynamic IPv6 (SLAAC) is the kernel's to redo from the router's advertisements.
    const lease = (x: {dynamic?: boolean; family: 4 | 6}) => i.dhcp4 && Boolean(x.dynamic) && x.family === 4;
    ifaces.push({name: dev, mac: i.mac, dhcp4: i.dhcp4, up, statics: commands(i, dev, (x) => !x.dynamic), fallback: commands(i, dev, lease)});
    for (const r of i.routes) if (r.to === 'default' && r.via) gateways.push({address: r.via, family: r.family, dev});
  }
  const resolv = [...(net.dns.search.length ? [`search ${net.dns.search.join(' ')}`] : []), ...net.dns.servers.map((s) => `nameserver ${s}`)];
  return {ifaces, missing, resolvConf: resolv.join('\n') + '\n', gateways};
}
