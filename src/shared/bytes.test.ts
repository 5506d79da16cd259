import {describe, expect, it} from 'vitest';
import {utf16leDecode, utf8Decode, utf8Encode} from './bytes.js';

describe('bytes without Buffer', () => {
  it('UTF-8 both ways agrees with Node on text of every width, and on malformed input', () => {
    const text = 'plain ascii, café, ☃ snowman, 𝄞 clef, 中文';
    expect([...utf8Encode(text)]).toEqual([...Buffer.from(text, 'utf8')]);
    expect(utf8Decode(Buffer.from(text, 'utf8'))).toBe(text);
    for (const bad of [[0xff], [0xc3], [0xe2, 0x98], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x61, 0x80, 0x62]]) {
      expect(utf8Decode(Uint8Array.from(bad))).toBe(new TextDecoder().decode(Uint8Array.from(bad)));
    }
  });

  it('UTF-16LE as UEFI stores it', () => {
    const b = Buffer.from('debian ☃', 'utf16le');
    expect(utf16leDecode(b, 0, b.length)).toBe('debian ☃');
  });
});
