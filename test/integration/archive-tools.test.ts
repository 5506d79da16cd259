// Our zstd and xz stream walkers against the real tools' output.
import {execFileSync} from 'node:child_process';
import {describe, expect, it} from 'vitest';
import {xzStreamEnd, zstdContentSize, zstdFramesEnd} from '../../src/core/initramfs-format.js';

describe('compressed stream boundaries, checked against zstd and xz', () => {
  const payload = Buffer.from('anemos '.repeat(5000));

  it('finds the end of zstd frames without decompressing, and reads the content size', () => {
    const zst = execFileSync('zstd', ['-q', '-c', '--check'], {input: payload});
    expect(zstdFramesEnd(Buffer.concat([zst, Buffer.alloc(8)]), 0)).toBe(zst.byteLength);
    const two = Buffer.concat([zst, zst]);
    expect(zstdFramesEnd(two, 0)).toBe(two.byteLength);
    // From stdin zstd cannot know the size; with --stream-size it records it.
    expect(zstdContentSize(zst)).toBeUndefined();
    const sized = execFileSync('zstd', ['-q', '-c', `--stream-size=${payload.byteLength}`], {input: payload});
    expect(zstdContentSize(sized)).toBe(payload.byteLength);
  });

  it('finds the end of an xz stream by its footer', () => {
    const xz = execFileSync('xz', ['-c', '--check=crc32'], {input: payload});
    expect(xzStreamEnd(Buffer.concat([xz, Buffer.from('0707010000')]), 0)).toBe(xz.byteLength);
  });
});
