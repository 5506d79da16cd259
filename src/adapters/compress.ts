// The one place data is compressed or decompressed. gzip uses Node's zlib (native, and
// every Debian kernel unpacks it); zstd and xz use the system tools (Node 20's zlib has
// neither; both run on every core, -T0, unless told otherwise).

import {spawn} from 'node:child_process';
import {Readable} from 'node:stream';
import {createGzip, gunzipSync} from 'node:zlib';
import type {Compression, Decompressor} from '../core/initramfs-format.js';
import {realRunner, type Runner} from './process.js';
import {AnemosError} from '../shared/errors.js';

export interface CompressOptions {
  /** zstd level (default 19) or gzip level (default 9). */
  level?: number;
  threads?: number;
}

function toolStream(cmd: string, args: string[], source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const child = spawn(cmd, args, {stdio: ['pipe', 'pipe', 'pipe']});
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(new AnemosError('precondition', 'tool-missing', err.code === 'ENOENT' ? `The command "${cmd}" is not installed.` : `${cmd}: ${err.message}`, {hint: `Install ${cmd} (Debian package "${cmd}").`})),
    );
    child.on('close', (code) => (code === 0 ? resolve() : reject(new AnemosError('command', 'command-failed', `${cmd} ${args.join(' ')} failed with exit code ${code}: ${stderr.trim()}`))));
  });
  Readable.from(source).pipe(child.stdin);
  child.stdin.on('error', () => {
    // EPIPE when the tool died early; its exit status, reported by `exited`, says why.
  });
  return (async function* () {
    for await (const chunk of child.stdout) yield chunk as Uint8Array;
    await exited;
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
