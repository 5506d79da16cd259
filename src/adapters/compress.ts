// The one place data is compressed or decompressed. gzip uses Node's zlib (native, and
// every Debian kernel unpacks it); zstd and xz use the system tools (Node 20's zlib has
// neither; both run on every core, -T0, unless told otherwise).

import {Readable} from 'node:stream';
import {createGzip, gunzipSync} from 'node:zlib';
import type {Compression, Decompressor} from '../core/initramfs-format.js';
import {commandFailed, pipeCommand, realRunner, type Runner} from './process.js';

export interface CompressOptions {
  /** zstd level (default 19) or gzip level (default 9). */
  level?: number;
  threads?: number;
}

function toolStream(cmd: string, args: string[], source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const p = pipeCommand(cmd, args, {input: source, missingHint: `Install ${cmd} (Debian package "${cmd}").`});
  return (async function* () {
    for await (const chunk of p.output) yield chunk;
    const end = await p.done;
    if (end.exitCode !== 0) throw commandFailed(cmd, args, end.exitCode ?? -1, end.stderr || `killed by ${end.signal}`);
  })();
}

export function compressStream(kind: Compression, source: AsyncIterable<Uint8Array>, opts: CompressOptions = {}): AsyncIterable<Uint8Array> {
  switch (kind) {
    case 'none':
      return source;
    case 'gzip':
      return Readable.from(source).pipe(createGzip({level: opts.level ?? 9}));
    case 'zstd':
      // --check adds a checksum the kernel verifies; -T threads, never long-distance mode
      // (the kernel decompressor limits the window).
      return toolStream('zstd', ['-q', '-c', `-${opts.level ?? 19}`, `-T${opts.threads ?? 0}`, '--check'], source);
    case 'xz':
      // The kernel's xz decoder wants CRC32 checks, not the default CRC64.
      return toolStream('xz', ['-c', '--check=crc32', `-${Math.min(opts.level ?? 6, 9)}`, `-T${opts.threads ?? 0}`], source);
  }
}

/** Decompressor for scanInitramfs (listing, tests). */
export function makeDecompressor(runner: Runner = realRunner): Decompressor {
  return async (format, input) => {
    if (format === 'gzip') {
      const r = gunzipSync(input, {info: true}) as unknown as {buffer: Buffer; engine: {bytesWritten: number}};
      return {data: r.buffer, consumed: r.engine.bytesWritten};
    }
    const r = await runner.run(format === 'zstd' ? 'zstd' : 'xz', ['-d', '-c', '-q'], {input, binary: true});
    return {data: r.stdoutBytes ?? new Uint8Array()};
  };
}
