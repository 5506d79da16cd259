// Render a carried-over network.json as the new system's own network configuration,
// so a static-IP server keeps its address after the re-image. Pure: returns files,
// the caller writes them under the new root. networkd and netplan match by MAC;
// ifupdown and Alpine need interface names, which the caller may map.

import {stringify} from 'yaml';
import {usageError} from '../shared/errors.js';
import {interfaceKey, interfacesInOrder, type NetInterface, type NetRoute, type NetworkConfig} from './network.js';

export const RENDER_FORMATS = ['ifupdown', 'networkd', 'alpine', 'netplan'] as const;
export type RenderFormat = (typeof RENDER_FORMATS)[number];

export interface RenderedFile {
  path: string;
  content: string;
  mode: number;
}

export interface RenderOptions {
  /** Interface name per MAC of a NIC (bond members included) in the new system; default: the name on the host. Bonds and VLANs keep their names. */
  names?: Record<string, string>;
}

const HEADER = '# Written by anemos: the network of the system this one replaced.\n';

// Parents first (a NIC, then a bond, then the VLANs on them), each group by key.
const ifaces = (net: NetworkConfig) => interfacesInOrder(net);
const nameOf = (i: NetInterface, opts: RenderOptions) => (i.bond || i.vlan ? i.name : (opts.names?.[i.mac] ?? i.name));
const memberName = (m: {mac: string; name: string}, opts: RenderOptions) => opts.names?.[m.mac] ?? m.name;
/** The interfaces that are VLANs on `parent`. */
const vlansOn = (net: NetworkConfig, parent: NetInterface) => ifaces(net).filter((v) => v.vlan?.link === interfaceKey(parent));
const parentOf = (net: NetworkConfig, i: NetInterface) => (i.vlan ? net.interfaces[i.vlan.link] : undefined);
const primaryMember = (i: NetInterface) => i.bond?.members.find((m) => m.mac === i.bond!.primary);
const automatic = (i: NetInterface, family: 4 | 6) => (family === 4 ? i.dhcp4 : i.slaac);
const staticAddrs = (i: NetInterface, family: 4 | 6) => i.addresses.filter((a) => a.family === family && !(a.dynamic && automatic(i, family)));
/** Routes to write down: those DHCP or RAs will bring again are left to them. */
const staticRoutes = (i: NetInterface) => i.routes.filter((r) => !(r.dynamic && automatic(i, r.family)));

function resolvConf(net: NetworkConfig): RenderedFile[] {
  if (!net.dns.servers.length && !net.dns.search.length) return [];
  const lines = [HEADER.trimEnd(), ...(net.dns.search.length ? [`search ${net.dns.search.join(' ')}`] : []), ...net.dns.servers.map((s) => `nameserver ${s}`)];
  return [{path: 'etc/resolv.conf', content: lines.join('\n') + '\n', mode: 0o644}];
}

function ipRouteArgs(r: NetRoute, dev: string): string {
  return `ip -${r.family} route add ${r.to}${r.via ? ` via ${r.via}` : ''} dev ${dev}${r.onlink ? ' onlink' : ''}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`;
}

/** What an ifupdown stanza says about the link itself (MAC, bond, VLAN), once per interface. */
function linkOptions(net: NetworkConfig, i: NetInterface, opts: RenderOptions, alpine: boolean): string[] {
  const out: string[] = [];
  if (i.bond) {
    const b = i.bond;
    out.push(`\thwaddress ${alpine ? '' : 'ether '}${i.mac}`);
    out.push(`\t${alpine ? 'bond-members' : 'bond-slaves'} ${b.members.map((m) => memberName(m, opts)).join(' ')}`, `\tbond-mode ${b.mode}`);
    if (b.miimon !== undefined) out.push(`\tbond-miimon ${b.miimon}`);
    const primary = primaryMember(i);
    if (primary) out.push(`\tbond-primary ${memberName(primary, opts)}`);
    if (b.lacpRate) out.push(`\tbond-lacp-rate ${b.lacpRate}`);
    if (b.xmitHashPolicy) out.push(`\tbond-xmit-hash-policy ${b.xmitHashPolicy}`);
  }
  const parent = parentOf(net, i);
  if (i.vlan && parent) {
    out.push(`\tvlan-raw-device ${nameOf(parent, opts)}`);
    if (alpine) out.push(`\tvlan-id ${i.vlan.id}`);
  }
  if (i.mtu) out.push(`\tmtu ${i.mtu}`);
  return out;
}

function describeLink(i: NetInterface, alpine: boolean): string {
  // Debian's ifupdown reads bond-* and vlan-* only with these packages installed; ifupdown-ng has them built in.
  if (i.bond) return `# bond, MAC ${i.mac}: ${i.bond.mode} over ${i.bond.members.map((m) => `${m.name} (${m.mac})`).join(', ')}${alpine ? '' : ' (needs ifenslave)'}`;
  if (i.vlan) return `# VLAN ${i.vlan.id}, MAC ${i.mac}${alpine ? '' : ' (needs vlan)'}`;
  return `# MAC ${i.mac}`;
}

