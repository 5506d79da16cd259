// Every test run gets one scratch directory, and everything the tests put in the temporary
// directory (VM disks of several GiB, composed initramfs images, serial logs) lives in it.
// It is removed when the run ends, so repeated runs do not fill the disk: a CI run once
// failed with ENOSPC on a machine whose /tmp held 73 GB of earlier runs' disks.
// ANEMOS_KEEP_SCRATCH=1 keeps it for a look afterwards (its path is printed).

import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

/** Mount points below dir: a recursive delete would walk into them (a bind-mounted /dev, say). */
function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m): m is string => Boolean(m?.startsWith(`${dir}/`)));
}

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-test-run-'));
  // os.tmpdir() reads TMPDIR; the test workers and every tool they start inherit it.
  process.env.TMPDIR = dir;
  return () => {
    const mounts = mountsBelow(dir);
    if (mounts.length) process.stderr.write(`test scratch kept: ${dir} still has mounts (${mounts.join(', ')}); unmount them, then remove it\n`);
    else if (process.env.ANEMOS_KEEP_SCRATCH === '1') process.stderr.write(`test scratch kept: ${dir}\n`);
    else rmSync(dir, {recursive: true, force: true});
  };
}
