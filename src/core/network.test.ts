import {describe, expect, it} from 'vitest';
import {networkCapture} from '../../test/helpers/fixtures.js';
import {checkNetworkUsable, inSubnet, parseNetwork, parseResolvConf} from './network.js';

describe('network capture from recorded ip -j output', () => {
  it('DHCP cloud VM: dynamic v4 and SLAAC v6 are marked, routes carried', () => {
    const net = parseNetwork(networkCapture('dhcp-cloud'));
    expect(Object.keys(net.interfaces)).toEqual(['52:54:00:12:34:56']);
    const eth0 = net.interfaces['52:54:00:12:34:56'];
    expect(eth0).toMatchObject({name: 'eth0', dhcp4: true, slaac: true});
    expect(eth0.addresses).toEqual([
      {address: '192.0.2.15', prefix: 24, family: 4, dynamic: true},
      {address: '2001:db8:1:0:5054:ff:fe12:3456', prefix: 64, family: 6, dynamic: true},
    ]);
    expect(eth0.routes).toEqual([
      {to: 'default', via: '192.0.2.1', metric: 100, family: 4, dynamic: true},
      {to: 'default', via: 'fe80::1', metric: 1024, family: 6, dynamic: true},
    ]);
    expect(net.dns).toEqual({servers: ['192.0.2.53'], search: ['example.net']});
    expect(checkNetworkUsable(net)).toEqual([]);
  });

  it('static /32 with an on-link gateway outside the subnet', () => {
    const eth0 = parseNetwork(networkCapture('static-onlink')).interfaces['96:00:01:aa:bb:cc'];
    expect(eth0.dhcp4).toBe(false);
    expect(eth0.addresses[0]).toEqual({address: '203.0.113.10', prefix: 32, family: 4});
    expect(eth0.routes).toContainEqual({to: 'default', via: '172.31.1.1', onlink: true, family: 4});
    expect(eth0.routes).toContainEqual({to: '172.31.1.1', family: 4});
    // fe80:: gateways are on-link by definition; no flag needed.
    expect(eth0.routes).toContainEqual({to: 'default', via: 'fe80::1', metric: 1024, family: 6});
  });

  it('IPv6 only', () => {
    const net = parseNetwork(networkCapture('ipv6-only'));
    const ens3 = net.interfaces['52:54:00:00:00:03'];
    expect(ens3.addresses).toEqual([{address: '2001:db8:3::10', prefix: 64, family: 6}]);
    expect(ens3.routes).toEqual([{to: 'default', via: '2001:db8:3::1', metric: 1024, family: 6}]);
    expect(checkNetworkUsable(net)).toEqual([]);
  });

  it('dual stack with two NICs, several addresses, an extra route and a jumbo MTU', () => {
    const net = parseNetwork(networkCapture('dual-nic'));
    expect(Object.keys(net.interfaces).sort()).toEqual(['52:54:00:00:04:01', '52:54:00:00:04:02']);
    const eth0 = net.interfaces['52:54:00:00:04:01'];
    expect(eth0.addresses.map((a) => a.address)).toEqual(['198.51.100.20', '198.51.100.21', '2001:db8:4::20']);
    const eth1 = net.interfaces['52:54:00:00:04:02'];
    expect(eth1.mtu).toBe(9000);
    expect(eth1.routes).toEqual([{to: '10.20.0.0/16', via: '10.10.0.1', family: 4}]);
    expect(net.dns.servers).toEqual(['198.51.100.53', '2001:db8:4::53']);
  });

  it('refuses a bridge or a bond that carries the default route, naming it', () => {
    expect(() => parseNetwork(networkCapture('bridge-uplink'))).toThrow(/vmbr0 is a bridge and carries the default route/);
    expect(() => parseNetwork(networkCapture('bond-uplink'))).toThrow(/bond0 is a bond and carries the default route/);
  });

  it('skips docker0 and says so instead of dropping it silently', () => {
    const net = parseNetwork(networkCapture('docker-host'));
    expect(Object.values(net.interfaces).map((i) => i.name)).toEqual(['eth0']);
    expect(net.skipped).toEqual([{name: 'docker0', reason: expect.stringMatching(/bridge device without the default route/)}]);
  });

  it('refuses the systemd-resolved stub as the only DNS server', () => {
    const cap = {...networkCapture('dhcp-cloud'), resolvConf: 'nameserver 127.0.0.53\noptions edns0\n'};
    expect(() => parseNetwork(cap)).toThrow(/systemd-resolved stub/);
  });

  it('says when there is no default route', () => {
    const cap = {...networkCapture('dual-nic'), route4: '[]', route6: '[]'};
    expect(checkNetworkUsable(parseNetwork(cap))).toEqual([expect.stringMatching(/no default route/)]);
  });

  it('parses resolv.conf and subnets', () => {
    expect(parseResolvConf('# c\nnameserver 1.1.1.1\nnameserver 1.1.1.1\ndomain a.b\nsearch c.d e.f\n')).toEqual({servers: ['1.1.1.1'], search: ['a.b', 'c.d', 'e.f']});
    expect(inSubnet('10.0.2.2', '10.0.2.15', 24)).toBe(true);
    expect(inSubnet('172.31.1.1', '203.0.113.10', 32)).toBe(false);
    expect(inSubnet('2001:db8:4::1', '2001:db8:4::20', 64)).toBe(true);
    expect(inSubnet('2001:db8:5::1', '2001:db8:4::20', 64)).toBe(false);
  });
});
