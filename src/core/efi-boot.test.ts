import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {encodeBootOrder, GPT_READ_BYTES, gptPartitionGuids, parseBootEntry, parseBootOrder, staleEntries} from './efi-boot.js';

// Read from efivarfs in a Debian 12 VM under OVMF, after "grub-install --target=x86_64-efi" (which put its Boot0009 first).
const REAL = {
  debian: 'BwAAAAEAAABiAGQAZQBiAGkAYQBuAAAABAEqAAEAAAAACAAAAAAAAAAABAAAAAAAZ89L6uSQQauSbFAKSs7pUQICBAQ0AFwARQBGAEkAXABkAGUAYgBpAGEAbgBcAGcAcgB1AGIAeAA2ADQALgBlAGYAaQAAAH//BAA=',
  pxe: 'BwAAAAEAAAA7AFUARQBGAEkAIABQAFgARQB2ADQAIAAoAE0AQQBDADoANQAyADUANAAwADAAMQAyADMANAA1ADYAKQAAAAIBDADQQQMKAAAAAAEBBgAAAwMLJQBSVAASNFYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAF//wQATqwIgRGfWU2FDuIaUixZsg==',
  uiApp: 'BwAAAAkBAAAsAFUAaQBBAHAAcAAAAAQHFADJvbh86/g0T6rqPuSvZRahBAYUACGqLEYUdgNFg26KtvRmIzF//wQA',
  bootOrder: 'BwAAAAkAAAABAAIAAwAEAAUABgAHAAgA',
};
const b64 = (s: string) => Buffer.from(s, 'base64');

describe('the firmware boot entries', () => {
  it('reads a GRUB entry: its name, the GPT partition it boots from and the file', () => {
    // efibootmgr -v said: Boot0009* debian HD(1,GPT,ea4bcf67-90e4-ab41-926c-500a4acee951,0x800,0x40000)/File(\EFI\debian\grubx64.efi)
    expect(parseBootEntry('0009', b64(REAL.debian))).toEqual({id: '0009', description: 'debian', active: true, partition: 'ea4bcf67-90e4-ab41-926c-500a4acee951', file: '\\EFI\\debian\\grubx64.efi'});
  });

  it('reads the network and firmware entries, which point at no partition', () => {
    expect(parseBootEntry('0003', b64(REAL.pxe))).toEqual({id: '0003', description: 'UEFI PXEv4 (MAC:525400123456)', active: true});
    expect(parseBootEntry('0000', b64(REAL.uiApp))).toEqual({id: '0000', description: 'UiApp', active: true});
  });

  it('refuses a truncated entry rather than guessing', () => {
    expect(parseBootEntry('0009', b64(REAL.debian).subarray(0, 40))).toBeUndefined();
    expect(parseBootEntry('0009', Buffer.alloc(6))).toBeUndefined();
  });

  it('reads and rewrites BootOrder, keeping its attributes', () => {
    const order = b64(REAL.bootOrder);
    expect(parseBootOrder(order)).toEqual(['0009', '0000', '0001', '0002', '0003', '0004', '0005', '0006', '0007', '0008']);
    const out = encodeBootOrder(order, ['0009', '000A', '0003']);
    expect([...out.subarray(0, 4)]).toEqual([...order.subarray(0, 4)]);
    expect(parseBootOrder(out)).toEqual(['0009', '000A', '0003']);
  });

  it('stale: only entries whose partition was there before and is gone after', () => {
    const entries = [
      {id: '0001', description: 'old debian', active: true, partition: 'aaaa'},
      {id: '0002', description: 'other disk', active: true, partition: 'bbbb'},
      {id: '0003', description: 'PXE', active: true},
      {id: '0004', description: 'new debian', active: true, partition: 'cccc'},
      {id: '0005', description: 'a stick not plugged in', active: true, partition: 'dddd'},
    ];
    expect(staleEntries(entries, new Set(['aaaa', 'bbbb']), new Set(['bbbb', 'cccc'])).map((e) => e.id)).toEqual(['0001']);
  });
});

describe('GPT partition GUIDs', () => {
  it('reads the unique GUIDs sfdisk wrote, and none from an MBR disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-gpt-'));
    try {
      const disk = join(dir, 'disk.raw');
      truncateSync((writeFileSync(disk, ''), disk), 64 * 1048576);
      execFileSync('sfdisk', ['-q', disk], {input: 'label: gpt\nstart=2048, size=16MiB, type=uefi\ntype=linux\n'});
      const want = (JSON.parse(execFileSync('sfdisk', ['-J', disk], {encoding: 'utf8'})).partitiontable.partitions as {uuid: string}[]).map((p) => p.uuid.toLowerCase());
      expect(want).toHaveLength(2);
      expect(gptPartitionGuids(readFileSync(disk).subarray(0, GPT_READ_BYTES))).toEqual(want);
      execFileSync('sfdisk', ['-q', '--wipe', 'always', disk], {input: 'label: dos\nstart=2048, type=83\n'});
      expect(gptPartitionGuids(readFileSync(disk).subarray(0, GPT_READ_BYTES))).toEqual([]);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });
});
