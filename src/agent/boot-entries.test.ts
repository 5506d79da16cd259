import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from 'vitest';
import {EFI_GLOBAL_GUID, encodeBootOrder, parseBootOrder} from '../core/efi-boot.js';
import {callUnderQjs} from '../../test/helpers/qjs.js';

// Boot0009 "debian" on partition ea4bcf67-90e4-ab41-926c-500a4acee951, as OVMF stored it.
const DEBIAN = Buffer.from('BwAAAAEAAABiAGQAZQBiAGkAYQBuAAAABAEqAAEAAAAACAAAAAAAAAAABAAAAAAAZ89L6uSQQauSbFAKSs7pUQICBAQ0AFwARQBGAEkAXABkAGUAYgBpAGEAbgBcAGcAcgB1AGIAeAA2ADQALgBlAGYAaQAAAH//BAA=', 'base64');
const PXE = Buffer.from('BwAAAAEAAAA7AFUARQBGAEkAIABQAFgARQB2ADQAIAAoAE0AQQBDADoANQAyADUANAAwADAAMQAyADMANAA1ADYAKQAAAAIBDADQQQMKAAAAAAEBBgAAAwMLJQBSVAASNFYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAF//wQATqwIgRGfWU2FDuIaUixZsg==', 'base64');
const OLD = 'ea4bcf67-90e4-ab41-926c-500a4acee951';
const NEW = '11223344-5566-7788-99aa-bbccddeeff00';
/** The same entry on another partition: its GUID (stored mixed-endian) replaced where it is. */
function onPartition(entry: Buffer, guid: string): Buffer {
  const out = Buffer.from(entry);
  const at = out.indexOf(Buffer.from('67cf4bea', 'hex'));
  const h = guid.replace(/-/g, '');
  const le = (s: string) => Buffer.from(s, 'hex').reverse();
  Buffer.concat([le(h.slice(0, 8)), le(h.slice(8, 12)), le(h.slice(12, 16)), Buffer.from(h.slice(16), 'hex')]).copy(out, at);
  return out;
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true});
  dirs = [];
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-efivars-'));
  dirs.push(dir);
  const file = (name: string) => join(dir, `${name}-${EFI_GLOBAL_GUID}`);
  writeFileSync(file('Boot0009'), DEBIAN);
  writeFileSync(file('Boot000A'), onPartition(DEBIAN, NEW));
  writeFileSync(file('Boot0003'), PXE);
  writeFileSync(file('BootOrder'), encodeBootOrder(Buffer.from([7, 0, 0, 0]), ['000A', '0009', '0003']));
  writeFileSync(file('BootNext'), encodeBootOrder(Buffer.from([7, 0, 0, 0]), ['0009']));
  const logDir = join(dir, 'log');
  // Under the qjs the deploy environment runs (the agent's file access is QuickJS').
  const tidy = (before: string[], after: string[]) => callUnderQjs('tidyBootEntries', dir, logDir, before, after);
  return {file, tidy, logText: () => readFileSync(join(logDir, 'deploy.log'), 'utf8')};
}

describe('tidying the firmware boot entries after a deploy', () => {
  it('removes the entry whose partition the deploy removed, from BootOrder and BootNext too; keeps the new one and the network', () => {
    const {file, tidy, logText} = setup();
    tidy([OLD], [NEW]);
    expect(existsSync(file('Boot0009'))).toBe(false);
    expect(existsSync(file('Boot000A'))).toBe(true);
    expect(existsSync(file('Boot0003'))).toBe(true);
    expect(existsSync(file('BootNext'))).toBe(false);
    const order = readFileSync(file('BootOrder'));
    expect(parseBootOrder(order)).toEqual(['000A', '0003']);
    expect([...order.subarray(0, 4)]).toEqual([7, 0, 0, 0]);
    expect(logText()).toMatch(/firmware boot entry removed: Boot0009 "debian" \(\\EFI\\debian\\grubx64\.efi\): its partition ea4bcf67-90e4-ab41-926c-500a4acee951 went with the old disk layout/);
    expect(logText()).toMatch(/firmware boot order: Boot000A "debian" \(\\EFI\\debian\\grubx64\.efi\), Boot0003 "UEFI PXEv4 \(MAC:525400123456\)"/);
  });

  it('touches nothing when the partition is still there, or was never seen before the deploy', () => {
    const {file, tidy} = setup();
    tidy([OLD], [OLD, NEW]);
    tidy([], [NEW]);
    expect(existsSync(file('Boot0009'))).toBe(true);
    expect(existsSync(file('BootNext'))).toBe(true);
    expect(parseBootOrder(readFileSync(file('BootOrder')))).toEqual(['000A', '0009', '0003']);
  });
});
