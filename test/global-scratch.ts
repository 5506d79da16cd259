// Every test run gets one scratch directory, and everything the tests put in the temporary
// directory (VM disks of several GiB, composed initramfs images, serial logs) lives in it.
// It is removed when the run ends, so repeated runs do not fill the disk: a CI run once
// failed with ENOSPC on a machine whose /tmp held 73 GB of earlier runs' disks.
// ANEMOS_KEEP_SCRATCH=1 keeps it for a look afterwards (its path is printed).

import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-test-run-'));
  // os.tmpdir() reads TMPDIR; the test workers and every tool they start inherit it.
  process.env.TMPDIR = dir;
  return () => {
    if (process.env.ANEMOS_KEEP_SCRATCH === '1') process.stderr.write(`test scratch kept: ${dir}\n`);
    else rmSync(dir, {recursive: true, force: true});
  };
}
