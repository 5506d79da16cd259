// The host's side of the inventory: HardwareSources over Node's fs (what the pure gatherer
// in core/inventory.ts reads). Every miss is "absent": a file hidden without root, a
// directory a kernel does not have.

import {closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync} from 'node:fs';
import {networkInterfaces} from 'node:os';
import {gatherHardware, type AddressesByName, type HardwareInventory, type HardwareSources} from '../core/inventory.js';

export function hostHardwareSources(root = ''): HardwareSources {
  return {
    read(path) {
      try {
        return readFileSync(root + path, 'utf8');
      } catch {
        return undefined; // absent or not readable: the field is left out
      }
    },
    readBytes(path, length) {
      let fd: number | undefined;
      try {
        fd = openSync(root + path, 'r');
        const buf = Buffer.alloc(length);
        const n = readSync(fd, buf, 0, length, 0);
        return new Uint8Array(buf.subarray(0, n));
      } catch {
        return undefined; // a disk needs root to be read: no partition table then
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    },
    list(dir) {
      try {
        return readdirSync(root + dir);
      } catch {
        return [];
      }
    },
    readLink(path) {
      try {
        return readlinkSync(root + path);
      } catch {
        return undefined;
      }
    },
  };
}

/** This host's addresses by interface (10.0.2.15/24), link-local and loopback left out. */
export function hostAddresses(): AddressesByName {
  const out: AddressesByName = {};
  for (const [name, list] of Object.entries(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || /^fe[89ab]/i.test(a.address) || a.address.startsWith('169.254.') || !a.cidr) continue;
      (out[name] ??= []).push(a.cidr);
    }
  }
  return out;
}

/** The inventory of the machine this runs on (core/inventory.ts over its /sys, /proc, /dev). */
export function gatherHostHardware(at = new Date()): HardwareInventory {
  return gatherHardware(hostHardwareSources(), {at: at.toISOString(), where: 'host', addresses: hostAddresses()});
}
