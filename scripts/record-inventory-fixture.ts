// Record what the inventory gatherer reads on this machine (root for the disks' first
// sectors) into one JSON file: test/fixtures/inventory/NAME.json. The tests replay it
// through the same gatherer (test/helpers/inventory.ts) and compare with what was seen.
// Run: npx vite-node scripts/record-inventory-fixture.ts NAME
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {hostHardwareSources} from '../src/adapters/hardware-sources.js';
import {gatherHardware, type HardwareSources} from '../src/core/inventory.js';
import type {RecordedSources} from '../test/helpers/inventory.js';

const name = process.argv[2];
if (!name) throw new Error('usage: npx vite-node scripts/record-inventory-fixture.ts NAME');
const host = hostHardwareSources();
const rec: RecordedSources = {read: {}, bytes: {}, list: {}, links: {}};
const recording: HardwareSources = {
  read: (p) => (rec.read[p] = host.read(p) ?? null) ?? undefined,
  readBytes: (p, n) => {
    const b = host.readBytes(p, n);
    rec.bytes[p] = b ? Buffer.from(b).toString('base64') : null;
    return b;
  },
  list: (d) => (rec.list[d] = host.list(d)),
  readLink: (p) => (rec.links[p] = host.readLink(p) ?? null) ?? undefined,
};
const seen = gatherHardware(recording, {at: new Date().toISOString(), where: 'host'});
const file = join(import.meta.dirname, '..', 'test', 'fixtures', 'inventory', `${name}.json`);
writeFileSync(file, JSON.stringify({recorded: seen.gathered.at, sources: rec, inventory: seen}, null, 1) + '\n');
console.log(`recorded ${file}`);
