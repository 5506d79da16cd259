// What a machine is: the hardware inventory, one versioned schema gathered on a running
// host (anemos inventory) and in the deploy environment at every boot. Pure: it reads
// through a HardwareSources the caller gives (Node's fs on the host, the QuickJS runtime in
// the agent, a recorded tree in tests) and parses; it runs no command.

import {validate, type Schema, type SchemaProblem} from './json-schema.js';
import {parseSecureBoot} from './host-facts.js';

export const INVENTORY_VERSION = 1;

export interface Dimm {
  locator: string;
  sizeBytes: number;
  type?: string;
  speedMTs?: number;
  manufacturer?: string;
  serial?: string;
}

export interface InventoryDisk {
  name: string;
  sizeBytes: number;
  rotational: boolean;
  removable: boolean;
  model?: string;
  serial?: string;
  wwn?: string;
  /** /dev/disk/by-id names (udev's; none in the deploy environment, which has no udev). */
  byId: string[];
  partitionTable?: 'gpt' | 'dos';
}

export interface InventoryNic {
  name: string;
  /** The NIC's own MAC (a bond member's permanent one). */
  mac: string;
  driver?: string;
  pciAddress?: string;
  speedMbps?: number;
  link: 'up' | 'down' | 'unknown';
  /** Its addresses with their prefix (10.0.2.15/24), link-local ones left out; where the gatherer could see them. */
  addresses?: string[];
}

export interface PciDevice {
  address: string;
  vendor: string;
  device: string;
  class: string;
  driver?: string;
}

export interface HardwareInventory {
  version: typeof INVENTORY_VERSION;
  gathered: {at: string; where: 'host' | 'deploy-environment'};
  system: {vendor?: string; product?: string; serial?: string; uuid?: string; biosVendor?: string; biosVersion?: string; firmware: 'bios' | 'uefi'; secureBoot?: boolean};
  cpu: {model?: string; sockets: number; cores: number; threads: number};
  memory: {totalBytes: number; dimms: Dimm[]};
  disks: InventoryDisk[];
  nics: InventoryNic[];
  pci: PciDevice[];
  kernel: {release: string; version?: string};
}

/** How the gatherer reads the machine; every method answers "absent" rather than throwing. */
export interface HardwareSources {
  read(path: string): string | undefined;
  readBytes(path: string, length: number): Uint8Array | undefined;
  list(dir: string): string[];
  readLink(path: string): string | undefined;
}

const EFI_GLOBAL_GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c';

/** DMI strings firmware fills with placeholders say nothing. */
const PLACEHOLDER = /^(|none|not specified|not applicable|to be filled by o\.e\.m\.|default string|system serial number|0+|unknown)$/i;

function text(src: HardwareSources, path: string): string | undefined {
  const v = src.read(path)?.trim();
  return v === undefined || PLACEHOLDER.test(v) ? undefined : v;
}

const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

/** /sys/class/dmi/id/product_uuid, lower-case; undefined for an all-zero one (many boards, QEMU without -uuid) or none. */
export function parseDmiUuid(text: string | undefined): string | undefined {
  const v = text?.trim().toLowerCase();
  return v && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v) && !/^[0-]+$/.test(v) ? v : undefined;
}

export function parseCpuinfo(cpuinfo: string): HardwareInventory['cpu'] {
  const blocks = cpuinfo.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  const field = (b: string, name: string) => b.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
  const sockets = new Set(blocks.map((b) => field(b, 'physical id') ?? '0'));
  const cores = new Set(blocks.map((b) => `${field(b, 'physical id') ?? '0'}:${field(b, 'core id') ?? field(b, 'processor')}`));
  return defined({model: blocks[0] ? field(blocks[0], 'model name') : undefined, sockets: Math.max(1, sockets.size), cores: Math.max(1, cores.size), threads: Math.max(1, blocks.length)});
}

export function parseMemTotal(meminfo: string): number {
  const kib = meminfo.match(/^MemTotal:\s+(\d+) kB/m)?.[1];
  return kib ? Number(kib) * 1024 : 0;
}

