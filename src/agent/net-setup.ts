// Bring the carried-over network up in the deploy environment. The plan is pure: which
// ip(8) commands (and bonding sysfs writes) to run for which kernel interface, NICs matched
// by MAC; bonds and VLANs created on them under the host's names and with the host's MAC;
// DHCP where the host used it, falling back to the address the host had.

import {interfaceKey, interfacesInOrder, type NetInterface, type NetRoute, type NetworkConfig} from '../core/network.js';
import type {Argv} from '../core/boot-methods/index.js';

export interface Link {
  name: string;
  mac: string;
}

/** A command, or a value written to a file (the bonding driver's sysfs attributes). */
export type LinkStep = Argv | {write: string; value: string};

export interface IfacePlan {
  name: string;
  mac: string;
  dhcp4: boolean;
  /** Create (bond, VLAN) and bring up the link. */
  up: LinkStep[];
  /** The configuration that is not DHCP's: applied in every case (a static IPv6 beside DHCPv4). */
  statics: Argv[];
  /** The host's DHCP lease (its dynamic IPv4 addresses and routes): applied only when DHCP gets no answer. */
  fallback: Argv[];
}

export interface NetworkPlan {
  /** Kernel modules to load first (bonding, 8021q), as modprobe command lines. */
  modules: Argv[];
  ifaces: IfacePlan[];
  /** MACs in network.json that no interface here has. */
  missing: string[];
  /** Bond members not found here: the bond comes up on the others. */
  missingMembers: {bond: string; mac: string; name: string}[];
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
  const devOf = new Map<string, string>();
  const ifaces: IfacePlan[] = [];
  const missing: string[] = [];
  const missingMembers: NetworkPlan['missingMembers'] = [];
  const modules = new Set<string>();
  const gateways: NetworkPlan['gateways'] = [];
  for (const i of interfacesInOrder(net)) {
    let dev: string;
    const up: LinkStep[] = [];
    if (i.bond) {
      const present = i.bond.members.filter((m) => byMac.has(m.mac.toLowerCase()));
      for (const m of i.bond.members) if (!byMac.has(m.mac.toLowerCase())) missingMembers.push({bond: i.name, mac: m.mac, name: m.name});
      if (!present.length) continue;
      dev = i.name;
      modules.add('bonding');
      const sys = `/sys/class/net/${dev}/bonding`;
      // Mode and options before the first member joins: the driver refuses them after.
      up.push(['ip', 'link', 'add', dev, 'type', 'bond'], {write: `${sys}/mode`, value: i.bond.mode});
      if (i.bond.miimon !== undefined) up.push({write: `${sys}/miimon`, value: String(i.bond.miimon)});
      if (i.bond.lacpRate) up.push({write: `${sys}/lacp_rate`, value: i.bond.lacpRate});
      if (i.bond.xmitHashPolicy) up.push({write: `${sys}/xmit_hash_policy`, value: i.bond.xmitHashPolicy});
      for (const m of present) {
        const mdev = byMac.get(m.mac.toLowerCase())!;
        up.push(['ip', 'link', 'set', mdev, 'down'], {write: `${sys}/slaves`, value: `+${mdev}`});
      }
      const primary = present.find((m) => m.mac.toLowerCase() === i.bond!.primary?.toLowerCase());
      if (primary) up.push({write: `${sys}/primary`, value: byMac.get(primary.mac.toLowerCase())!});
      // The host's MAC, so that DHCP and the neighbours see the same machine.
      up.push(['ip', 'link', 'set', dev, 'address', i.mac]);
    } else if (i.vlan) {
      const parent = devOf.get(i.vlan.link.toLowerCase());
      if (!parent) continue; // its NIC or bond is missing, and reported as such
      dev = i.name;
      modules.add('8021q');
      up.push(['ip', 'link', 'add', 'link', parent, 'name', dev, 'type', 'vlan', 'id', String(i.vlan.id)]);
    } else {
      const found = byMac.get(i.mac.toLowerCase());
      if (!found) {
        missing.push(i.mac);
        continue;
      }
      dev = found;
    }
    devOf.set(interfaceKey(i), dev);
    if (i.mtu) up.push(['ip', 'link', 'set', dev, 'mtu', String(i.mtu)]);
    up.push(['ip', 'link', 'set', dev, 'up']);
    // Dynamic IPv6 (SLAAC) is the kernel's to redo from the router's advertisements.
    const lease = (x: {dynamic?: boolean; family: 4 | 6}) => i.dhcp4 && Boolean(x.dynamic) && x.family === 4;
    ifaces.push({name: dev, mac: i.mac, dhcp4: i.dhcp4, up, statics: commands(i, dev, (x) => !x.dynamic), fallback: commands(i, dev, lease)});
    for (const r of i.routes) if (r.to === 'default' && r.via) gateways.push({address: r.via, family: r.family, dev});
  }
  const resolv = [...(net.dns.search.length ? [`search ${net.dns.search.join(' ')}`] : []), ...net.dns.servers.map((s) => `nameserver ${s}`)];
  // max_bonds=0: the driver would otherwise make a "bond0" of its own, in the way of the host's.
  const modprobe: Argv[] = [...modules].sort().map((m) => (m === 'bonding' ? ['modprobe', m, 'max_bonds=0'] : ['modprobe', m]));
  return {modules: modprobe, ifaces, missing, missingMembers, resolvConf: resolv.join('\n') + '\n', gateways};
}
