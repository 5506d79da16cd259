// An IMGBUILD's top level is someone else's code, sourced on the operator's machine by
// "payload check" and "deploy" (and in the deploy environment). A destructive top level
// must touch nothing: it runs on a throwaway copy, with an empty environment, under a
// timeout, and as nobody when anemos runs as root (as deploy does).

import {execFile} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {describe, expect, it} from 'vitest';
import {evaluateImgbuild, NOBODY} from '../../src/adapters/payload-dir.js';
import {realRunner} from '../../src/adapters/process.js';
import {CLI} from '../helpers/kernel.js';

const exec = promisify(execFile);
const root = process.getuid?.() === 0;

describe('IMGBUILD evaluation with least privilege', () => {
  function setup(): {home: string; victim: string; payload: string} {
    const base = mkdtempSync(join(tmpdir(), 'anemos-sandbox-'));
    const home = join(base, 'home');
    const victim = join(base, 'victim');
    const payload = join(base, 'payload');
    for (const d of [home, victim, payload]) mkdirSync(d);
    writeFileSync(join(home, 'precious'), 'keep me\n');
    writeFileSync(join(victim, 'data'), 'keep me too\n');
    writeFileSync(
      join(payload, 'IMGBUILD'),
      [
        'imgname="web$(id -u)${SECRET_TOKEN:-}"',
        'target=debian',
        'rm -rf "$HOME" 2>/dev/null || true',
        `rm -rf ${victim} 2>/dev/null || true`,
        'rm -rf "$PWD"/files 2>/dev/null || true',
        '',
      ].join('\n'),
    );
    mkdirSync(join(payload, 'files/etc'), {recursive: true});
    writeFileSync(join(payload, 'files/etc/motd'), 'hello\n');
    return {home, victim, payload};
  }

  it('a destructive top level deletes nothing of the operator\'s, sees none of the environment, and runs as nobody under root', async () => {
    const {home, victim, payload} = setup();
    // Our own HOME is the test's, too: were the sandbox broken, only it would go.
    const realHome = process.env.HOME;
    process.env.SECRET_TOKEN = '-leaked';
    process.env.HOME = home;
    try {
      const v = await evaluateImgbuild(realRunner, payload);
      expect(v.errors).toEqual([]);
      expect(v.spec?.imgname).toBe(`web${root ? NOBODY : process.getuid?.()}`);
    } finally {
      delete process.env.SECRET_TOKEN;
      process.env.HOME = realHome;
    }
    expect(readFileSync(join(victim, 'data'), 'utf8')).toBe('keep me too\n');
    expect(readFileSync(join(home, 'precious'), 'utf8')).toBe('keep me\n');
    expect(readFileSync(join(payload, 'files/etc/motd'), 'utf8')).toBe('hello\n');
    // The CLI, with this HOME: the same.
    const r = await exec(process.execPath, [CLI, 'payload', 'check', payload], {env: {...process.env, HOME: home, SECRET_TOKEN: '-leaked', ANEMOS_CONFIG: ''}});
    expect(r.stdout).toMatch(/IMGBUILD "web\d+": debian/);
    expect(r.stdout).not.toMatch(/leaked/);
    expect(existsSync(join(home, 'precious'))).toBe(true);
    expect(existsSync(join(victim, 'data'))).toBe(true);
    expect(existsSync(join(payload, 'files/etc/motd'))).toBe(true);
  });

  it.runIf(root)('a link in the payload is handed to nobody itself: what it points at keeps its owner', async () => {
    const {victim, payload} = setup();
    writeFileSync(join(victim, 'owned-by-root'), 'x\n');
    symlinkSync(join(victim, 'owned-by-root'), join(payload, 'files/etc/link'));
    const v = await evaluateImgbuild(realRunner, payload);
    expect(v.errors).toEqual([]);
    expect(statSync(join(victim, 'owned-by-root')).uid).toBe(0);
  });

  it('an IMGBUILD whose top level never returns is stopped by the timeout', async () => {
    const {payload} = setup();
    writeFileSync(join(payload, 'IMGBUILD'), 'imgname=x\ntarget=debian\nsleep 30\n');
    const t0 = Date.now();
    const v = await evaluateImgbuild(realRunner, payload, undefined, 1500);
    expect(v.errors).toEqual([expect.stringMatching(/did not finish within 1\.5 s when sourced by sh/)]);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