const MEMORY_TYPES: Record<number, string> = {0x12: 'DDR', 0x13: 'DDR2', 0x18: 'DDR3', 0x1a: 'DDR4', 0x1b: 'LPDDR', 0x1c: 'LPDDR2', 0x1d: 'LPDDR3', 0x1e: 'LPDDR4', 0x20: 'HBM', 0x21: 'HBM2', 0x22: 'DDR5', 0x23: 'LPDDR5', 0x07: 'RAM', 0x09: 'Flash', 0x0f: 'SDRAM'};

/**
 * One SMBIOS type 17 (Memory Device) structure, as /sys/firmware/dmi/entries/17-N/raw holds
 * it (DSP0134 7.18: formatted area, then the strings); undefined for an empty slot.
 */
export function parseDimm(raw: Uint8Array): Dimm | undefined {
  if (raw.length < 0x15 || raw[0] !== 17) return undefined;
  const len = raw[1];
  const word = (o: number) => (o + 1 < len ? raw[o] | (raw[o + 1] << 8) : undefined);
  const dword = (o: number) => (o + 3 < len ? (raw[o] | (raw[o + 1] << 8) | (raw[o + 2] << 16)) + raw[o + 3] * 2 ** 24 : undefined);
  const strings: string[] = [];
  let cur = '';
  for (let i = len; i < raw.length; i++) {
    if (raw[i] === 0) {
      if (!cur) break;
      strings.push(cur);
      cur = '';
    } else cur += String.fromCharCode(raw[i]);
  }
  const str = (o: number) => {
    const n = o < len ? raw[o] : 0;
    const v = n ? strings[n - 1]?.trim() : undefined;
    return v === undefined || PLACEHOLDER.test(v) ? undefined : v;
  };
  const size = word(0x0c) ?? 0;
  if (size === 0 || size === 0xffff) return undefined;
  // 0x7fff: the size is in the extended field (MiB); bit 15: the unit is KiB, not MiB.
  const sizeBytes = size === 0x7fff ? (dword(0x1c) ?? 0) * 1048576 : size & 0x8000 ? (size & 0x7fff) * 1024 : size * 1048576;
  const speed = word(0x15);
  return defined({
    locator: str(0x10) ?? `slot ${strings.length}`,
    sizeBytes,
    type: MEMORY_TYPES[raw[0x12]],
    speedMTs: speed && speed !== 0xffff ? speed : undefined,
    manufacturer: str(0x17),
    serial: str(0x18),
  });
}

/** A disk's partition table from its first 1 KiB: GPT's "EFI PART" at LBA 1, else an MBR's 55 AA. */
export function parsePartitionTable(head: Uint8Array | undefined): 'gpt' | 'dos' | undefined {
  if (!head || head.length < 512) return undefined;
  if (head.length >= 520 && String.fromCharCode(...head.subarray(512, 520)) === 'EFI PART') return 'gpt';
  if (head[510] === 0x55 && head[511] === 0xaa) return 'dos';
  return undefined;
}

/** Block devices that are not disks of the machine. */
const NOT_A_DISK = /^(loop|ram|zram|dm-|md|sr|fd|nbd)/;

