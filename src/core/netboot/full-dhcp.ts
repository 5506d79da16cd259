// anemos serve --dhcp full: the DHCP server of an isolated boot network (RFC 2131), for
// every client on it, in the range the operator named: an address to each (the deploy
// environment and the systems it deploys take theirs by DHCP too), and to the clients
// anemos boots the same boot information a proxy answer carries. Pure: the lease table
// and the boot part come in, the answer (or the reason for none) goes out.

import {OPTION, ipv4Bytes, text, type DhcpMessage, type DhcpReply} from './dhcp.js';
import {subnetMask, type Leases} from './leases.js';

export interface FullDhcp {
  leases: Leases;
  /** This server's address: its identifier (option 54). */
  server: string;
  leaseSeconds: number;
}

const u32 = (n: number) => Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
const addressOption = (b: Uint8Array | undefined) => (b?.length === 4 ? [...b].join('.') : undefined);

/**
 * The answer to a message on port 67. `boot` is the proxy answer this client would get
 * (a PXE or iPXE client anemos boots), whose boot fields and options are carried over.
 * `changed` says the lease table changed (the caller keeps it).
 */
export function fullAnswer(m: DhcpMessage, f: FullDhcp, boot: DhcpReply | undefined, now: number): {reply?: DhcpReply; said: string; changed: boolean} {
  const mac = m.chaddr;
  const requested = addressOption(m.options.get(OPTION.requestedAddress));
  const serverId = addressOption(m.options.get(OPTION.serverId));
  const granted = (type: 'offer' | 'ack', yiaddr: string | undefined): DhcpReply => ({
    type,
    to: m,
    ...(yiaddr ? {yiaddr} : {}),
    ...(boot?.siaddr ? {siaddr: boot.siaddr} : {}),
    ...(boot?.file ? {file: boot.file} : {}),
    options: [
      [OPTION.serverId, ipv4Bytes(f.server)],
      [OPTION.subnetMask, ipv4Bytes(subnetMask(f.leases.range.prefix))],
      ...(yiaddr
        ? ([
            [OPTION.leaseTime, u32(f.leaseSeconds)],
            [OPTION.renewalTime, u32(Math.floor(f.leaseSeconds / 2))],
            [OPTION.rebindingTime, u32(Math.floor((f.leaseSeconds * 7) / 8))],
          ] as [number, Uint8Array][])
        : []),
      ...(boot?.options ?? []).filter(([code]) => code !== OPTION.serverId),
    ],
  });
  switch (m.type) {
    case 'discover': {
      const address = f.leases.offer(mac, requested, now);
      if (!address) return {said: `no address left in ${f.leases.range.start}-${f.leases.range.end}: no offer`, changed: false};
      return {reply: granted('offer', address), said: `offer ${address}`, changed: false};
    }
    case 'request': {
      // Selecting another server's offer: this one's is let go (it expires by itself).
      if (serverId && serverId !== f.server) return {said: `took ${serverId}'s offer`, changed: false};
      const address = requested ?? (m.ciaddr !== '0.0.0.0' ? m.ciaddr : undefined);
      if (!address) return {said: 'a request naming no address: ignored', changed: false};
      const r = f.leases.commit(mac, address, f.leaseSeconds, now);
      if ('refused' in r) return {reply: {type: 'nak', to: {...m, broadcast: true}, options: [[OPTION.serverId, ipv4Bytes(f.server)], [OPTION.message, text(r.refused)]]}, said: `nak: ${r.refused}`, changed: false};
      return {reply: granted('ack', address), said: `ack ${address} for ${f.leaseSeconds} s`, changed: true};
    }
    case 'release':
      return {said: `release of ${m.ciaddr}`, changed: f.leases.release(mac, m.ciaddr)};
    case 'decline': {
      if (!requested) return {said: 'a decline naming no address: ignored', changed: false};
      f.leases.decline(mac, requested, now);
      return {said: `declined ${requested} (in use by someone else): not offered for a while`, changed: true};
    }
    case 'inform':
      return {reply: granted('ack', undefined), said: 'inform: the options, no address', changed: false};
    default:
      return {said: `a ${m.type} from a client: ignored`, changed: false};
  }
}
