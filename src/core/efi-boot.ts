// The firmware's boot entries (UEFI Boot#### variables, UEFI 2.10 §3.1.3) and the GPT
// partition GUIDs they point at (§5.3). After a deploy repartitions a disk, an entry whose
// partition no longer exists boots nothing; the agent removes exactly those: entries whose
// partition was on a disk before the payload ran and is on none after it.
// Plain Uint8Array (no Buffer): the deploy environment's agent runs on QuickJS.

import {latin1, readU16LE, readU32LE, readU64LE, utf16leDecode, writeU16LE} from '../shared/bytes.js';

/** The vendor GUID of the firmware's own variables (Boot####, BootOrder, BootNext). */
export const EFI_GLOBAL_GUID = '8be4df61-93ca-11d2-aa0d-00e098032b8c';

export interface BootEntry {
  /** "0003" for Boot0003. */
  id: string;
  description: string;
  active: boolean;
  /** The unique GUID of the GPT partition in its hard-drive node (lower case), if it has one. */
  partition?: string;
  /** The file path node (\EFI\debian\grubx64.efi), if it has one. */
  file?: string;
}

/** A GUID as text: the first three fields are little-endian in its 16 bytes. */
export function guidText(b: Uint8Array): string {
  const h = (i: number) => b[i].toString(16).padStart(2, '0');
  const seq = (idx: number[]) => idx.map(h).join('');
  return `${seq([3, 2, 1, 0])}-${seq([5, 4])}-${seq([7, 6])}-${seq([8, 9])}-${seq([10, 11, 12, 13, 14, 15])}`;
}

function utf16z(buf: Uint8Array, start: number, end: number): {text: string; next: number} {
  let i = start;
  while (i + 1 < end && (buf[i] !== 0 || buf[i + 1] !== 0)) i += 2;
  return {text: utf16leDecode(buf, start, i), next: i + 2};
}

/**
 * A Boot#### variable as efivarfs gives it: 4 bytes of attributes, then the EFI_LOAD_OPTION
 * (attributes, length of the device path list, description, device path nodes...).
 * Undefined when it is too short or malformed.
 */
export function parseBootEntry(id: string, file: Uint8Array): BootEntry | undefined {
  const b = file.subarray(4);
  if (b.length < 8) return undefined;
  const attributes = readU32LE(b, 0);
  const pathLength = readU16LE(b, 4);
  const desc = utf16z(b, 6, b.length);
  if (desc.next + pathLength > b.length) return undefined;
  const entry: BootEntry = {id, description: desc.text, active: (attributes & 1) === 1};
  let p = desc.next;
  const end = desc.next + pathLength;
  while (p + 4 <= end) {
    const type = b[p];
    const subType = b[p + 1];
    const len = readU16LE(b, p + 2);
    if (len < 4 || p + len > end) return undefined;
    if (type === 0x7f && subType === 0xff) break;
    // Media / hard drive: number u32, start u64, size u64, signature[16], format (2 = GPT), signature type (2 = GUID).
    if (type === 4 && subType === 1 && len >= 42 && b[p + 40] === 2 && b[p + 41] === 2) entry.partition = guidText(b.subarray(p + 24, p + 40));
    if (type === 4 && subType === 4) entry.file = utf16z(b, p + 4, p + len).text;
    p += len;
  }
  return entry;
}

/** The boot order (BootOrder's data after efivarfs' 4 attribute bytes) as entry ids. */
export function parseBootOrder(file: Uint8Array): string[] {
  const ids: string[] = [];
  for (let i = 4; i + 1 < file.length; i += 2) ids.push(readU16LE(file, i).toString(16).toUpperCase().padStart(4, '0'));
  return ids;
}

/** BootOrder's file content for efivarfs: the old attributes, then the ids. */
export function encodeBootOrder(attributes: Uint8Array, ids: string[]): Uint8Array {
  const out = new Uint8Array(4 + ids.length * 2);
  out.set(attributes.subarray(0, 4));
  ids.forEach((id, i) => writeU16LE(out, 4 + i * 2, parseInt(id, 16)));
  return out;
}

/**
 * The unique GUIDs of a disk's GPT partitions, from its first sectors (at least up to the
 * end of the partition entries); [] when the disk has no GPT.
 */
export function gptPartitionGuids(disk: Uint8Array, sectorSize = 512): string[] {
  const h = disk.subarray(sectorSize, sectorSize * 2);
  if (h.length < 92 || latin1(h, 0, 8) !== 'EFI PART') return [];
  const entriesLba = readU64LE(h, 72);
  const count = readU32LE(h, 80);
  const size = readU32LE(h, 84);
  const guids: string[] = [];
  if (size < 128) return [];
  for (let i = 0; i < count; i++) {
    const at = entriesLba * sectorSize + i * size;
    if (at + 32 > disk.length) break;
    const type = disk.subarray(at, at + 16);
    if (type.every((x) => x === 0)) continue;
    guids.push(guidText(disk.subarray(at + 16, at + 32)));
  }
  return guids;
}

/** How many bytes of a disk gptPartitionGuids needs: the header and up to 128 entries of 128 bytes after it. */
export const GPT_READ_BYTES = 34 * 4096;

/** Entries that boot nothing now: their partition existed before the deploy and exists nowhere after it. */
export function staleEntries(entries: BootEntry[], before: Set<string>, after: Set<string>): BootEntry[] {
  return entries.filter((e) => e.partition !== undefined && before.has(e.partition) && !after.has(e.partition));
}
