// The addresses `anemos serve --dhcp full` hands out on an isolated boot network: a range
// the operator named (--dhcp-range START-END, inside the boot interface's subnet, never
// the server's own address), one lease per MAC, kept across restarts by the caller. Pure:
// time comes in as an argument, so expiry and reuse are tested without waiting.

import {ipv4ToInt} from '../network.js';

export interface Lease {
  mac: string;
  address: string;
  /** Milliseconds since the epoch; an offer not taken yet expires within OFFER_SECONDS. */
  expires: number;
  /** An offer not taken yet (the client may take another server's). */
  offered?: boolean;
}

export interface Range {
  start: string;
  end: string;
  /** The subnet's prefix length (the mask the clients are given). */
  prefix: number;
}

/** How long an offered address is held for the client that was offered it. */
export const OFFER_SECONDS = 60;
/** How long an address a client declined (someone else has it, RFC 2131 3.1.5) is not offered. */
export const DECLINED_SECONDS = 600;

/** An address from a peer or a flag: its number when it is dotted-quad IPv4, else undefined. */
const toNumber = (a: string): number | undefined => (/^(\d{1,3})(\.\d{1,3}){3}$/.test(a) && a.split('.').every((x) => Number(x) <= 255) ? ipv4ToInt(a) : undefined);
const toText = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** --dhcp-range START-END, checked against the interface's address and prefix: the range, or what is wrong with it. */
export function parseRange(text: string, iface: {address: string; prefix: number}): {ok: true; range: Range} | {ok: false; error: string} {
  const m = text.trim().match(/^([\d.]+)\s*-\s*([\d.]+)$/);
  const start = m && toNumber(m[1]!);
  const end = m && toNumber(m[2]!);
  const server = toNumber(iface.address)!;
  if (!m || start === undefined || end === undefined || start === null || end === null) return {ok: false, error: `--dhcp-range ${text} is not START-END (two IPv4 addresses, e.g. 10.0.0.100-10.0.0.199)`};
  if (end < start) return {ok: false, error: `--dhcp-range ${text} ends before it starts`};
  const size = 2 ** (32 - iface.prefix);
  const network = Math.floor(server / size) * size;
  const broadcast = network + size - 1;
  if (iface.prefix > 30) return {ok: false, error: `the boot interface's subnet (${iface.address}/${iface.prefix}) has no room for clients`};
  if (start <= network || end >= broadcast) return {ok: false, error: `--dhcp-range ${text} is not inside the boot interface's subnet ${toText(network)}/${iface.prefix} (without its network and broadcast addresses)`};
  if (server >= start && server <= end) return {ok: false, error: `--dhcp-range ${text} holds this server's own address ${iface.address}`};
  return {ok: true, range: {start: m[1]!, end: m[2]!, prefix: iface.prefix}};
}

export function subnetMask(prefix: number): string {
  return toText(prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)) >>> 0);
}

/** The lease table: which address each MAC has, and what is free. */
export class Leases {
  private readonly byMac = new Map<string, Lease>();
  private readonly declined = new Map<string, number>();
  private readonly start: number;
  private readonly end: number;

  constructor(readonly range: Range, kept: Lease[] = []) {
    this.start = toNumber(range.start)!;
    this.end = toNumber(range.end)!;
    // Leases kept from before: those still inside the range (it may have changed since).
    for (const l of kept) {
      const n = toNumber(l.address);
      if (n !== undefined && n >= this.start && n <= this.end && !l.offered) this.byMac.set(l.mac, {mac: l.mac, address: l.address, expires: l.expires});
    }
  }

  /** Who holds each address now (unexpired leases and offers). */
  private held(now: number): Map<string, string> {
    const h = new Map<string, string>();
    for (const l of this.byMac.values()) if (l.expires > now) h.set(l.address, l.mac);
    return h;
  }

  private usable(address: string, mac: string, now: number, held = this.held(now)): boolean {
    const n = toNumber(address);
    if (n === undefined || n < this.start || n > this.end) return false;
    if ((this.declined.get(address) ?? 0) > now) return false;
    const h = held.get(address);
    return !h || h === mac;
  }

  /**
   * The address to offer this MAC: the one it has (or had, if no one took it since), the
   * one it asks for when free, else the lowest free one (an expired lease's address is
   * free); undefined when the range is full.
   */
  offer(mac: string, requested: string | undefined, now: number): string | undefined {
    const held = this.held(now);
    const had = this.byMac.get(mac);
    let address: string | undefined;
    if (had && this.usable(had.address, mac, now, held)) address = had.address;
    else if (requested && this.usable(requested, mac, now, held)) address = requested;
    else for (let n = this.start; n <= this.end && !address; n++) if (this.usable(toText(n), mac, now, held)) address = toText(n);
    if (!address) return undefined;
    // An offer holds the address a short while; a bound lease stays as it is until the REQUEST.
    if (!had || had.address !== address || had.offered || had.expires <= now) this.byMac.set(mac, {mac, address, expires: now + OFFER_SECONDS * 1000, offered: true});
    return address;
  }

  /** A REQUEST for `address`: the lease (bound for `seconds`), or why it is refused (a NAK). */
  commit(mac: string, address: string, seconds: number, now: number): {lease: Lease} | {refused: string} {
    if (!this.usable(address, mac, now)) {
      const n = toNumber(address);
      return {refused: n === undefined || n < this.start || n > this.end ? `${address} is not in this server's range ${this.range.start}-${this.range.end}` : `${address} is another client's`};
    }
    const lease = {mac, address, expires: now + seconds * 1000};
    this.byMac.set(mac, lease);
    return {lease};
  }

  /** A RELEASE: the address is free again (only its holder may release it). */
  release(mac: string, address: string): boolean {
    const l = this.byMac.get(mac);
    if (!l || l.address !== address) return false;
    this.byMac.delete(mac);
    return true;
  }

  /** A DECLINE: the client found the address in use; it is not offered for a while. */
  decline(mac: string, address: string, now: number): void {
    const l = this.byMac.get(mac);
    if (l?.address === address) this.byMac.delete(mac);
    if (toNumber(address) !== undefined) this.declined.set(address, now + DECLINED_SECONDS * 1000);
  }

  /** The bound leases (not offers), to be kept across a restart. */
  bound(): Lease[] {
    return [...this.byMac.values()].filter((l) => !l.offered).sort((a, b) => toNumber(a.address)! - toNumber(b.address)!);
  }
}
