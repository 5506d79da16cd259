// The agent's runtime module (src/agent/runtime.ts) under the real qjs the deploy
// environment runs, not through Node: files, processes (timeouts that take the whole
// group, streamed lines, signals, detached daemons) and the IMGBUILD sandbox built on them.
// test/qjs/runtime-checks.ts runs there and reports what it saw; this file judges.

import {execFileSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, symlinkSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {qjsCommand} from '../helpers/kernel.js';
import {bundleForQjs} from '../helpers/qjs.js';

const root = process.getuid?.() === 0;

describe('the agent runtime under QuickJS', () => {
  const seen = new Map<string, any>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-qjs-'));
    const bundle = join(dir, 'checks.mjs');
    bundleForQjs('test/qjs/runtime-checks.ts', bundle);
    // The deploy environment's setsid is Debian's busybox (as here, busybox-static), which
    // runs its own applet for a bare program name: first on PATH here too.
    mkdirSync(join(dir, 'bb'));
    symlinkSync('/bin/busybox', join(dir, 'bb', 'setsid'));
    const [qjs, ...flags] = qjsCommand();
    const out = execFileSync(qjs!, [...flags, bundle, join(dir, 'scratch')], {encoding: 'utf8', timeout: 60_000, cwd: dir, env: {...process.env, PATH: `${join(dir, 'bb')}:${process.env.PATH}`}});
    for (const line of out.trim().split('\n')) {
      const {name, value} = JSON.parse(line);
      seen.set(name, value);
    }
  }, 120_000);

  it('files: UTF-8 both ways, modes, bytes, listing sorted, recursive mkdir and rm, ENOENT', () => {
    expect(seen.get('files')).toEqual({
      text: 'héllo ☃ 𝄞\nmore\n',
      mode: '640',
      copyMode: '600',
      bytes: [0, 1, 2, 255, 254],
      firstThree: [0, 1, 2],
      list: ['b', 'bytes', 'copy'],
      isDir: true,
      exists: [true, false],
    });
    expect(seen.get('missing file')).toMatchObject({code: 'ENOENT', error: expect.stringMatching(/No such file/)});
    expect(seen.get('remove tree')).toBe(false);
  });

  it('run: stdout, stderr, exit code, input, cwd, environment extended or replaced', () => {
    expect(seen.get('run')).toEqual({stdout: `out ☃\nfrom stdin\nfoo/${process.env.HOME}\n/tmp\n`, stderr: 'err\n', exitCode: 3, bare: '[]\n'});
  });

  it('run: a program named relative to its cwd (./deploy)', () => {
    expect(seen.get('run relative')).toMatch(/^ran in \/.*\/payload-like\n$/);
  });

  it('run: a command in a process group of its own is the real program, not an applet of the busybox setsid that starts it', () => {
    const {setsid, grouped, plain} = seen.get('run through busybox setsid');
    expect(setsid).toMatch(/\/busybox$/);
    expect(plain).not.toMatch(/busybox/);
    expect(grouped).toBe(plain);
  });

  it('run: a failure, a missing tool and a timeout are told as the Node runner tells them; the timeout takes the grandchild', () => {
    expect(seen.get('run failing')).toMatchObject({code: 'command-failed', error: 'sh failed with exit code 4.', details: expect.arrayContaining(['stderr: why'])});
    expect(seen.get('run missing')).toMatchObject({code: 'tool-missing', error: 'The command "no-such-tool-here" is not installed.'});
    const t = seen.get('run timeout');
    expect(t.err).toMatch(/timed out after 800 ms/);
    expect(t.seconds).toBeLessThan(10);
    expect(t.grandchildAlive).toBe(false);
  });

  it('stream: lines as they come (the last without a newline), the exit code, a signal, a timeout that takes the group', () => {
    expect(seen.get('stream')).toEqual({lines: ['one', 'two', 'no newline ☃'], exitCode: 5, signal: null, timedOut: false});
    expect(seen.get('stream killed')).toEqual({exitCode: null, signal: 'SIGTERM', timedOut: false});
    const t = seen.get('stream timeout');
    expect(t).toMatchObject({timedOut: true, signal: 'SIGTERM', lines: ['started'], grandchildAlive: false});
    expect(t.seconds).toBeLessThan(10);
    // A daemon the command left behind holds the pipe: the stream ends anyway.
    expect(seen.get('stream leaves a daemon')).toMatchObject({exitCode: 0, timedOut: false});
    expect(seen.get('stream leaves a daemon').seconds).toBeLessThan(4);
  });

  it('detach: the command runs on with its output where asked, and is reaped (no zombie)', () => {
    expect(seen.get('detach')).toEqual({log: 'detached output\n', zombieOrAlive: false});
  });

  it('the IMGBUILD sandbox on this runtime: the top level runs as nobody (under root) on a copy', () => {
    const v = seen.get('imgbuild sandbox');
    expect(v).toMatchObject({asRoot: root, errors: [], motdKept: true, files: ['file IMGBUILD', 'dir files', 'dir files/etc', 'file files/etc/motd']});
    expect(v.imgname).toBe(`web${root ? 65534 : process.getuid?.()}`);
  });
});
