import {gzipSync, gunzipSync} from 'node:zlib';
import {describe, expect, it} from 'vitest';
import {buildCpio} from './cpio.js';
import {crc32, detectFormat, imageMountPoint, scanInitramfs, type Decompressor, type ImageLister} from './initramfs-format.js';

// Unit tests use zlib only; zstd/xz framing is checked against real zstd/xz output in
// test/integration/archive-tools.test.ts, and whole composed archives in kernel-boot.test.ts.
const gzipOnly: Decompressor = async (format, input) => {
  if (format !== 'gzip') throw new Error(`test decompressor got ${format}`);
  const r = gunzipSync(input, {info: true}) as unknown as {buffer: Buffer; engine: {bytesWritten: number}};
  return {data: r.buffer, consumed: r.engine.bytesWritten};
};

describe('initramfs segments', () => {
  it('detects formats by magic', () => {
    expect(detectFormat(Buffer.from('070701'), 0)).toBe('none');
    expect(detectFormat(gzipSync('x'), 0)).toBe('gzip');
    expect(detectFormat(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), 0)).toBe('zstd');
    expect(detectFormat(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]), 0)).toBe('xz');
    expect(detectFormat(Buffer.from('BZh9'), 0)).toBe('bzip2');
    expect(detectFormat(Buffer.from('hello'), 0)).toBe('unknown');
  });

  it('walks gzip ‖ zero padding ‖ plain cpio ‖ plain cpio like the kernel', async () => {
    const base = gzipSync(await buildCpio([{path: 'init', type: 'file', mode: 0o755, data: Buffer.from('#!/bin/sh\n')}]));
    const pad = Buffer.alloc((4 - (base.byteLength % 4)) % 4);
    const seg1 = await buildCpio([{path: 'anemos/config.json', type: 'file', data: Buffer.from('{}')}]);
    const seg2 = await buildCpio([{path: 'anemos/payload.tar.gz', type: 'file', data: Buffer.from('tar')}]);
    const segments = await scanInitramfs(Buffer.concat([base, pad, seg1, seg2]), gzipOnly);
    expect(segments.map((s) => s.compression)).toEqual(['gzip', 'none', 'none']);
    expect(segments[0].entries.map((e) => e.path)).toEqual(['init']);
    expect(segments[1].entries.map((e) => e.path)).toEqual(['anemos', 'anemos/config.json']);
    expect(segments[2].offset).toBe(base.byteLength + pad.byteLength + seg1.byteLength);
  });

  it('refuses a plain cpio archive that is not 4-byte aligned, as the kernel does', async () => {
    const seg = await buildCpio([{path: 'x', type: 'file'}]);
    await expect(scanInitramfs(Buffer.concat([Buffer.from([0x41]), seg]), gzipOnly)).rejects.toThrow(/not a cpio archive/);
    const base = gzipSync(Buffer.from('x')); // 21 bytes: the cpio after it is misaligned
    await expect(scanInitramfs(Buffer.concat([base, seg]), async (f, i) => ({data: Buffer.alloc(0), consumed: 21}))).rejects.toThrow(/not 4-byte aligned/);
  });

  it('lists the files of the squashfs image /init mounts (early/NAME.squashfs on /NAME) after the image, and no other file', async () => {
    const image = Buffer.concat([Buffer.from('hsqs'), Buffer.from('rest of the image')]);
    const seen: string[] = [];
    const lister: ImageLister = async (bytes) => {
      seen.push(Buffer.from(bytes).toString());
      return [{path: 'bin', type: 'dir', mode: 0o755, size: 0}, {path: 'bin/qjs', type: 'file', mode: 0o755, size: 981168}];
    };
    const base = gzipSync(await buildCpio([
      {path: 'early/usr.squashfs', type: 'file', data: image},
      {path: 'early/other.squashfs', type: 'file', data: Buffer.from('not squashfs')},
      {path: 'usr.squashfs', type: 'file', data: image},
    ]));
    const [seg] = await scanInitramfs(base, gzipOnly, lister);
    expect(seen).toEqual([image.toString()]);
    expect(seg!.entries.map((e) => [e.path, e.image])).toEqual([
      ['early', undefined],
      ['early/other.squashfs', undefined],
      ['early/usr.squashfs', undefined],
      ['usr/bin', 'early/usr.squashfs'],
      ['usr/bin/qjs', 'early/usr.squashfs'],
      ['usr.squashfs', undefined],
    ]);
    expect(seg!.entries.find((e) => e.path === 'usr/bin/qjs')!.size).toBe(981168);
    expect(imageMountPoint('./early/usr.squashfs')).toBe('usr');
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});
