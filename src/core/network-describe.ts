// network.json as lines a person reads.
import type {NetworkConfig} from './network.js';

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