const base = (link: string | undefined) => link?.split('/').pop();
const PCI_ADDRESS = /\b[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\b/g;

function gatherDisks(src: HardwareSources): InventoryDisk[] {
  const byId = new Map<string, string[]>();
  for (const id of src.list('/dev/disk/by-id')) {
    const target = base(src.readLink(`/dev/disk/by-id/${id}`));
    if (target) byId.set(target, [...(byId.get(target) ?? []), id]);
  }
  return src
    .list('/sys/block')
    .filter((name) => !NOT_A_DISK.test(name))
    .sort()
    .map((name) => {
      const dir = `/sys/block/${name}`;
      return defined({
        name,
        sizeBytes: Number(src.read(`${dir}/size`)?.trim() ?? 0) * 512,
        rotational: src.read(`${dir}/queue/rotational`)?.trim() === '1',
        removable: src.read(`${dir}/removable`)?.trim() === '1',
        model: text(src, `${dir}/device/model`),
        // virtio-blk keeps its serial beside the disk; SCSI, NVMe and ATA under device/.
        serial: text(src, `${dir}/serial`) ?? text(src, `${dir}/device/serial`),
        wwn: text(src, `${dir}/wwid`) ?? text(src, `${dir}/device/wwid`),
        byId: (byId.get(name) ?? []).sort(),
        partitionTable: parsePartitionTable(src.readBytes(`/dev/${name}`, 1024)),
      });
    });
}

/** Addresses by interface name (10.0.2.15/24), as the caller saw them: os.networkInterfaces() on a host, ip -o addr in the deploy environment. */
export type AddressesByName = Record<string, string[]>;

/**
 * `ip -o addr show` (iproute2 or busybox): each interface's addresses with their prefix,
 * those of scope global or site only (not link-local, not loopback).
 */
export function parseIpAddrLines(text: string): AddressesByName {
  const out: AddressesByName = {};
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+([^\s@]+)(?:@\S+)?\s+inet6?\s+([0-9a-fA-F.:]+\/\d{1,3})\b.*\bscope\s+(\S+)/.exec(line);
    if (!m || m[3] === 'link' || m[3] === 'host') continue;
    (out[m[1]!] ??= []).push(m[2]!);
  }
  return out;
}

function gatherNics(src: HardwareSources, addresses: AddressesByName = {}): InventoryNic[] {
  const nics: InventoryNic[] = [];
  for (const name of src.list('/sys/class/net').sort()) {
    const dir = `/sys/class/net/${name}`;
    // Physical NICs only: they have a device behind them (a bond, VLAN or bridge has none).
    if (src.readLink(`${dir}/device`) === undefined) continue;
    const mac = (src.read(`${dir}/bonding_slave/perm_hwaddr`) ?? src.read(`${dir}/address`))?.trim();
    if (!mac) continue;
    const speed = Number(src.read(`${dir}/speed`)?.trim());
    const carrier = src.read(`${dir}/carrier`)?.trim();
    // The PCI function behind it: the last PCI address on its path in /sys/devices
    // (a virtio NIC sits on a virtioN device under the PCI one).
    const pciAddress = [...(src.readLink(dir) ?? '').matchAll(PCI_ADDRESS)].at(-1)?.[0];
    nics.push(
      defined({
        name,
        mac: mac.toLowerCase(),
        driver: base(src.readLink(`${dir}/device/driver`)),
        pciAddress,
        speedMbps: Number.isInteger(speed) && speed > 0 ? speed : undefined,
        link: carrier === '1' ? 'up' : carrier === '0' ? 'down' : 'unknown',
        // A bond's member carries the bond's addresses (its master), a plain NIC its own.
        addresses: addresses[name] ?? addresses[base(src.readLink(`${dir}/master`)) ?? ''],
      }),
    );
  }
  return nics;
}

function gatherPci(src: HardwareSources): PciDevice[] {
  return src
    .list('/sys/bus/pci/devices')
    .sort()
    .map((address) => {
      const dir = `/sys/bus/pci/devices/${address}`;
      const hex = (f: string) => (src.read(`${dir}/${f}`)?.trim() ?? '').replace(/^0x/, '');
      return defined({address, vendor: hex('vendor'), device: hex('device'), class: hex('class'), driver: base(src.readLink(`${dir}/driver`))});
    });
}

