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

  it('refuses a bridge that carries the default route, naming it', () => {
    expect(() => parseNetwork(networkCapture('bridge-uplink'))).toThrow(/vmbr0 is a bridge and carries the default route/);
  });

  it('carries an active-backup bond: members by their own MAC (their current one is the bond\'s), the primary, the bond\'s MAC', () => {
    const net = parseNetwork(networkCapture('bond-vm'));
    expect(Object.keys(net.interfaces)).toEqual(['8e:82:c9:02:90:f1']);
    const bond0 = net.interfaces['8e:82:c9:02:90:f1'];
    expect(bond0).toMatchObject({name: 'bond0', mac: '8e:82:c9:02:90:f1', addresses: [{address: '10.0.2.15', prefix: 24, family: 4}], routes: [{to: 'default', via: '10.0.2.2', family: 4}]});
    expect(bond0.bond).toEqual({
      mode: 'active-backup',
      members: [
        {mac: '52:54:00:12:34:56', name: 'eth0'},
        {mac: '52:54:00:12:34:58', name: 'eth1'},
      ],
      miimon: 100,
      primary: '52:54:00:12:34:56',
    });
    // The members are carried inside the bond, not reported as dropped.
    expect(net.skipped).toEqual([]);
    expect(checkNetworkUsable(net)).toEqual([]);
  });

  it('carries a VLAN on the bond, keyed by MAC and VLAN id, with the routes on the VLAN', () => {
    const net = parseNetwork(networkCapture('bond-vlan-vm'));
    expect(Object.keys(net.interfaces)).toEqual(['8e:82:c9:02:90:f1', '8e:82:c9:02:90:f1.100']);
    const vlan = net.interfaces['8e:82:c9:02:90:f1.100'];
    expect(vlan).toMatchObject({name: 'bond0.100', vlan: {id: 100, link: '8e:82:c9:02:90:f1'}});
    expect(vlan.routes.map((r) => r.via)).toEqual(['203.0.113.1', '2001:db8:100::1']);
    expect(net.interfaces['8e:82:c9:02:90:f1'].routes).toEqual([]);
  });

  it('brings a VLAN\'s parent along even when the parent has no address of its own', () => {
    const links = JSON.parse(networkCapture('bond-vlan-vm').addr) as {ifname: string; addr_info: unknown[]}[];
    for (const l of links) if (l.ifname === 'bond0') l.addr_info = [];
    const net = parseNetwork({...networkCapture('bond-vlan-vm'), addr: JSON.stringify(links)});
    expect(net.interfaces['8e:82:c9:02:90:f1']).toMatchObject({name: 'bond0', addresses: [], bond: {mode: 'active-backup'}});
  });

  it('refuses what it cannot rebuild on the uplink: a QinQ VLAN, a bond in an unknown mode', () => {
    const edit = (f: (l: Record<string, any>) => void) => {
      const links = JSON.parse(networkCapture('bond-vlan-vm').addr) as Record<string, any>[];
      links.forEach(f);
      return {...networkCapture('bond-vlan-vm'), addr: JSON.stringify(links)};
    };
    expect(() => parseNetwork(edit((l) => l.ifname === 'bond0.100' && (l.linkinfo.info_data.protocol = '802.1ad')))).toThrow(/bond0\.100 is an 802\.1ad \(QinQ\) VLAN/);
    expect(() => parseNetwork(edit((l) => l.ifname === 'bond0' && (l.linkinfo.info_data.mode = 'nonsense')))).toThrow(/bond0 is a bond in mode "nonsense"/);
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
