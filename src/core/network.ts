// Turn the host's live network state (ip -j -d addr, ip -j route, ip -j -6 route,
// resolv.conf) into network.json: interfaces keyed by MAC, because the deploy
// environment's kernel names them differently (ens3 on the host, eth0 in the initramfs).
// Pure: callers run the commands and pass their output in.

import {preconditionError} from '../shared/errors.js';

export interface NetAddress {
  address: string;
  prefix: number;
  family: 4 | 6;
  /** Obtained by DHCP or SLAAC on the host; the agent asks again and falls back to it. */
  dynamic?: boolean;
}

export interface NetRoute {
  /** "default" or a CIDR. */
  to: string;
  via?: string;
  /** The gateway is outside every subnet of the interface (Hetzner-style /32 + gateway). */
  onlink?: boolean;
  metric?: number;
  family: 4 | 6;
  /** Learned from DHCP or router advertisements; renewed by the same means after the re-image. */
  dynamic?: boolean;
}

/** Bonding modes as the kernel names them (/sys/class/net/BOND/bonding/mode). */
export const BOND_MODES = ['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'] as const;

export interface NetBond {
  mode: (typeof BOND_MODES)[number];
  /** The member NICs by their permanent MAC (a member's current MAC is the bond's) and host name. */
  members: {mac: string; name: string}[];
  /** Link monitoring interval in ms (0: none). */
  miimon?: number;
  /** active-backup: the member preferred as the active one, by permanent MAC. */
  primary?: string;
  /** 802.3ad: how often the partner sends LACPDUs. */
  lacpRate?: 'slow' | 'fast';
  /** balance-xor and 802.3ad: layer2, layer2+3, layer3+4, encap2+3, encap3+4. */
  xmitHashPolicy?: string;
}

export interface NetVlan {
  /** 802.1Q VLAN id. */
  id: number;
  /** The key (in interfaces) of the interface the VLAN rides on: a NIC's or a bond's MAC. */
  link: string;
}

export interface NetInterface {
  /**
   * The interface's MAC: a NIC's own; a bond's (which its members take on); a VLAN's (its
   * parent's, usually). NICs are matched by it in the deploy environment; a bond and a VLAN
   * are created there with it.
   */
  mac: string;
  /** Name on the host, for messages and for renderers that need a name (ifupdown). */
  name: string;
  /** A bond of member NICs (created in the deploy environment and the new system). */
  bond?: NetBond;
  /** A VLAN on top of another interface in network.json. */
  vlan?: NetVlan;
  mtu?: number;
  dhcp4: boolean;
  /** IPv6 addresses came from router advertisements (or DHCPv6): accept RAs in the deploy environment. */
  slaac: boolean;
  addresses: NetAddress[];
  routes: NetRoute[];
}

export interface NetworkConfig {
  version: 1;
  hostname?: string;
  /** Keyed by interfaceKey(): the MAC, and for a VLAN the MAC and the VLAN id ("MAC.ID"). */
  interfaces: Record<string, NetInterface>;
  dns: {servers: string[]; search: string[]};
  /** What was seen and deliberately not carried, so nothing is dropped silently. */
  skipped: {name: string; reason: string}[];
}

// Shapes of `ip -j` output we read; fields we do not use are left out.
interface IpAddrInfo {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope?: string;
  dynamic?: boolean;
  tentative?: boolean;
  deprecated?: boolean;
}
interface IpLink {
  ifindex: number;
  ifname: string;
  flags?: string[];
  mtu?: number;
  link_type?: string;
  address?: string;
  /** The NIC's own MAC when it differs from its current one (a bond member's). */
  permaddr?: string;
  link?: string;
  master?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: {mode?: string; miimon?: number; primary?: string; ad_lacp_rate?: string; xmit_hash_policy?: string; protocol?: string; id?: number};
    info_slave_kind?: string;
    info_slave_data?: {perm_hwaddr?: string};
  };
  addr_info?: IpAddrInfo[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  flags?: string[];
  type?: string;
  nexthops?: unknown[];
}

export interface IpCaptures {
  /** `ip -j -d addr show` */
  addr: string;
  /** `ip -j route show table main` */
  route4: string;
  /** `ip -j -6 route show table main` */
  route6: string;
  /** Contents of the resolver configuration with upstream servers (not the resolved stub). */
  resolvConf: string;
  hostname?: string;
}

