// The executor's reads and writes of host files (host keys to carry, the boot method's
// staged files such as GRUB's custom.cfg, the work directory), behind one small interface
// so that its decisions can be tested with a fake.

import {mkdir, readFile, writeFile, chmod} from 'node:fs/promises';

export interface HostFiles {
  /** Text of a file, or undefined when it does not exist. */
  read(path: string): Promise<string | undefined>;
  readBytes(path: string): Promise<Uint8Array>;
  write(path: string, content: string): Promise<void>;
  /** A directory only root may enter (0700), made if missing. */
  mkdirPrivate(path: string): Promise<void>;
}

export const hostFiles: HostFiles = {
  read: (path) =>
    readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    }),
  readBytes: (path) => readFile(path),
  write: (path, content) => writeFile(path, content),
  async mkdirPrivate(path) {
    await mkdir(path, {recursive: true, mode: 0o700});
    await chmod(path, 0o700);
  },
};
