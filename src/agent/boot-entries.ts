// After a deploy on a UEFI machine: the firmware's boot entries that pointed at partitions
// the payload removed are deleted (and taken out of BootOrder and BootNext), so the
// firmware does not try them first and the menu lists nothing that boots nothing. Entries
// of other disks, the network, the firmware's own and the new system's stay. Best effort,
// after the disk is written: a failure is logged, never the outcome.

import {existsSync, readBytes, readdirSync, readFileSync, rmSync, writeFileSync} from './runtime.js';
import {EFI_GLOBAL_GUID, GPT_READ_BYTES, encodeBootOrder, gptPartitionGuids, parseBootEntry, parseBootOrder, staleEntries, type BootEntry} from '../core/efi-boot.js';
import {EFIVARS_DIR} from '../core/last-deploy.js';
import type {AgentLog} from './log.js';

const VIRTUAL = /^(ram|loop|zram|nbd|dm-|md|sr|fd)/;

/** The GPT partition GUIDs of every disk, as the kernel sees them now. */
export function partitionGuids(sysBlock = '/sys/block', dev = '/dev'): Set<string> {
  const guids = new Set<string>();
  for (const name of existsSync(sysBlock) ? readdirSync(sysBlock) : []) {
    if (VIRTUAL.test(name)) continue;
    try {
      const sector = Number(readFileSync(`${sysBlock}/${name}/queue/logical_block_size`, 'utf8').trim()) || 512;
      for (const g of gptPartitionGuids(readBytes(`${dev}/${name}`, GPT_READ_BYTES), sector)) guids.add(g);
    } catch {
      // A disk that cannot be read holds nothing we would judge.
    }
  }
  return guids;
}

const varFile = (dir: string, name: string) => `${dir}/${name}-${EFI_GLOBAL_GUID}`;

export function readBootEntries(dir = EFIVARS_DIR): BootEntry[] {
  const re = new RegExp(`^Boot([0-9A-F]{4})-${EFI_GLOBAL_GUID}$`);
  return (existsSync(dir) ? readdirSync(dir) : [])
    .map((f) => f.match(re))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => {
      try {
        return parseBootEntry(m[1], readBytes(`${dir}/${m[0]}`));
      } catch {
        return undefined;
      }
    })
    .filter((e): e is BootEntry => e !== undefined)
    .sort((a, b) => a.id.localeCompare(b.id));
}

const describe = (e: BootEntry) => `Boot${e.id} "${e.description}"${e.file ? ` (${e.file})` : ''}`;

export function tidyBootEntries(log: AgentLog, before: Set<string>, o: {efivars?: string; after?: Set<string>} = {}): void {
  const dir = o.efivars ?? EFIVARS_DIR;
  if (!existsSync(dir)) return;
  try {
    const entries = readBootEntries(dir);
    const stale = staleEntries(entries, before, o.after ?? partitionGuids());
    const gone = new Set(stale.map((e) => e.id));
    for (const e of stale) {
      rmSync(varFile(dir, `Boot${e.id}`));
      log.info(`firmware boot entry removed: ${describe(e)}: its partition ${e.partition} went with the old disk layout`);
    }
    const orderFile = varFile(dir, 'BootOrder');
    if (gone.size && existsSync(orderFile)) {
      const old = readBytes(orderFile);
      // efivarfs cannot truncate: the variable goes, and comes back with one write.
      const order = encodeBootOrder(old, parseBootOrder(old).filter((id) => !gone.has(id)));
      rmSync(orderFile);
      writeFileSync(orderFile, order);
    }
    const nextFile = varFile(dir, 'BootNext');
    if (gone.size && existsSync(nextFile) && parseBootOrder(readBytes(nextFile)).some((id) => gone.has(id))) rmSync(nextFile);
    const order = existsSync(orderFile) ? parseBootOrder(readBytes(orderFile)) : [];
    const byId = new Map(entries.filter((e) => !gone.has(e.id)).map((e) => [e.id, e]));
    log.info(`firmware boot order: ${order.map((id) => (byId.has(id) ? describe(byId.get(id)!) : `Boot${id}`)).join(', ') || 'empty (the firmware boots the disks\' removable paths)'}`);
  } catch (err) {
    log.warn(`could not tidy the firmware's boot entries: ${(err as Error).message}`);
  }
}