/** The whole inventory; `at` is when it was gathered (the caller's clock). */
export function gatherHardware(src: HardwareSources, o: {at: string; where: HardwareInventory['gathered']['where']; addresses?: AddressesByName}): HardwareInventory {
  const dmi = (f: string) => text(src, `/sys/class/dmi/id/${f}`);
  const uefi = src.list('/sys/firmware/efi').length > 0;
  const secureBootVar = uefi ? src.readBytes(`/sys/firmware/efi/efivars/SecureBoot-${EFI_GLOBAL_GUID}`, 5) : undefined;
  const dimms = src
    .list('/sys/firmware/dmi/entries')
    .filter((e) => e.startsWith('17-'))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)))
    .map((e) => src.readBytes(`/sys/firmware/dmi/entries/${e}/raw`, 4096))
    .map((raw) => (raw ? parseDimm(raw) : undefined))
    .filter((d): d is Dimm => d !== undefined);
  return {
    version: INVENTORY_VERSION,
    gathered: {at: o.at, where: o.where},
    system: defined({
      vendor: dmi('sys_vendor'),
      product: dmi('product_name'),
      serial: dmi('product_serial'),
      uuid: parseDmiUuid(src.read('/sys/class/dmi/id/product_uuid')),
      biosVendor: dmi('bios_vendor'),
      biosVersion: dmi('bios_version'),
      firmware: uefi ? ('uefi' as const) : ('bios' as const),
      secureBoot: secureBootVar ? parseSecureBoot(String.fromCharCode(...secureBootVar)) : undefined,
    }),
    cpu: parseCpuinfo(src.read('/proc/cpuinfo') ?? ''),
    memory: {totalBytes: parseMemTotal(src.read('/proc/meminfo') ?? ''), dimms},
    disks: gatherDisks(src),
    nics: gatherNics(src, o.addresses),
    pci: gatherPci(src),
    kernel: defined({release: src.read('/proc/sys/kernel/osrelease')?.trim() ?? 'unknown', version: src.read('/proc/sys/kernel/version')?.trim()}),
  };
}

const GiB = 1073741824;

/** A size as an operator reads it: GiB with one decimal from 1 GiB up, whole MiB below. */
export const formatSize = (bytes: number): string => (bytes >= GiB ? `${(bytes / GiB).toFixed(1)} GiB` : `${Math.round(bytes / 1048576)} MiB`);

/** What changed between two inventories of one machine, in words an operator reads. */
export function diffInventory(before: HardwareInventory, after: HardwareInventory): string[] {
  const changes: string[] = [];
  for (const k of ['vendor', 'product', 'serial', 'biosVersion', 'firmware', 'secureBoot'] as const) {
    if (String(before.system[k]) !== String(after.system[k])) changes.push(`system ${k}: ${before.system[k] ?? 'none'} → ${after.system[k] ?? 'none'}`);
  }
  if (before.cpu.model !== after.cpu.model || before.cpu.threads !== after.cpu.threads) changes.push(`CPU: ${before.cpu.model ?? '?'} ×${before.cpu.threads} → ${after.cpu.model ?? '?'} ×${after.cpu.threads}`);
  if (before.memory.totalBytes !== after.memory.totalBytes) changes.push(`memory: ${formatSize(before.memory.totalBytes)} → ${formatSize(after.memory.totalBytes)}`);
  const disk = (d: InventoryDisk) => `${d.name} ${formatSize(d.sizeBytes)}${d.model ? ` ${d.model}` : ''}${d.serial ? ` (serial ${d.serial})` : ''}`;
  const diskKey = (d: InventoryDisk) => d.serial ?? d.wwn ?? `${d.name}:${d.sizeBytes}`;
  const beforeDisks = new Map(before.disks.map((d) => [diskKey(d), d]));
  const afterDisks = new Map(after.disks.map((d) => [diskKey(d), d]));
  for (const [k, d] of beforeDisks) if (!afterDisks.has(k)) changes.push(`disk removed: ${disk(d)}`);
  for (const [k, d] of afterDisks) if (!beforeDisks.has(k)) changes.push(`disk added: ${disk(d)}`);
  const beforeNics = new Set(before.nics.map((n) => n.mac));
  const afterNics = new Set(after.nics.map((n) => n.mac));
  for (const n of before.nics) if (!afterNics.has(n.mac)) changes.push(`NIC removed: ${n.mac}${n.driver ? ` (${n.driver})` : ''}`);
  for (const n of after.nics) if (!beforeNics.has(n.mac)) changes.push(`NIC added: ${n.mac}${n.driver ? ` (${n.driver})` : ''}`);
  if (before.kernel.release !== after.kernel.release) changes.push(`kernel: ${before.kernel.release} → ${after.kernel.release}`);
  return changes;
}

