import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {loadInventoryFixture} from '../../test/helpers/inventory.js';
import {diffInventory, gatherHardware, INVENTORY_SCHEMA, parseCpuinfo, parseDimm, parseIpAddrLines, parsePartitionTable, validateInventory, type HardwareInventory} from './inventory.js';

/** An SMBIOS type 17 structure (DSP0134 7.18, the 2.8 layout QEMU writes), strings after it. */
function dimm(o: {size: number; ext?: number; locator: string; type?: number; speed?: number; manufacturer?: string; serial?: string}): Uint8Array {
  const len = 0x28;
  const raw = new Uint8Array(len);
  raw[0] = 17;
  raw[1] = len;
  const strings = [o.locator, o.manufacturer ?? 'QEMU', o.serial ?? 'Not Specified'];
  raw.set([o.size & 0xff, o.size >> 8], 0x0c);
  raw[0x10] = 1; // locator: string 1
  raw[0x12] = o.type ?? 0x07;
  raw.set([(o.speed ?? 0) & 0xff, (o.speed ?? 0) >> 8], 0x15);
  raw[0x17] = 2;
  raw[0x18] = 3;
  if (o.ext !== undefined) raw.set([o.ext & 0xff, (o.ext >> 8) & 0xff, (o.ext >> 16) & 0xff, o.ext >>> 24], 0x1c);
  const tail = new TextEncoder().encode(strings.join('\0') + '\0\0');
  const out = new Uint8Array(len + tail.length);
  out.set(raw);
  out.set(tail, len);
  return out;
}