function renderInterfaces(net: NetworkConfig, opts: RenderOptions, alpine: boolean): string {
  const out = [HEADER, 'auto lo', 'iface lo inet loopback', ''];
  for (const i of ifaces(net)) {
    const name = nameOf(i, opts);
    out.push(describeLink(i, alpine), `auto ${name}`);
    // The link's own options go in the first stanza; an interface with none gets a manual one.
    let link: string[] | undefined = linkOptions(net, i, opts, alpine);
    const takeLink = () => {
      const l = link ?? [];
      link = undefined;
      return l;
    };
    for (const family of [4, 6] as const) {
      const dynamic = family === 4 ? i.dhcp4 : i.slaac;
      const inet = family === 4 ? 'inet' : 'inet6';
      const addrs = staticAddrs(i, family);
      const routes = staticRoutes(i).filter((r) => r.family === family);
      if (dynamic) out.push(`iface ${name} ${inet} ${family === 4 ? 'dhcp' : 'auto'}`, ...takeLink());
      addrs.forEach((a, n) => {
        out.push(`iface ${name} ${inet} static`, `\taddress ${a.address}/${a.prefix}`, ...takeLink());
        // Routes go with the first static stanza; "onlink" needs ip(8), not ifupdown's gateway.
        if (n === 0 && !dynamic) for (const r of routes) out.push(`\tup ${ipRouteArgs(r, name)}`);
      });
      if (!addrs.length && !dynamic && routes.length) {
        out.push(`iface ${name} ${inet} manual`, ...takeLink(), `\tup ip link set ${name} up`);
        for (const r of routes) out.push(`\tup ${ipRouteArgs(r, name)}`);
      }
    }
    if (link) out.push(`iface ${name} inet manual`, ...takeLink());
    out.push('');
  }
  return out.join('\n');
}

const fileName = (i: NetInterface) => (i.bond || i.vlan ? i.name : i.mac.replace(/:/g, ''));

function renderNetworkd(net: NetworkConfig, opts: RenderOptions): RenderedFile[] {
  const files: RenderedFile[] = [];
  const file = (name: string, lines: string[]) => files.push({path: `etc/systemd/network/${name}`, content: lines.join('\n') + '\n', mode: 0o644});
  for (const i of ifaces(net)) {
    const name = nameOf(i, opts);
    const vlans = vlansOn(net, i);
    if (i.bond) {
      const b = i.bond;
      const bond = ['[Bond]', `Mode=${b.mode}`];
      if (b.miimon !== undefined) bond.push(`MIIMonitorSec=${b.miimon}ms`);
      if (b.lacpRate) bond.push(`LACPTransmitRate=${b.lacpRate}`);
      if (b.xmitHashPolicy) bond.push(`TransmitHashPolicy=${b.xmitHashPolicy}`);
      // The bond keeps the host's MAC: networkd would otherwise make one up from the machine id.
      file(`10-anemos-${fileName(i)}.netdev`, [HEADER.trimEnd(), '[NetDev]', `Name=${name}`, 'Kind=bond', `MACAddress=${i.mac}`, '', ...bond]);
      // Members by their own MAC: once enslaved, their current one is the bond's.
      for (const m of b.members) {
        file(`10-anemos-${m.mac.replace(/:/g, '')}.network`, [HEADER.trimEnd(), '[Match]', `PermanentMACAddress=${m.mac}`, '', '[Network]', `Bond=${name}`, ...(m.mac === b.primary ? ['PrimarySlave=yes'] : [])]);
      }
    }
    if (i.vlan) file(`10-anemos-${fileName(i)}.netdev`, [HEADER.trimEnd(), '[NetDev]', `Name=${name}`, 'Kind=vlan', '', '[VLAN]', `Id=${i.vlan.id}`]);
    const dhcp = i.dhcp4 ? 'ipv4' : 'no';
    // A VLAN has its parent's MAC: the parent NIC's file matches the NIC only.
    const match = i.bond || i.vlan ? [`Name=${name}`] : [`MACAddress=${i.mac}`, ...(vlans.length ? ['Type=ether'] : [])];
    const lines = [HEADER.trimEnd(), '[Match]', ...match, ''];
    if (i.mtu) lines.push('[Link]', `MTUBytes=${i.mtu}`, '');
    lines.push('[Network]', `DHCP=${dhcp}`, `IPv6AcceptRA=${i.slaac ? 'yes' : 'no'}`);
    for (const v of vlans) lines.push(`VLAN=${nameOf(v, opts)}`);
    for (const a of [...staticAddrs(i, 4), ...staticAddrs(i, 6)]) lines.push(`Address=${a.address}/${a.prefix}`);
    for (const s of net.dns.servers) lines.push(`DNS=${s}`);
    if (net.dns.search.length) lines.push(`Domains=${net.dns.search.join(' ')}`);
    for (const r of staticRoutes(i)) {
      lines.push('', '[Route]');
      if (r.to !== 'default') lines.push(`Destination=${r.to}`);
      if (r.via) lines.push(`Gateway=${r.via}`);
      else lines.push('Scope=link');
      if (r.onlink) lines.push('GatewayOnLink=yes');
      if (r.metric !== undefined) lines.push(`Metric=${r.metric}`);
    }
    file(`10-anemos-${fileName(i)}.network`, lines);
  }
  return files;
}

