// The one Runner, against real processes: a timeout kills the whole process group (a
// grandchild included), streamed lines arrive as they come, a signal is an exit.

import {existsSync, mkdtempSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {realRunner} from '../../src/adapters/process.js';

/** Running, not gone and not a zombie waiting for its (new) parent to reap it. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

describe('Runner', () => {
  it('stream: lines as they come; on timeout the group goes, grandchildren too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-runner-'));
    const lines: string[] = [];
    const t0 = Date.now();
    const r = await realRunner.stream('sh', ['-c', `echo one; echo two >&2; sleep 60 & echo $! > ${dir}/grandchild; wait`], {onLine: (l) => lines.push(l), timeoutSeconds: 1});
    expect(r.timedOut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(lines.sort()).toEqual(['one', 'two']);
    const pid = Number((await realRunner.run('cat', [`${dir}/grandchild`])).stdout);
    await new Promise((res) => setTimeout(res, 200));
    expect(alive(pid)).toBe(false);
    const ok = await realRunner.stream('sh', ['-c', 'exit 3'], {onLine: () => {}, timeoutSeconds: 5});
    expect(ok).toEqual({exitCode: 3, signal: null, timedOut: false});
  });

  it('run: a timeout kills what the command started; a signal is an exit, not a failure to start', async () => {
    const t0 = Date.now();
    await expect(realRunner.run('sh', ['-c', 'sleep 60 & wait'], {timeoutMs: 500})).rejects.toMatchObject({code: 'command-failed', details: expect.arrayContaining([expect.stringMatching(/timed out after 500 ms/)])});
    expect(Date.now() - t0).toBeLessThan(8000);
    const killed = await realRunner.run('sh', ['-c', 'kill -TERM $$'], {allowFail: true});
    expect(killed.exitCode).toBe(-1);
    await expect(realRunner.run('no-such-tool-anemos', [])).rejects.toMatchObject({code: 'tool-missing'});
  });

  it('detach: the command runs on after the call returns', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-detach-'));
    realRunner.detach('sh', ['-c', `sleep 0.3; touch ${dir}/done`]);
    expect(existsSync(join(dir, 'done'))).toBe(false);
    await new Promise((res) => setTimeout(res, 1500));
    expect(existsSync(join(dir, 'done'))).toBe(true);
  });
});
