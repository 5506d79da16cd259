// Who is asking, from a DHCP request (RFC 4578 and the PXE 2.1 and UEFI HTTP Boot
// conventions): a firmware PXE client, iPXE (already chainloaded: it must not be sent
// iPXE again, or it loops), or a UEFI HTTP Boot client; its architecture (option 93); and
// the proxyDHCP answer that gives such a client its boot file and nothing else.

import {OPTION, optionText, text, ipv4Bytes, type DhcpMessage, type DhcpReply} from './dhcp.js';

/** Processor architecture types of option 93 (IANA registry), the ones anemos boots. */
const ARCHES: Record<number, {firmware: 'bios' | 'uefi'; http: boolean}> = {
  0: {firmware: 'bios', http: false},
  7: {firmware: 'uefi', http: false},
  9: {firmware: 'uefi', http: false},
  16: {firmware: 'uefi', http: true},
};

export type BootClient = 'pxe' | 'ipxe' | 'http-boot';

export interface BootRequest {
  mac: string;
  client: BootClient;
  firmware: 'bios' | 'uefi';
  /** Option 93 as sent. */
  arch: number;
  /** The message type: a proxyDHCP server answers discover (port 67) and request (port 4011). */
  type: DhcpMessage['type'];
  /** Option 97 in hex, as the client sent it (informational: machines are found by MAC). */
  uuid?: string;
}

export type Classified = {boot: BootRequest} | {ignore: string};

/**
 * A request a boot service answers, or why it is left alone: a client that is not booting
 * from the network (no PXEClient or HTTPClient vendor class), or one anemos has no boot
 * file for (an architecture other than x86 BIOS and x86-64 UEFI).
 */
export function classifyRequest(m: DhcpMessage): Classified {
  if (m.op !== 'request') return {ignore: 'a reply, not a request'};
  if (m.type !== 'discover' && m.type !== 'request') return {ignore: `a ${m.type}, not a discover or request`};
  const vendor = optionText(m.options.get(OPTION.vendorClass)) ?? '';
  const pxe = vendor.startsWith('PXEClient');
  const http = vendor.startsWith('HTTPClient');
  if (!pxe && !http) return {ignore: vendor ? `vendor class "${vendor.slice(0, 40)}": not a network boot` : 'no vendor class: not a network boot'};
  const archBytes = m.options.get(OPTION.clientArch);
  // PXE 2.1 clients always send option 93; a missing one is read as BIOS, as pixiecore does.
  const arch = archBytes && archBytes.length >= 2 ? (archBytes[0]! << 8) | archBytes[1]! : 0;
  const known = ARCHES[arch];
  if (!known) return {ignore: `client architecture ${arch} (option 93): anemos boots x86 BIOS (0) and x86-64 UEFI (7, 9, 16)`};
  // iPXE says so in its user class, and always sends its own encapsulated options (175).
  const ipxe = optionText(m.options.get(OPTION.userClass)) === 'iPXE' || m.options.has(OPTION.ipxeEncapsulated);
  const uuid = m.options.get(OPTION.clientUuid);
  return {
    boot: {
      mac: m.chaddr,
      client: ipxe ? 'ipxe' : http || known.http ? 'http-boot' : 'pxe',
      firmware: known.firmware,
      arch,
      type: m.type,
      ...(uuid && uuid.length === 17 && uuid[0] === 0 ? {uuid: [...uuid.subarray(1)].map((b) => b.toString(16).padStart(2, '0')).join('')} : {}),
    },
  };
}

/** The iPXE build a firmware PXE client chainloads (Debian's ipxe package ships both). */
export function ipxeBinary(firmware: BootRequest['firmware']): string {
  // undionly.kpxe drives the NIC through the card's own PXE stack (any NIC a BIOS boots
  // from); snponly.efi through the firmware's network protocol (any NIC UEFI boots from).
  return firmware === 'bios' ? 'undionly.kpxe' : 'snponly.efi';
}

export interface ProxyServer {
  /** This server's address on the boot segment: the "next server" and server identifier. */
  address: string;
  /** HTTP base (http://ADDRESS:PORT) of the boot endpoints. */
  httpBase: string;
}

/**
 * The proxyDHCP answer (no address: the site's DHCP gives that): a firmware PXE client
 * gets iPXE by TFTP, a UEFI HTTP Boot client iPXE by HTTP, and iPXE the script URL that
 * says what this machine boots. `reply` is offer to a discover, ack to a request (4011).
 */
export function proxyAnswer(req: BootRequest, to: DhcpMessage, server: ProxyServer): DhcpReply {
  const type = req.type === 'discover' ? 'offer' : 'ack';
  const file =
    req.client === 'ipxe' ? `${server.httpBase}/boot/ipxe?mac=${req.mac}&firmware=${req.firmware}` : req.client === 'http-boot' ? `${server.httpBase}/boot/${ipxeBinary('uefi')}` : ipxeBinary(req.firmware);
  const options: DhcpReply['options'] = [
    [OPTION.serverId, ipv4Bytes(server.address)],
    // PXE clients need the vendor class echoed; HTTP Boot clients need theirs.
    [OPTION.vendorClass, text(req.client === 'http-boot' ? 'HTTPClient' : 'PXEClient')],
  ];
  // PXE vendor options: discovery control 8 = take the boot file from this answer, no menu, no boot server discovery.
  if (req.client === 'pxe') options.push([OPTION.vendorSpecific, Uint8Array.of(6, 1, 8, 255)]);
  // The boot file name as an option too: UEFI firmware reads it from there, iPXE from either.
  options.push([OPTION.bootfile, text(file)]);
  return {
    type,
    // The broadcast flag set: an answer with no address can reach the client only as a
    // broadcast, and a relay (RFC 1542 4.1.2) otherwise unicasts it to yiaddr, which is 0.
    to: {...to, broadcast: true},
    // Always this server, also with an HTTP boot file: iPXE takes a proxy answer as one only
    // when it has a next server and a boot file (its dhcp_has_pxeopts), or it ignores it.
    siaddr: server.address,
    ...(file.length < 128 ? {file} : {}),
    options,
  };
}