function renderNetplan(net: NetworkConfig, opts: RenderOptions): RenderedFile[] {
  const ethernets: Record<string, unknown> = {};
  const bonds: Record<string, unknown> = {};
  const vlans: Record<string, unknown> = {};
  const ids = new Map<string, string>();
  const idOf = (mac: string) => ids.get(mac) ?? (ids.set(mac, `anemos${ids.size}`), ids.get(mac)!);
  const ipConfig = (i: NetInterface) => {
    const addrs = [...staticAddrs(i, 4), ...staticAddrs(i, 6)].map((a) => `${a.address}/${a.prefix}`);
    return {
      dhcp4: i.dhcp4,
      dhcp6: false,
      'accept-ra': i.slaac,
      ...(i.mtu ? {mtu: i.mtu} : {}),
      ...(addrs.length ? {addresses: addrs} : {}),
      ...(staticRoutes(i).length
        ? {routes: staticRoutes(i).map((r) => ({to: r.to, ...(r.via ? {via: r.via} : {scope: 'link'}), ...(r.onlink ? {'on-link': true} : {}), ...(r.metric !== undefined ? {metric: r.metric} : {})}))}
        : {}),
      ...(net.dns.servers.length || net.dns.search.length ? {nameservers: {addresses: net.dns.servers, search: net.dns.search}} : {}),
    };
  };
  const refOf = (i: NetInterface) => (i.bond || i.vlan ? nameOf(i, opts) : idOf(i.mac));
  for (const i of ifaces(net)) {
    if (i.bond) {
      const b = i.bond;
      for (const m of b.members) ethernets[idOf(m.mac)] = {match: {macaddress: m.mac}, dhcp4: false, dhcp6: false, 'accept-ra': false};
      const primary = primaryMember(i);
      const parameters = {
        mode: b.mode,
        ...(b.miimon !== undefined ? {'mii-monitor-interval': b.miimon} : {}),
        ...(primary ? {primary: idOf(primary.mac)} : {}),
        ...(b.lacpRate ? {'lacp-rate': b.lacpRate} : {}),
        ...(b.xmitHashPolicy ? {'transmit-hash-policy': b.xmitHashPolicy} : {}),
      };
      bonds[refOf(i)] = {interfaces: b.members.map((m) => idOf(m.mac)), macaddress: i.mac, parameters, ...ipConfig(i)};
    } else if (i.vlan) {
      const parent = parentOf(net, i);
      vlans[refOf(i)] = {id: i.vlan.id, link: parent ? refOf(parent) : i.vlan.link, ...ipConfig(i)};
    } else {
      ethernets[refOf(i)] = {match: {macaddress: i.mac}, ...ipConfig(i)};
    }
  }
  const network = {version: 2, ethernets, ...(Object.keys(bonds).length ? {bonds} : {}), ...(Object.keys(vlans).length ? {vlans} : {})};
  // netplan refuses world-readable configuration files.
  return [{path: 'etc/netplan/60-anemos.yaml', content: HEADER + stringify({network}, {aliasDuplicateObjects: false}), mode: 0o600}];
}

export function renderNetwork(net: NetworkConfig, format: RenderFormat, opts: RenderOptions = {}): RenderedFile[] {
  const hostname: RenderedFile[] = net.hostname ? [{path: 'etc/hostname', content: `${net.hostname.split('.')[0]}\n`, mode: 0o644}] : [];
  switch (format) {
    case 'ifupdown':
    case 'alpine':
      return [{path: 'etc/network/interfaces', content: renderInterfaces(net, opts, format === 'alpine'), mode: 0o644}, ...resolvConf(net), ...hostname];
    case 'networkd':
      return [...renderNetworkd(net, opts), ...resolvConf(net), ...hostname];
    case 'netplan':
      return [...renderNetplan(net, opts), ...hostname];
    default:
      throw usageError('network-render-format', `Unknown network format "${format as string}".`, `Use one of: ${RENDER_FORMATS.join(', ')}.`);
  }
}
