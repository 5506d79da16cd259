// Write base ‖ segments to a file. The base is copied byte for byte (never decompressed);
// each segment is a newc archive, compressed on its own, padded to 4 bytes so the next
// one starts where the kernel looks for it.

import {createReadStream, createWriteStream} from 'node:fs';
import {chmod, copyFile, rm, stat, statfs} from 'node:fs/promises';
import {dirname} from 'node:path';
import {once} from 'node:events';
import type {Writable} from 'node:stream';
import {compressStream} from './compress.js';
import {writeCpio} from '../core/cpio.js';
import {detectFormat} from '../core/initramfs-format.js';
import type {SegmentSpec} from '../core/segments.js';
import {artifactError, noRoom, writeFailure} from '../shared/errors.js';
import type {ProgressSink} from '../shared/progress.js';

export interface ComposedSegment {
  name: string;
  compression: string;
  offset: number;
  length: number;
}

export interface ComposeResult {
  output: string;
  size: number;
  baseSize: number;
  segments: ComposedSegment[];
}

async function write(out: Writable, chunk: Uint8Array): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Check that the base looks like something the kernel can unpack, without unpacking it. */
export async function checkBase(path: string): Promise<void> {
  const fh = createReadStream(path, {start: 0, end: 15});
  const head: Buffer[] = [];
  for await (const c of fh) head.push(c as Buffer);
  const buf = Buffer.concat(head);
  const format = buf.length >= 6 ? detectFormat(buf, 0) : 'unknown';
  if (format === 'unknown' || format === 'lz4' || format === 'lzma' || format === 'bzip2') {
    throw artifactError('initramfs-base-format', `${path} is not a newc cpio archive compressed with gzip, xz or zstd (found ${format === 'unknown' ? 'unknown bytes' : format}).`, 'Use the initramfs.cpio.zst made by "anemos initramfs build".');
  }
}

export async function composeInitramfs(
  base: string,
  segments: SegmentSpec[],
  output: string,
  opts: {mtime?: number; progress?: ProgressSink; /** Advice for a full disk: where else the image can go. */ elsewhere?: string} = {},
): Promise<ComposeResult> {
  const elsewhere = opts.elsewhere ?? 'write it to another file system';
  await checkBase(base);
  const baseSize = (await stat(base)).size;
  const fs = await statfs(dirname(output));
  const room = noRoom(dirname(output), baseSize, fs.bavail * fs.bsize, 'the composed initramfs', elsewhere);
  if (room) throw room;
  try {
    return await writeComposed(base, baseSize, segments, output, opts);
  } catch (err) {
    // A half-written image is of no use to anyone; on a full disk it is in the way.
    await rm(output, {force: true});
    throw writeFailure(err, output, 'the composed initramfs', elsewhere) ?? err;
  }
}

async function writeComposed(base: string, baseSize: number, segments: SegmentSpec[], output: string, opts: {mtime?: number; progress?: ProgressSink}): Promise<ComposeResult> {
  // The base is copied by the kernel (copy_file_range, or a reflink where the filesystem
  // has them): no bytes pass through this process. Segments are appended after it.
  await copyFile(base, output);
  await chmod(output, 0o600);
  opts.progress?.finish('compose base', `${baseSize} bytes copied unchanged`);
  const {end, result} = await writeSegments(createWriteStream(output, {flags: 'r+', start: baseSize}), baseSize, segments, opts);
  return {output, size: end, baseSize, segments: result};
}

/**
 * What follows a base of baseSize bytes (padding, then the segments), into its own file:
 * for a base that lives on another machine, where `cat base tail` makes the image.
 */
export async function composeTail(baseSize: number, segments: SegmentSpec[], output: string, opts: {mtime?: number; progress?: ProgressSink} = {}): Promise<ComposeResult> {
  const {end, result} = await writeSegments(createWriteStream(output, {mode: 0o600}), baseSize, segments, opts);
  return {output, size: end, baseSize, segments: result};
}

async function writeSegments(out: Writable, baseSize: number, segments: SegmentSpec[], opts: {mtime?: number; progress?: ProgressSink}): Promise<{end: number; result: ComposedSegment[]}> {
  const failed = new Promise<never>((_, reject) => out.on('error', reject));
  const work = (async () => {
    let offset = baseSize;
    const result: ComposedSegment[] = [];
    const pad = async () => {
      // An uncompressed archive must start 4-byte aligned; zeros between archives are skipped.
      if (offset % 4 === 0) return;
      const zeros = Buffer.alloc(4 - (offset % 4));
      await write(out, zeros);
      offset += zeros.byteLength;
    };
    for (const seg of segments) {
      await pad();
      const start = offset;
      for await (const chunk of compressStream(seg.compression, writeCpio(seg.entries, {mtime: opts.mtime}))) {
        await write(out, chunk);
        offset += chunk.byteLength;
      }
      result.push({name: seg.name, compression: seg.compression, offset: start, length: offset - start});
      opts.progress?.update(`compose ${seg.name}`, offset - start);
    }
    await pad();
    out.end();
    await once(out, 'finish');
    return {end: offset, result};
  })();
  return Promise.race([work, failed]);
}
