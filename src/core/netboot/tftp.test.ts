import {describe, expect, it} from 'vitest';
import {prng} from '../../../test/helpers/prng.js';
import {ackBlock, dataPacket, errorPacket, MAX_BLOCK, oackPacket, parseRequest, safePath, TFTP_ERROR} from './tftp.js';

/** A request as a client writes it: opcode, then NUL-terminated fields. */
const packet = (op: number, ...fields: string[]) => Uint8Array.from([0, op, ...fields.flatMap((f) => [...f].map((c) => c.charCodeAt(0)).concat(0))]);

describe('TFTP read requests', () => {
  it('reads the file and the options it takes, as iPXE and firmware PXE ask for them', () => {
    expect(parseRequest(packet(1, 'undionly.kpxe', 'octet', 'blksize', '1432', 'tsize', '0'))).toEqual({ok: true, request: {path: 'undionly.kpxe', accepted: {blksize: 1432, tsize: 0}}});
    expect(parseRequest(packet(1, '/snponly.efi', 'OCTET'))).toEqual({ok: true, request: {path: 'snponly.efi', accepted: {}}});
    // A block size past an Ethernet frame is cut to what fits; unknown options and bad values are left out.
    expect(parseRequest(packet(1, 'a', 'octet', 'blksize', '65464', 'windowsize', '8', 'timeout', '0'))).toEqual({ok: true, request: {path: 'a', accepted: {blksize: MAX_BLOCK}}});
  });

  it('serves nothing outside its directory, nothing written, nothing malformed', () => {
    const refused = (b: Uint8Array) => {
      const r = parseRequest(b);
      return r.ok ? 'served' : `${r.code} ${r.error}`;
    };
    for (const name of ['../etc/passwd', 'a/../../b', '//etc/shadow', 'a\\..\\b', './x', 'a//b', '']) expect(refused(packet(1, name, 'octet')), name).toMatch(/^(2|4) /);
    expect(refused(packet(2, 'x', 'octet'))).toBe(`${TFTP_ERROR.accessViolation} this server is read-only: no writes`);
    expect(refused(packet(1, 'x', 'netascii'))).toMatch(/only octet/);
    expect(refused(packet(1, 'x', 'octet', 'blksize'))).toMatch(/has no value/);
    expect(refused(Uint8Array.from([0, 1, 120, 0, 111]))).toMatch(/no NUL/);
    expect(refused(new Uint8Array(600))).toMatch(/longer than/);
    expect(refused(Uint8Array.from([0, 1, 0xff, 0, 0]))).toMatch(/printable/);
    expect(safePath('boot/ipxe.efi')).toBe('boot/ipxe.efi');
  });

  it('survives random and mutated packets: an error value each time, never an exception, never a path with ".."', () => {
    const rand = prng(0x9e3779b9).int;
    const base = packet(1, 'undionly.kpxe', 'octet', 'blksize', '1468');
    for (let i = 0; i < 5000; i++) {
      const b = i % 3 === 0 ? Uint8Array.from({length: rand(700)}, () => rand(256)) : base.map((x) => (rand(10) === 0 ? [0, 46, 47, rand(256)][rand(4)]! : x));
      const r = parseRequest(b);
      if (r.ok) expect(r.request.path.split('/')).not.toContain('..');
    }
  });

  it('writes data, error and option acknowledgements as RFC 1350 and 2347 lay them out', () => {
    expect([...dataPacket(65537, Uint8Array.of(9, 9))]).toEqual([0, 3, 0, 1, 9, 9]);
    expect([...errorPacket(1, 'not found')]).toEqual([0, 5, 0, 1, ...[...'not found'].map((c) => c.charCodeAt(0)), 0]);
    expect(new TextDecoder().decode(oackPacket({blksize: 1432, tsize: 0}, 70328).subarray(2))).toBe('blksize\u00001432\u0000tsize\u000070328\u0000');
    expect(ackBlock(Uint8Array.of(0, 4, 1, 2))).toBe(258);
    expect(ackBlock(Uint8Array.of(0, 5, 0, 1))).toBeUndefined();
  });
});