const str: Schema = {type: 'string'};
const int: Schema = {type: 'integer', minimum: 0};

/** schema/inventory.schema.json: what the agent reports and anemos inventory --json prints (hardware). */
export const INVENTORY_SCHEMA: Schema = {
  type: 'object',
  description: 'What a machine is, gathered on a running host or in the deploy environment (anemos inventory; /run/anemos/inventory.json).',
  additionalProperties: false,
  required: ['version', 'gathered', 'system', 'cpu', 'memory', 'disks', 'nics', 'pci', 'kernel'],
  properties: {
    version: {type: 'integer', enum: [INVENTORY_VERSION]},
    gathered: {type: 'object', additionalProperties: false, required: ['at', 'where'], properties: {at: {type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT'}, where: {type: 'string', enum: ['host', 'deploy-environment']}}},
    system: {
      type: 'object',
      additionalProperties: false,
      required: ['firmware'],
      properties: {vendor: str, product: str, serial: str, uuid: {type: 'string', pattern: '^[0-9a-f-]{36}$'}, biosVendor: str, biosVersion: str, firmware: {type: 'string', enum: ['bios', 'uefi']}, secureBoot: {type: 'boolean'}},
    },
    cpu: {type: 'object', additionalProperties: false, required: ['sockets', 'cores', 'threads'], properties: {model: str, sockets: int, cores: int, threads: int}},
    memory: {
      type: 'object',
      additionalProperties: false,
      required: ['totalBytes', 'dimms'],
      properties: {
        totalBytes: int,
        dimms: {type: 'array', items: {type: 'object', additionalProperties: false, required: ['locator', 'sizeBytes'], properties: {locator: str, sizeBytes: int, type: str, speedMTs: int, manufacturer: str, serial: str}}},
      },
    },
    disks: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'sizeBytes', 'rotational', 'removable', 'byId'],
        properties: {name: str, sizeBytes: int, rotational: {type: 'boolean'}, removable: {type: 'boolean'}, model: str, serial: str, wwn: str, byId: {type: 'array', items: str}, partitionTable: {type: 'string', enum: ['gpt', 'dos']}},
      },
    },
    nics: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'mac', 'link'],
        properties: {
          name: str,
          mac: {type: 'string', pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$'},
          driver: str,
          pciAddress: str,
          speedMbps: int,
          link: {type: 'string', enum: ['up', 'down', 'unknown']},
          addresses: {type: 'array', maxItems: 64, items: {type: 'string', pattern: '^[0-9a-fA-F.:]+/[0-9]{1,3}$'}},
        },
      },
    },
    pci: {type: 'array', items: {type: 'object', additionalProperties: false, required: ['address', 'vendor', 'device', 'class'], properties: {address: str, vendor: str, device: str, class: str, driver: str}}},
    kernel: {type: 'object', additionalProperties: false, required: ['release'], properties: {release: str, version: str}},
  },
};

export function validateInventory(value: unknown): SchemaProblem[] {
  return validate(INVENTORY_SCHEMA, value);
}

/** One line: what the machine is. */
export function describeHardware(inv: HardwareInventory): string {
  const system = [inv.system.vendor, inv.system.product].filter(Boolean).join(' ') || 'unknown system';
  return [
    `${system}${inv.system.serial ? ` (serial ${inv.system.serial})` : ''}, ${inv.system.firmware.toUpperCase()}`,
    `${inv.cpu.threads} CPU thread(s)${inv.cpu.model ? ` (${inv.cpu.model})` : ''}`,
    `${formatSize(inv.memory.totalBytes)} RAM${inv.memory.dimms.length ? ` in ${inv.memory.dimms.length} DIMM(s)` : ''}`,
    `disks: ${inv.disks.map((d) => `${d.name} ${formatSize(d.sizeBytes)}${d.serial ? ` serial ${d.serial}` : ''}`).join(', ') || 'none'}`,
    `NICs: ${inv.nics.map((n) => `${n.name} ${n.mac}${n.driver ? ` ${n.driver}` : ''}`).join(', ') || 'none'}`,
  ].join('; ');
}
