// Every test run gets one scratch directory, and everything the tests put in the temporary
// directory (VM disks of several GiB, composed initramfs images, serial logs) lives in it.
// It is removed when the run ends, so repeated runs do not fill the disk: a CI run once
// failed with ENOSPC on a machine whose /tmp held 73 GB of earlier runs' disks.
// ANEMOS_KEEP_SCRATCH=1 keeps it for a look afterwards (its path is printed).
// The serial logs (*.log, small) are kept first, under .cache/test-logs/RUN/ with their
// paths inside the scratch directory, so a failed VM case can be read after the run;
// the last five runs' logs are kept.

import {cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, join, relative} from 'node:path';

const LOGS = join(__dirname, '..', '.cache', 'test-logs');
const KEEP_RUNS = 5;

/** Mount points below dir: a recursive delete would walk into them (a bind-mounted /dev, say). */
function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m): m is string => Boolean(m?.startsWith(`${dir}/`)));
}

/** Every *.log below dir, not following links or entering mounts. */
function logsBelow(dir: string, mounts: string[]): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = join(dir, e.name);
    if (e.isDirectory() && !mounts.includes(p)) out.push(...logsBelow(p, mounts));
    else if (e.isFile() && e.name.endsWith('.log')) out.push(p);
  }
  return out;
}

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-test-run-'));
  const kept = join(LOGS, basename(dir));
  // os.tmpdir() reads TMPDIR; the test workers and every tool they start inherit it.
  process.env.TMPDIR = dir;
  process.env.ANEMOS_TEST_SCRATCH = dir;
  process.env.ANEMOS_TEST_LOGS = kept;
  return () => {
    const mounts = mountsBelow(dir);
    const logs = logsBelow(dir, mounts);
    for (const f of logs) cpSync(f, join(kept, relative(dir, f)));
    if (logs.length) {
      process.stderr.write(`test logs kept: ${kept} (${logs.length} serial and tool logs)\n`);
      const runs = readdirSync(LOGS).map((n) => join(LOGS, n)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
      for (const old of runs.slice(KEEP_RUNS)) rmSync(old, {recursive: true, force: true});
    }
    if (mounts.length) process.stderr.write(`test scratch kept: ${dir} still has mounts (${mounts.join(', ')}); unmount them, then remove it\n`);
    else if (process.env.ANEMOS_KEEP_SCRATCH === '1') process.stderr.write(`test scratch kept: ${dir}\n`);
    else rmSync(dir, {recursive: true, force: true});
  };
}
