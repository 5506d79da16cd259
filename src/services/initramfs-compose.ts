// "initramfs compose" with files from the host: SRC=DEST pairs become one segment.

import {createReadStream} from 'node:fs';
import {stat} from 'node:fs/promises';
import type {CpioEntry} from '../core/cpio.js';
import type {Compression} from '../core/initramfs-format.js';
import {pathMissing, usageError} from '../shared/errors.js';
import type {ProgressSink} from '../shared/progress.js';
import {composeInitramfs, type ComposeResult} from '../adapters/compose.js';

export async function fileEntry(src: string, dest: string): Promise<CpioEntry> {
  let st;
  try {
    st = await stat(src);
  } catch {
    throw pathMissing(src, 'The file', 'Check the SRC part of --add SRC=DEST.');
  }
  if (!st.isFile()) throw usageError('compose-not-a-file', `${src} is not a regular file.`, 'Add files one by one.');
  return {path: dest, type: 'file', mode: st.mode & 0o7777, data: {size: st.size, open: () => createReadStream(src, {highWaterMark: 1 << 20})}};
}

export async function composeFiles(opts: {base: string; output: string; add: string[]; compression: Compression; mtime: number; progress?: ProgressSink}): Promise<ComposeResult> {
  if (!(await stat(opts.base).then(() => true, () => false))) throw pathMissing(opts.base, 'The base initramfs', 'Check the path; "anemos initramfs build -o DIR" writes DIR/initramfs.cpio.zst.');
  const entries: CpioEntry[] = [];
  for (const pair of opts.add) {
    const i = pair.indexOf('=');
    if (i <= 0 || i === pair.length - 1) throw usageError('compose-bad-add', `--add "${pair}" is not SRC=DEST.`, 'Example: --add ./network.json=anemos/network.json');
    entries.push(await fileEntry(pair.slice(0, i), pair.slice(i + 1)));
  }
  return composeInitramfs(opts.base, entries.length ? [{name: 'files', compression: opts.compression, entries}] : [], opts.output, {mtime: opts.mtime, progress: opts.progress});
}
