// Render a carried-over network.json as the new system's own network configuration,
// so a static-IP server keeps its address after the re-image. Pure: returns files,
// the caller writes them under the new root. networkd and netplan match by MAC;
// ifupdown and Alpine need interface names, which the caller may map.

import {stringify} from 'yaml';
import {usageError} from '../shared/errors.js';
import type {NetInterface, NetRoute, NetworkConfig} from './network.js';

export const RENDER_FORMATS = ['ifupdown', 'networkd', 'alpine', 'netplan'] as const;
export type RenderFormat = (typeof RENDER_FORMATS)[number];

export interface RenderedFile {
  path: string;
  content: string;
  mode: number;
}

export interface RenderOptions {
  /** Interface name per MAC in the new system; default: the name on the host. */
  names?: Record<string, string>;
}

const HEADER = '# Written by anemos: the network of the system this one replaced.\n';

const ifaces = (net: NetworkConfig) => Object.values(net.interfaces).sort((a, b) => a.mac.localeCompare(b.mac));
const nameOf = (i: NetInterface, opts: RenderOptions) => opts.names?.[i.mac] ?? i.name;
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

function renderInterfaces(net: NetworkConfig, opts: RenderOptions): string {
  const out = [HEADER, 'auto lo', 'iface lo inet loopback', ''];
  for (const i of ifaces(net)) {
    const name = nameOf(i, opts);
    out.push(`# MAC ${i.mac}`, `auto ${name}`);
    for (const family of [4, 6] as const) {
      const dynamic = family === 4 ? i.dhcp4 : i.slaac;
      const inet = family === 4 ? 'inet' : 'inet6';
      const addrs = staticAddrs(i, family);
      const routes = staticRoutes(i).filter((r) => r.family === family);
      if (dynamic) out.push(`iface ${name} ${inet} ${family === 4 ? 'dhcp' : 'auto'}`);
      addrs.forEach((a, n) => {
        out.push(`iface ${name} ${inet} static`, `\taddress ${a.address}/${a.prefix}`);
        if (n === 0 && i.mtu && family === 4) out.push(`\tmtu ${i.mtu}`);
        // Routes go with the first static stanza; "onlink" needs ip(8), not ifupdown's gateway.
        if (n === 0 && !dynamic) for (const r of routes) out.push(`\tup ${ipRouteArgs(r, name)}`);
      });
      if (!addrs.length && !dynamic && routes.length) {
        out.push(`iface ${name} ${inet} manual`, `\tup ip link set ${name} up`);
        for (const r of routes) out.push(`\tup ${ipRouteArgs(r, name)}`);
      }
    }
    out.push('');
  }
  return out.join('\n');
}

function renderNetworkd(net: NetworkConfig): RenderedFile[] {
  return ifaces(net).map((i) => {
    const dhcp = i.dhcp4 ? 'ipv4' : 'no';
    const lines = [HEADER.trimEnd(), '[Match]', `MACAddress=${i.mac}`, ''];
    if (i.mtu) lines.push('[Link]', `MTUBytes=${i.mtu}`, '');
    lines.push('[Network]', `DHCP=${dhcp}`, `IPv6AcceptRA=${i.slaac ? 'yes' : 'no'}`);
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
    return {path: `etc/systemd/network/10-anemos-${i.mac.replace(/:/g, '')}.network`, content: lines.join('\n') + '\n', mode: 0o644};
  });
}

function renderNetplan(net: NetworkConfig): RenderedFile[] {
  const ethernets: Record<string, unknown> = {};
  ifaces(net).forEach((i, n) => {
    const addrs = [...staticAddrs(i, 4), ...staticAddrs(i, 6)].map((a) => `${a.address}/${a.prefix}`);
    ethernets[`anemos${n}`] = {
      match: {macaddress: i.mac},
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
  });
  // netplan refuses world-readable configuration files.
  return [{path: 'etc/netplan/60-anemos.yaml', content: HEADER + stringify({network: {version: 2, ethernets}}), mode: 0o600}];
}

export function renderNetwork(net: NetworkConfig, format: RenderFormat, opts: RenderOptions = {}): RenderedFile[] {
  const hostname: RenderedFile[] = net.hostname ? [{path: 'etc/hostname', content: `${net.hostname.split('.')[0]}\n`, mode: 0o644}] : [];
  switch (format) {
    case 'ifupdown':
    case 'alpine':
      return [{path: 'etc/network/interfaces', content: renderInterfaces(net, opts), mode: 0o644}, ...resolvConf(net), ...hostname];
    case 'networkd':
      return [...renderNetworkd(net), ...resolvConf(net), ...hostname];
    case 'netplan':
      return [...renderNetplan(net), ...hostname];
    default:
      throw usageError('network-render-format', `Unknown network format "${format as string}".`, `Use one of: ${RENDER_FORMATS.join(', ')}.`);
  }
}
