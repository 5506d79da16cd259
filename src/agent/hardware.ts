// The deploy environment's side of the inventory: HardwareSources over the QuickJS runtime,
// and /run/anemos/inventory.json written at every boot (test and deploy).

import {gatherHardware, type AddressesByName, type HardwareInventory, type HardwareSources} from '../core/inventory.js';
import {RUNTIME} from '../core/boot-contract.js';
import {readBytes, readdirSync, readFileSync, readlinkSync, writeFileSync} from './runtime.js';

/** Each miss is "absent" (core/inventory.ts leaves the field out). */
function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined; // absent, or not readable here
  }
}

export const agentHardwareSources: HardwareSources = {
  read: (path) => attempt(() => readFileSync(path, 'utf8')),
  readBytes: (path, length) => attempt(() => readBytes(path, length)),
  list: (dir) => attempt(() => readdirSync(dir)) ?? [],
  readLink: (path) => attempt(() => readlinkSync(path)),
};

/** Gather the inventory and keep it where a driver or the registry reads it. */
export function writeInventory(at: string, addresses?: AddressesByName): HardwareInventory {
  const inventory = gatherHardware(agentHardwareSources, {at, where: 'deploy-environment', ...(addresses ? {addresses} : {})});
  writeFileSync(RUNTIME.inventory, JSON.stringify(inventory, null, 1) + '\n');
  return inventory;
}
