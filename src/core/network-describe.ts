// network.json as lines a person reads.
import {interfacesInOrder, type NetworkConfig} from './network.js';

export function describeNetwork(net: NetworkConfig): string[] {
  const lines: string[] = [];
  for (const i of interfacesInOrder(net)) {
    lines.push(`${i.mac} (${i.name}${i.mtu ? `, mtu ${i.mtu}` : ''})${i.dhcp4 ? ' dhcp4' : ''}${i.slaac ? ' slaac' : ''}`);
    if (i.bond) {
      const b = i.bond;
      const opts = [b.miimon !== undefined ? `miimon ${b.miimon}` : '', b.lacpRate ? `lacp-rate ${b.lacpRate}` : '', b.xmitHashPolicy ? `hash ${b.xmitHashPolicy}` : ''].filter(Boolean);
      lines.push(`  bond ${b.mode}${opts.length ? ` (${opts.join(', ')})` : ''} over ${b.members.map((m) => `${m.name} ${m.mac}${m.mac === b.primary ? ' (primary)' : ''}`).join(', ')}`);
    }
    if (i.vlan) lines.push(`  vlan ${i.vlan.id} on ${net.interfaces[i.vlan.link]?.name ?? i.vlan.link}`);
    for (const a of i.addresses) lines.push(`  address ${a.address}/${a.prefix}${a.dynamic ? ' (dynamic)' : ''}`);
    for (const r of i.routes) lines.push(`  route ${r.to}${r.via ? ` via ${r.via}` : ''}${r.onlink ? ' onlink' : ''}${r.metric !== undefined ? ` metric ${r.metric}` : ''}${r.dynamic ? ' (dynamic)' : ''}`);
  }
  lines.push(`dns ${net.dns.servers.join(' ') || '(none)'}${net.dns.search.length ? ` search ${net.dns.search.join(' ')}` : ''}`);
  for (const s of net.skipped) lines.push(`not carried: ${s.name}: ${s.reason}`);
  return lines;
}