describe('hardware inventory', () => {
  it('replays a recorded cloud VM into what was seen there, valid against the published schema', () => {
    const fx = loadInventoryFixture('cloud-vm-virtio');
    const inv = gatherHardware(fx.sources, {at: fx.inventory.gathered.at, where: 'host'});
    expect(inv).toEqual(fx.inventory);
    expect(validateInventory(inv)).toEqual([]);
    // What a person saw on that machine (ip link, lsblk, nproc): not just what the code said.
    expect(inv.nics).toEqual([{name: 'eth0', mac: '02:fc:00:00:00:01', driver: 'virtio_net', pciAddress: '0000:00:03.0', link: 'up'}]);
    expect(inv.disks.map((d) => [d.name, d.serial, d.sizeBytes])).toEqual([['vda', 'overlayblk', 274877906944]]);
    expect(inv.cpu.threads).toBe(2);
    expect(inv.system.firmware).toBe('bios');
    expect(inv.pci.find((p) => p.address === '0000:00:03.0')).toMatchObject({vendor: '1af4', class: '020000', driver: 'virtio-pci'});
  });

  it('schema/inventory.schema.json is the schema the registry validates reports with', () => {
    const file = join(__dirname, '..', '..', 'schema', 'inventory.schema.json');
    const text = JSON.stringify({$schema: 'https://json-schema.org/draft/2020-12/schema', title: 'anemos hardware inventory', ...INVENTORY_SCHEMA}, null, 2) + '\n';
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('reads DIMMs from SMBIOS type 17: MiB and KiB units, the extended size, placeholders, empty slots', () => {
    expect(parseDimm(dimm({size: 512, locator: 'DIMM 0', speed: 3200, type: 0x1a, manufacturer: 'Samsung', serial: '1234ABCD'}))).toEqual({
      locator: 'DIMM 0',
      sizeBytes: 512 * 1048576,
      type: 'DDR4',
      speedMTs: 3200,
      manufacturer: 'Samsung',
      serial: '1234ABCD',
    });
    expect(parseDimm(dimm({size: 0x8000 | 256, locator: 'A'}))?.sizeBytes).toBe(256 * 1024);
    expect(parseDimm(dimm({size: 0x7fff, ext: 65536, locator: 'B'}))?.sizeBytes).toBe(64 * 1073741824);
    expect(parseDimm(dimm({size: 0, locator: 'empty'}))).toBeUndefined();
    expect(parseDimm(dimm({size: 1024, locator: 'C'}))).toEqual({locator: 'C', sizeBytes: 1073741824, type: 'RAM', manufacturer: 'QEMU'});
    expect(parseDimm(new Uint8Array([16, 4, 0, 0]))).toBeUndefined();
  });

  it('tells GPT from MBR from nothing by the first sectors', () => {
    const head = new Uint8Array(1024);
    expect(parsePartitionTable(head)).toBeUndefined();
    head[510] = 0x55;
    head[511] = 0xaa;
    expect(parsePartitionTable(head)).toBe('dos');
    head.set(new TextEncoder().encode('EFI PART'), 512);
    expect(parsePartitionTable(head)).toBe('gpt');
    expect(parsePartitionTable(undefined)).toBeUndefined();
  });

  it('counts sockets, cores and threads from /proc/cpuinfo', () => {
    const cpu = (p: number, phys: number, core: number) => `processor\t: ${p}\nmodel name\t: Xeon\nphysical id\t: ${phys}\ncore id\t\t: ${core}\n`;
    const text = [cpu(0, 0, 0), cpu(1, 0, 0), cpu(2, 0, 1), cpu(3, 0, 1), cpu(4, 1, 0), cpu(5, 1, 0), cpu(6, 1, 1), cpu(7, 1, 1)].join('\n');
    expect(parseCpuinfo(text)).toEqual({model: 'Xeon', sockets: 2, cores: 4, threads: 8});
    expect(parseCpuinfo('')).toEqual({sockets: 1, cores: 1, threads: 1});
  });

  it('says what changed between two reports: a disk replaced, RAM added, a NIC gone', () => {
    const {inventory: before} = loadInventoryFixture('cloud-vm-virtio');
    const after: HardwareInventory = structuredClone(before);
    after.memory.totalBytes = 2 * before.memory.totalBytes;
    after.disks[0] = {...after.disks[0]!, serial: 'NEWDISK1'};
    after.nics = [];
    expect(diffInventory(before, after)).toEqual([
      'memory: 23.5 GiB → 47.1 GiB',
      'disk removed: vda 256.0 GiB (serial overlayblk)',
      'disk added: vda 256.0 GiB (serial NEWDISK1)',
      'NIC removed: 02:fc:00:00:00:01 (virtio_net)',
    ]);
    expect(diffInventory(before, before)).toEqual([]);
  });

  it('names every schema problem of a malformed report', () => {
    const {inventory} = loadInventoryFixture('cloud-vm-virtio');
    const bad = {...structuredClone(inventory), version: 2, nics: [{name: 'eth0', mac: 'nope', link: 'up'}]} as unknown;
    expect(validateInventory(bad).map((p) => p.path)).toEqual(expect.arrayContaining(['version', 'nics[0].mac']));
  });
});

describe('addresses of the NICs', () => {
  // What this machine's iproute2 and busybox printed (busybox: "flags 02" for nodad), and a VLAN on a bond.
  const IP_O_ADDR = `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever
4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever preferred_lft forever
4: eth0    inet6 fd00::2/64 scope global flags 02 \\       valid_lft forever preferred_lft forever
4: eth0    inet6 fe80::fc:ff:fe00:1/64 scope link \\       valid_lft forever preferred_lft forever
7: bond0.100@bond0    inet 10.1.0.5/24 brd 10.1.0.255 scope global bond0.100\\       valid_lft forever preferred_lft forever
6: bond0    inet 10.0.0.5/24 brd 10.0.0.255 scope global bond0\\       valid_lft forever preferred_lft forever`;

  it('reads ip -o addr: global addresses with their prefix, not loopback or link-local', () => {
    expect(parseIpAddrLines(IP_O_ADDR)).toEqual({eth0: ['192.0.2.2/24', 'fd00::2/64'], 'bond0.100': ['10.1.0.5/24'], bond0: ['10.0.0.5/24']});
  });

  it('gives each NIC its own addresses, and a bond member those of its bond', () => {
    const files: Record<string, string> = {'/sys/class/net/eth0/address': '52:54:00:00:00:01\n', '/sys/class/net/eth1/address': '52:54:00:00:00:02\n'};
    const links: Record<string, string> = {'/sys/class/net/eth0/device': '../../0000:00:03.0', '/sys/class/net/eth1/device': '../../0000:00:04.0', '/sys/class/net/eth1/master': '../bond0'};
    const src = {read: (p: string) => files[p], readBytes: () => undefined, list: (d: string) => (d === '/sys/class/net' ? ['eth0', 'eth1', 'bond0'] : []), readLink: (p: string) => links[p]};
    const inv = gatherHardware(src, {at: '2026-12-06T00:00:00Z', where: 'host', addresses: parseIpAddrLines(IP_O_ADDR)});
    expect(inv.nics.map((n) => [n.name, n.addresses])).toEqual([
      ['eth0', ['192.0.2.2/24', 'fd00::2/64']],
      ['eth1', ['10.0.0.5/24']],
    ]);
    expect(validateInventory(inv)).toEqual([]);
  });
});
