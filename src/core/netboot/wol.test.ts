import {describe, expect, it} from 'vitest';
import {magicPacket} from './wol.js';

describe('Wake-on-LAN', () => {
  it("is six 0xFF bytes and the MAC sixteen times (102 bytes), as a NIC looks for it", () => {
    const p = magicPacket('52:54:00:ab:cd:ef');
    expect(p.length).toBe(102);
    expect([...p.subarray(0, 6)]).toEqual([255, 255, 255, 255, 255, 255]);
    for (let i = 0; i < 16; i++) expect([...p.subarray(6 + i * 6, 12 + i * 6)]).toEqual([0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]);
    expect(() => magicPacket('52:54:00')).toThrow(/not a MAC/);
  });
});
