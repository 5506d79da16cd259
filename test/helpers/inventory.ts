// Recorded inventory sources (scripts/record-inventory-fixture.ts) replayed as HardwareSources.
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import type {HardwareInventory, HardwareSources} from '../../src/core/inventory.js';

/** What a machine answered, path by path; null: absent there. */
export interface RecordedSources {
  read: Record<string, string | null>;
  bytes: Record<string, string | null>;
  list: Record<string, string[]>;
  links: Record<string, string | null>;
}

export function loadInventoryFixture(name: string): {sources: HardwareSources; recorded: RecordedSources; inventory: HardwareInventory} {
  const file = join(__dirname, '..', 'fixtures', 'inventory', `${name}.json`);
  const f = JSON.parse(readFileSync(file, 'utf8')) as {sources: RecordedSources; inventory: HardwareInventory};
  const r = f.sources;
  return {
    recorded: r,
    inventory: f.inventory,
    sources: {
      read: (p) => r.read[p] ?? undefined,
      readBytes: (p, n) => (r.bytes[p] ? new Uint8Array(Buffer.from(r.bytes[p]!, 'base64')).subarray(0, n) : undefined),
      list: (d) => r.list[d] ?? [],
      readLink: (p) => r.links[p] ?? undefined,
    },
  };
}