// Virtual kinds that never carry the host's uplink on their own: skipped, and said so.
const LOCAL_ONLY_KINDS = new Set(['veth', 'tun', 'tap', 'dummy', 'wireguard', 'vxlan', 'geneve', 'ipip', 'gre', 'sit', 'ip6tnl', 'macvtap']);
// Kinds that can carry the uplink but that the deploy environment does not rebuild yet.
const UNSUPPORTED_UPLINK_KINDS = new Set(['bridge', 'team', 'macvlan', 'ipvlan']);

/** The key of an interface in network.json: its MAC; a VLAN's is its MAC and VLAN id. */
export const interfaceKey = (i: Pick<NetInterface, 'mac' | 'vlan'>) => (i.vlan ? `${i.mac.toLowerCase()}.${i.vlan.id}` : i.mac.toLowerCase());

/** Parents before what rides on them: NICs, then bonds, then VLANs (the order to create them in). */
export function interfacesInOrder(net: NetworkConfig): NetInterface[] {
  const rank = (i: NetInterface) => (i.vlan ? 2 : i.bond ? 1 : 0);
  return Object.values(net.interfaces).sort((a, b) => rank(a) - rank(b) || interfaceKey(a).localeCompare(interfaceKey(b)));
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text || '[]') as T;
  } catch (err) {
    throw preconditionError('network-capture-invalid', `Could not read the output of "${what}" as JSON.`, 'anemos needs iproute2 with JSON output (ip -j); install a current iproute2.');
  }
}

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function ipv6ToBigInt(ip: string): bigint {
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}

export function inSubnet(ip: string, net: string, prefix: number): boolean {
  if (ip.includes(':') !== net.includes(':')) return false;
  if (ip.includes(':')) {
    const shift = BigInt(128 - prefix);
    return ipv6ToBigInt(ip) >> shift === ipv6ToBigInt(net) >> shift;
  }
  if (prefix === 0) return true;
  const shift = 32 - prefix;
  return Math.floor(ipv4ToInt(ip) / 2 ** shift) === Math.floor(ipv4ToInt(net) / 2 ** shift);
}

