// Where a command is, as root would find it: PATH, then the sbin directories a user's PATH lacks.

import {access} from 'node:fs/promises';
import {constants} from 'node:fs';
import {join} from 'node:path';

export async function which(cmd: string, pathEnv = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of [...pathEnv.split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}
