// The host's side of the inventory: HardwareSources over Node's fs (what the pure gatherer
// in core/inventory.ts reads). Every miss is "absent": a file hidden without root, a
// directory a kernel does not have.

import {closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync} from 'node:fs';
import type {HardwareSources} from '../core/inventory.js';

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