export function parseResolvConf(text: string): {servers: string[]; search: string[]} {
  const servers: string[] = [];
  const search: string[] = [];
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.replace(/[#;].*/, '').trim().split(/\s+/);
    if (key === 'nameserver' && rest[0] && !servers.includes(rest[0])) servers.push(rest[0]);
    if ((key === 'search' || key === 'domain') && rest.length) for (const d of rest) if (!search.includes(d)) search.push(d);
  }
  return {servers, search};
}

/** systemd-resolved's stub answers only on the host; its upstream list is elsewhere. */
export const isResolvedStub = (servers: string[]) => servers.length > 0 && servers.every((s) => s === '127.0.0.53' || s === '127.0.0.54');

function routeFamily(dst: string, gateway?: string): 4 | 6 {
  return dst.includes(':') || gateway?.includes(':') ? 6 : 4;
}

export function parseNetwork(cap: IpCaptures): NetworkConfig {
  const links = parseJson<IpLink[]>(cap.addr, 'ip -j -d addr');
  const routes = [...parseJson<IpRoute[]>(cap.route4, 'ip -j route'), ...parseJson<IpRoute[]>(cap.route6, 'ip -j -6 route')];
  const byName = new Map(links.map((l) => [l.ifname, l]));
  const interfaces: Record<string, NetInterface> = {};
  const skipped: NetworkConfig['skipped'] = [];

  const uplinkDevs = new Set(routes.filter((r) => r.dst === 'default').flatMap((r) => (r.dev ? [r.dev] : [])));
  for (const r of routes) {
    if (r.dst === 'default' && r.nexthops) {
      throw preconditionError('network-multipath', 'The default route has several next hops (multipath), which anemos does not carry into the deploy environment.', 'Set "network:" explicitly in anemos.conf with a single default route.');
    }
  }

  const kindOf = (l: IpLink) => l.linkinfo?.info_kind;
  const globalOf = (l: IpLink) => (l.addr_info ?? []).filter((a) => a.scope === 'global' && !a.tentative);
  const carries = (l: IpLink) => globalOf(l).length > 0 || uplinkDevs.has(l.ifname);
  // A NIC's own MAC: a bond member's current one is the bond's.
  const ownMac = (l: IpLink) => (l.permaddr ?? l.linkinfo?.info_slave_data?.perm_hwaddr ?? l.address ?? '').toLowerCase();
  const refuse = (link: IpLink, why: string, hint: string) => {
    throw preconditionError('network-unsupported-interface', `Interface ${link.ifname} ${why}.`, hint);
  };
  const explicitHint = 'Set "network:" in anemos.conf to the interfaces the deploy environment should bring up (see anemos network detect --json for the shape).';
  // Parents of the VLANs that carry something come along even without addresses of their own.
  const needed = new Set(links.filter((l) => kindOf(l) === 'vlan' && carries(l) && l.link).map((l) => l.link!));

  for (const link of links) {
    const kind = kindOf(link);
    const globalAddrs = globalOf(link);
    if (link.link_type === 'loopback' || (link.flags ?? []).includes('LOOPBACK')) continue;
    if (kind && UNSUPPORTED_UPLINK_KINDS.has(kind)) {
      if (uplinkDevs.has(link.ifname) || needed.has(link.ifname)) {
        throw preconditionError(
          'network-unsupported-interface',
          `Interface ${link.ifname} is a ${kind} and carries the default route; anemos does not rebuild ${kind} devices in the deploy environment yet.`,
          `Set "network:" in anemos.conf to a plain interface keyed by the MAC of a physical NIC that reaches the gateway, or use the bootloader method with a payload that brings its own network.`,
        );
      }
      if (globalAddrs.length) skipped.push({name: link.ifname, reason: `${kind} device without the default route: its addresses are not carried`});
      continue;
    }
    if (link.linkinfo?.info_slave_kind || link.master) {
      // A bond's members travel with the bond (when it is carried).
      if (link.master && byName.get(link.master)?.linkinfo?.info_kind === 'bond') continue;
      skipped.push({name: link.ifname, reason: `member of ${link.master ?? 'a master device'}`});
      continue;
    }
    if (kind && LOCAL_ONLY_KINDS.has(kind) && !uplinkDevs.has(link.ifname)) {
      if (globalAddrs.length) skipped.push({name: link.ifname, reason: `${kind} device without the default route`});
      continue;
    }
    if (link.link_type !== 'ether' || !link.address) {
      if (globalAddrs.length) skipped.push({name: link.ifname, reason: `link type ${link.link_type ?? 'unknown'} has no MAC to match`});
      continue;
    }
    if (!carries(link) && !needed.has(link.ifname)) continue;
    const mac = link.address.toLowerCase();
    let bond: NetBond | undefined;
    let vlan: NetVlan | undefined;
    if (kind === 'bond') {
      const data = link.linkinfo?.info_data ?? {};
      const members = links.filter((m) => m.master === link.ifname).map((m) => ({mac: ownMac(m), name: m.ifname}));
      if (!members.length) refuse(link, 'is a bond without members', 'Add its NICs to the bond, or set "network:" in anemos.conf.');
      const mode = data.mode as NetBond['mode'];
      if (!BOND_MODES.includes(mode)) refuse(link, `is a bond in mode "${data.mode ?? 'unknown'}", which anemos does not know`, explicitHint);
      const primary = members.find((m) => m.name === data.primary)?.mac;
      bond = {
        mode,
        members,
        ...(data.miimon !== undefined ? {miimon: data.miimon} : {}),
        ...(primary ? {primary} : {}),
        ...(mode === '802.3ad' && (data.ad_lacp_rate === 'fast' || data.ad_lacp_rate === 'slow') ? {lacpRate: data.ad_lacp_rate} : {}),
        ...((mode === '802.3ad' || mode === 'balance-xor') && data.xmit_hash_policy ? {xmitHashPolicy: data.xmit_hash_policy} : {}),
      };
    } else if (kind === 'vlan') {
      const data = link.linkinfo?.info_data ?? {};
      const parent = link.link ? byName.get(link.link) : undefined;
      if ((data.protocol ?? '802.1Q') !== '802.1Q') refuse(link, `is an ${data.protocol} (QinQ) VLAN; anemos rebuilds 802.1Q VLANs only`, explicitHint);
      if (!parent || data.id === undefined) refuse(link, 'is a VLAN whose parent interface or id ip(8) does not show', explicitHint);
      const parentKind = kindOf(parent!);
      if ((parentKind && parentKind !== 'bond') || parent!.master) refuse(link, `is a VLAN on ${parent!.ifname}, which is neither a NIC nor a bond`, explicitHint);
      vlan = {id: data.id!, link: parent!.address!.toLowerCase()};
    }
    const v4 = globalAddrs.filter((a) => a.family === 'inet');
    const v6 = globalAddrs.filter((a) => a.family === 'inet6');
    const entry: NetInterface = {
      mac,
      name: link.ifname,
      ...(bond ? {bond} : {}),
      ...(vlan ? {vlan} : {}),
      ...(link.mtu && link.mtu !== 1500 ? {mtu: link.mtu} : {}),
      dhcp4: v4.some((a) => a.dynamic),
      slaac: v6.some((a) => a.dynamic),
      addresses: globalAddrs.map((a) => ({
        address: a.local,
        prefix: a.prefixlen,
        family: a.family === 'inet' ? 4 : 6,
        ...(a.dynamic ? {dynamic: true} : {}),
      })),
      routes: [],
    };
    const key = interfaceKey(entry);
    if (interfaces[key]) {
      throw preconditionError('network-duplicate-mac', `Interfaces ${interfaces[key].name} and ${link.ifname} share MAC ${mac}; anemos matches interfaces by MAC.`, 'Set "network:" explicitly in anemos.conf.');
    }
    interfaces[key] = entry;
  }

  const ifaceByName = new Map(Object.values(interfaces).map((i) => [i.name, i]));
  for (const r of routes) {
    if (!r.dev || (r.type && r.type !== 'unicast')) continue;
    const iface = ifaceByName.get(r.dev);
    if (!iface) continue;
    // The kernel recreates prefix routes for each address; link-local and multicast are automatic.
    if (r.protocol === 'kernel' || r.dst.startsWith('fe80:') || r.dst.startsWith('ff00:') || r.dst === 'multicast') continue;
    const family = routeFamily(r.dst, r.gateway);
    const own = iface.addresses.filter((a) => a.family === family);
    const onlink = Boolean(r.gateway) && ((r.flags ?? []).includes('onlink') || (!r.gateway!.startsWith('fe80:') && !own.some((a) => inSubnet(r.gateway!, a.address, a.prefix))));
    iface.routes.push({
      to: r.dst,
      ...(r.gateway ? {via: r.gateway} : {}),
      ...(onlink ? {onlink: true} : {}),
      ...(r.metric !== undefined ? {metric: r.metric} : {}),
      family,
      ...(r.protocol === 'dhcp' || r.protocol === 'ra' ? {dynamic: true} : {}),
    });
  }
  // Device routes first, default routes last: a gateway must be reachable before it is used.
  const rank = (r: NetRoute) => (r.to === 'default' ? 2 : r.via ? 1 : 0);
  for (const iface of Object.values(interfaces)) iface.routes.sort((a, b) => rank(a) - rank(b));

  const dns = parseResolvConf(cap.resolvConf);
  if (isResolvedStub(dns.servers)) {
    throw preconditionError('network-resolved-stub', 'The resolver configuration given names only the systemd-resolved stub (127.0.0.53), which does not exist in the deploy environment.', 'Read /run/systemd/resolve/resolv.conf instead (anemos does this itself when it detects the stub).');
  }
  return {version: 1, ...(cap.hostname ? {hostname: cap.hostname} : {}), interfaces, dns, skipped};
}

/** Problems that make a captured network unusable for a deploy; empty when fine. */
export function checkNetworkUsable(net: NetworkConfig): string[] {
  const problems: string[] = [];
  const ifaces = Object.values(net.interfaces);
  if (!ifaces.length) problems.push('no interface with a MAC address carries a global address or the default route');
  const hasDefault = ifaces.some((i) => i.dhcp4 || i.slaac || i.routes.some((r) => r.to === 'default'));
  if (ifaces.length && !hasDefault) problems.push('no default route was found (and no interface uses DHCP or SLAAC)');
  return problems;
}
