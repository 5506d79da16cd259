// The host as the facts gatherer and the executor see it: a Runner for its commands and
// HostFiles for its files. On the host itself both are local (hostFiles, realRunner); from
// a workstation both go over SSH (adapters/ssh-host.ts). Everything above this seam is the
// same code either way, and its decisions can be tested with fakes.

import {createReadStream} from 'node:fs';
import {chmod, mkdir, open, readFile, readdir, stat, statfs, writeFile} from 'node:fs/promises';
import {hostname} from 'node:os';
import {dirname} from 'node:path';
import {which} from './which.js';
import {realRunner, type Runner} from './process.js';

export interface FileStat {
  size: number;
  /** Device number: two paths on one file system share it. */
  dev: number;
  isFile: boolean;
  isDirectory: boolean;
}

export interface HostFiles {
  /** Text of a file, or undefined when it does not exist. */
  read(path: string): Promise<string | undefined>;
  readBytes(path: string): Promise<Uint8Array>;
  /** length bytes from offset (fewer at the end of the file). */
  readRange(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** The file's bytes as a stream (firmware into the composed image). */
  openRead(path: string): AsyncIterable<Uint8Array>;
  write(path: string, content: string): Promise<void>;
  /** A file only its owner reads (0600), its directory made 0700 if missing: a credential. */
  writePrivate(path: string, content: string): Promise<void>;
  /** A directory only root may enter (0700), made if missing. */
  mkdirPrivate(path: string): Promise<void>;
  stat(path: string): Promise<FileStat | undefined>;
  /** Names in a directory; [] when it does not exist. */
  list(path: string): Promise<string[]>;
  /** Bytes free for root on the file system that holds path. */
  freeBytes(path: string): Promise<number | undefined>;
}

export interface Host {
  /** For messages: "this host", or the SSH destination. */
  name: string;
  runner: Runner;
  files: HostFiles;
  /** The path of a command as root would find it, or undefined. */
  which(cmd: string): Promise<string | undefined>;
  hostname(): Promise<string>;
  /** Whether commands run as root (uid 0, directly or through sudo -n). */
  isRoot(): Promise<boolean>;
}

const absent = (err: NodeJS.ErrnoException) => {
  if (err.code === 'ENOENT') return undefined;
  throw err;
};

export const hostFiles: HostFiles = {
  read: (path) => readFile(path, 'utf8').catch(absent),
  readBytes: (path) => readFile(path),
  async readRange(path, offset, length) {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(length);
      const {bytesRead} = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  },
  openRead: (path) => createReadStream(path, {highWaterMark: 1 << 20}),
  write: (path, content) => writeFile(path, content),
  async writePrivate(path, content) {
    await mkdir(dirname(path), {recursive: true, mode: 0o700});
    await writeFile(path, content, {mode: 0o600});
    await chmod(path, 0o600);
  },
  async mkdirPrivate(path) {
    await mkdir(path, {recursive: true, mode: 0o700});
    await chmod(path, 0o700);
  },
  stat: (path) => stat(path).then((s) => ({size: s.size, dev: s.dev, isFile: s.isFile(), isDirectory: s.isDirectory()}), () => undefined),
  list: (path) => readdir(path).catch(() => []),
  freeBytes: (path) => statfs(path).then((s) => s.bavail * s.bsize, () => undefined),
};

export const localHost: Host = {
  name: 'this host',
  runner: realRunner,
  files: hostFiles,
  which: (cmd) => which(cmd),
  hostname: async () => hostname(),
  isRoot: async () => process.getuid?.() === 0,
};
