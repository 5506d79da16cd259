import {describe, expect, it} from 'vitest';
import {OPTION, parseDhcp, encodeDhcp, type DhcpMessage, type DhcpReply} from './dhcp.js';
import {fullAnswer, type FullDhcp} from './full-dhcp.js';
import {DECLINED_SECONDS, Leases, OFFER_SECONDS, parseRange, subnetMask} from './leases.js';

const IFACE = {address: '10.0.0.1', prefix: 24};
const range = (text: string) => {
  const r = parseRange(text, IFACE);
  if (!r.ok) throw new Error(r.error);
  return r.range;
};
const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const C = '52:54:00:00:00:0c';

describe('the lease table of --dhcp full', () => {
  it('takes a range inside the interface subnet, without the server, and names what is wrong with any other', () => {
    expect(range('10.0.0.100-10.0.0.199')).toEqual({start: '10.0.0.100', end: '10.0.0.199', prefix: 24});
    const bad = (t: string) => (parseRange(t, IFACE) as {error: string}).error;
    expect(bad('10.0.0.100')).toMatch(/is not START-END/);
    expect(bad('10.0.0.300-10.0.0.310')).toMatch(/is not START-END/);
    expect(bad('10.0.0.200-10.0.0.100')).toMatch(/ends before it starts/);
    expect(bad('10.0.1.10-10.0.1.20')).toMatch(/not inside the boot interface's subnet 10\.0\.0\.0\/24/);
    expect(bad('10.0.0.0-10.0.0.20')).toMatch(/not inside/);
    expect(bad('10.0.0.200-10.0.0.255')).toMatch(/not inside/);
    expect(bad('10.0.0.1-10.0.0.20')).toMatch(/holds this server's own address 10\.0\.0\.1/);
    expect(subnetMask(24)).toBe('255.255.255.0');
    expect(subnetMask(20)).toBe('255.255.240.0');
    expect(subnetMask(32)).toBe('255.255.255.255');
  });

  it('offers each MAC its own address (the one it had, the one it asks for when free, else the lowest free), and none when the range is full', () => {
    const l = new Leases(range('10.0.0.10-10.0.0.12'));
    const t = 1_000_000;
    expect(l.offer(A, undefined, t)).toBe('10.0.0.10');
    // An offer holds the address for a while: B does not get it.
    expect(l.offer(B, '10.0.0.10', t)).toBe('10.0.0.11');
    expect(l.offer(C, '10.0.0.12', t)).toBe('10.0.0.12');
    expect(l.offer('52:54:00:00:00:0d', undefined, t)).toBeUndefined();
    // Offers not taken are let go.
    expect(l.offer('52:54:00:00:00:0d', undefined, t + OFFER_SECONDS * 1000 + 1)).toBe('10.0.0.10');
  });

  it('binds a requested address to its MAC, refuses one that is another client\'s or outside the range, keeps it for the same MAC, and frees it on release or expiry', () => {
    const l = new Leases(range('10.0.0.10-10.0.0.12'));
    const t = 1_000_000;
    expect(l.offer(A, undefined, t)).toBe('10.0.0.10');
    expect(l.commit(A, '10.0.0.10', 3600, t)).toEqual({lease: {mac: A, address: '10.0.0.10', expires: t + 3_600_000}});
    expect(l.commit(B, '10.0.0.10', 3600, t)).toEqual({refused: "10.0.0.10 is another client's"});
    expect(l.commit(B, '10.0.0.99', 3600, t)).toEqual({refused: '10.0.0.99 is not in this server\'s range 10.0.0.10-10.0.0.12'});
    // The same MAC later (a reboot, a renewal) is offered its address again.
    expect(l.offer(A, '10.0.0.12', t + 60_000)).toBe('10.0.0.10');
    expect(l.bound()).toEqual([{mac: A, address: '10.0.0.10', expires: t + 3_600_000}]);
    expect(l.release(B, '10.0.0.10')).toBe(false);
    expect(l.release(A, '10.0.0.10')).toBe(true);
    expect(l.offer(B, undefined, t + 60_000)).toBe('10.0.0.10');
    // An expired lease's address goes to whoever asks.
    const m = new Leases(range('10.0.0.10-10.0.0.10'));
    m.commit(A, '10.0.0.10', 60, t);
    expect(m.offer(B, undefined, t + 30_000)).toBeUndefined();
    expect(m.offer(B, undefined, t + 61_000)).toBe('10.0.0.10');
    expect(m.offer(A, undefined, t + 62_000)).toBeUndefined();
  });

  it('does not offer a declined address for a while, and keeps across a restart only bound leases inside the range', () => {
    const l = new Leases(range('10.0.0.10-10.0.0.11'));
    const t = 1_000_000;
    l.decline(A, '10.0.0.10', t);
    expect(l.offer(B, undefined, t)).toBe('10.0.0.11');
    expect(l.offer(C, undefined, t + 1000)).toBeUndefined();
    expect(l.offer(C, undefined, t + DECLINED_SECONDS * 1000 + 1)).toBe('10.0.0.10');
    const kept = new Leases(range('10.0.0.10-10.0.0.11'), [
      {mac: A, address: '10.0.0.11', expires: t + 10_000},
      {mac: B, address: '10.0.0.50', expires: t + 10_000},
      {mac: C, address: '10.0.0.10', expires: t + 10_000, offered: true},
    ]);
    expect(kept.bound()).toEqual([{mac: A, address: '10.0.0.11', expires: t + 10_000}]);
    expect(kept.offer(B, '10.0.0.11', t)).toBe('10.0.0.10');
  });
});

describe('the full DHCP answer', () => {
  const message = (type: number, mac: string, options: [number, number[]][] = [], ciaddr?: number[]): DhcpMessage => {
    const b = new Uint8Array(236);
    b[0] = 1;
    b[1] = 1;
    b[2] = 6;
    new DataView(b.buffer).setUint32(4, 0x1234);
    if (ciaddr) b.set(ciaddr, 12);
    b.set(mac.split(':').map((x) => parseInt(x, 16)), 28);
    const r = parseDhcp(Uint8Array.from([...b, 0x63, 0x82, 0x53, 0x63, 53, 1, type, ...options.flatMap(([c, v]) => [c, v.length, ...v]), 255]));
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  const reread = (r: DhcpReply) => {
    const p = parseDhcp(encodeDhcp(r).map((x, i) => (i === 0 ? 1 : x)));
    if (!p.ok) throw new Error(p.error);
    return p.value;
  };
  const server = (): FullDhcp => ({leases: new Leases(range('10.0.0.10-10.0.0.11')), server: '10.0.0.1', leaseSeconds: 600});
  const t = 5_000_000;

  it('offers and acknowledges an address with the mask, the lease times and the server, to any client', () => {
    const f = server();
    const offer = fullAnswer(message(1, A), f, undefined, t);
    expect(offer).toMatchObject({said: 'offer 10.0.0.10', changed: false});
    const o = reread(offer.reply!);
    expect(o.type).toBe('offer');
    expect(o.yiaddr).toBe('10.0.0.10');
    expect([...o.options.get(OPTION.subnetMask)!]).toEqual([255, 255, 255, 0]);
    expect([...o.options.get(OPTION.serverId)!]).toEqual([10, 0, 0, 1]);
    expect(Buffer.from(o.options.get(OPTION.leaseTime)!).readUInt32BE()).toBe(600);
    expect(Buffer.from(o.options.get(OPTION.renewalTime)!).readUInt32BE()).toBe(300);
    expect(Buffer.from(o.options.get(OPTION.rebindingTime)!).readUInt32BE()).toBe(525);
    expect(o.file).toBe('');
    const ack = fullAnswer(message(3, A, [[OPTION.requestedAddress, [10, 0, 0, 10]], [OPTION.serverId, [10, 0, 0, 1]]]), f, undefined, t);
    expect(ack).toMatchObject({said: 'ack 10.0.0.10 for 600 s', changed: true});
    expect(reread(ack.reply!)).toMatchObject({type: 'ack', yiaddr: '10.0.0.10'});
    // A renewal (the address in ciaddr) is acknowledged too.
    expect(fullAnswer(message(3, A, [], [10, 0, 0, 10]), f, undefined, t + 1000).said).toBe('ack 10.0.0.10 for 600 s');
  });

  it("carries the boot part of the proxy answer (next server, boot file, PXE options) for a client anemos boots, without a second server identifier", () => {
    const boot: DhcpReply = {type: 'offer', to: message(1, A), siaddr: '10.0.0.1', file: 'undionly.kpxe', options: [[OPTION.serverId, Uint8Array.of(10, 0, 0, 1)], [OPTION.vendorClass, Uint8Array.from(Buffer.from('PXEClient'))], [OPTION.bootfile, Uint8Array.from(Buffer.from('undionly.kpxe'))]]};
    const o = reread(fullAnswer(message(1, A), server(), boot, t).reply!);
    expect(o).toMatchObject({yiaddr: '10.0.0.10', siaddr: '10.0.0.1', file: 'undionly.kpxe'});
    expect(Buffer.from(o.options.get(OPTION.vendorClass)!).toString()).toBe('PXEClient');
    expect([...o.options.get(OPTION.serverId)!]).toEqual([10, 0, 0, 1]);
  });

  it("NAKs a request for another client's address or one outside the range (broadcast), lets go when the client took another server's offer, and frees released and declined addresses", () => {
    const f = server();
    fullAnswer(message(1, A), f, undefined, t);
    fullAnswer(message(3, A, [[OPTION.requestedAddress, [10, 0, 0, 10]]]), f, undefined, t);
    const nak = fullAnswer(message(3, B, [[OPTION.requestedAddress, [10, 0, 0, 99]]]), f, undefined, t);
    expect(nak.said).toBe("nak: 10.0.0.99 is not in this server's range 10.0.0.10-10.0.0.11");
    expect(nak.reply).toMatchObject({type: 'nak', to: {broadcast: true}});
    expect(fullAnswer(message(3, B, [[OPTION.requestedAddress, [10, 0, 0, 10]]]), f, undefined, t).said).toBe("nak: 10.0.0.10 is another client's");
    expect(fullAnswer(message(3, B, [[OPTION.requestedAddress, [10, 0, 0, 11]], [OPTION.serverId, [10, 0, 0, 2]]]), f, undefined, t)).toEqual({said: "took 10.0.0.2's offer", changed: false});
    expect(fullAnswer(message(7, A, [], [10, 0, 0, 10]), f, undefined, t)).toEqual({said: 'release of 10.0.0.10', changed: true});
    expect(fullAnswer(message(4, B, [[OPTION.requestedAddress, [10, 0, 0, 11]]]), f, undefined, t).changed).toBe(true);
    // .10 was released, .11 declined: B is offered .10.
    expect(fullAnswer(message(1, B), f, undefined, t).said).toBe('offer 10.0.0.10');
    // An inform gets the options and no address.
    const inform = fullAnswer(message(8, C, [], [10, 0, 0, 77]), f, undefined, t);
    expect(inform.reply?.yiaddr).toBeUndefined();
    expect(inform.reply?.type).toBe('ack');
  });
});
