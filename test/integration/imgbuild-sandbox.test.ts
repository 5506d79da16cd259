// An IMGBUILD's top level is someone else's code, sourced on the operator's machine by
// "payload check" and "deploy" (and in the deploy environment). A destructive top level
// must touch nothing: it runs on a throwaway copy, with an empty environment, under a
// timeout, and as nobody when anemos runs as root (as deploy does).

import {execFile, execFileSync} from 'node:child_process';
import {createServer} from 'node:http';
import type {AddressInfo} from 'node:net';
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs';
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

  it.runIf(root)('under root: a child the top level started in a session of its own (setsid) dies with the timeout too', async () => {
    const {payload} = setup();
    const outside = mkdtempSync('/tmp/anemos-escape-');
    chmodSync(outside, 0o777);
    const marker = join(outside, 'escaped');
    writeFileSync(join(payload, 'IMGBUILD'), `imgname=x\ntarget=debian\nsetsid sh -c 'sleep 3; echo escaped > ${marker}' &\nsleep 30\n`);
    const v = await evaluateImgbuild(realRunner, payload, undefined, 1500);
    expect(v.errors).toEqual([expect.stringMatching(/did not finish within 1\.5 s/)]);
    await new Promise((r) => setTimeout(r, 4000));
    expect(existsSync(marker)).toBe(false);
    rmSync(outside, {recursive: true, force: true});
  });

  // Issue #23: without root, the payload's code ran as the operator, with the operator's
  // files and network, and a setsid child outlived the timeout. Now bubblewrap holds it.
  describe.runIf(root)('as an ordinary user (nobody, on this machine), under bubblewrap', () => {
    const base = mkdtempSync('/tmp/anemos-user-sandbox-');
    chmodSync(base, 0o755);
    const home = join(base, 'home');
    const outside = join(base, 'outside');
    mkdirSync(home);
    mkdirSync(outside);
    writeFileSync(join(home, 'secret'), 'the operator-s secret\n');
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, home, outside]);
    const asUser = (args: string[]) =>
      promisify(execFile)('runuser', ['-u', 'nobody', '--', process.execPath, CLI, ...args], {env: {PATH: process.env.PATH!, HOME: home, TMPDIR: home}}).then(
        (x) => ({code: 0, out: `${x.stdout}${x.stderr}`}),
        (e: {code: number; stdout: string; stderr: string}) => ({code: e.code, out: `${e.stdout}${e.stderr}`}),
      );
    const payloadWith = (name: string, imgbuild: string) => {
      const dir = join(base, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'IMGBUILD'), imgbuild);
      chmodSync(dir, 0o755);
      return dir;
    };

    it("reads none of the operator's files, writes nothing outside its copy, and has no network", async () => {
      let requests = 0;
      const server = createServer((_q, r) => (requests++, r.end('net\n')));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const port = (server.address() as AddressInfo).port;
        const dir = payloadWith('probe', [
          'imgname=probe',
          `secret=$(cat ${join(home, 'secret')} 2>/dev/null | tr -dc a-z || echo none)`,
          `echo written > ${join(outside, 'written')} 2>/dev/null && wrote=yes || wrote=no`,
          `net=$( (wget -q -O- http://127.0.0.1:${port}/ || curl -s http://127.0.0.1:${port}/) 2>/dev/null | tr -dc a-z)`,
          'target="probe-${secret:-none}-wrote-${wrote}-net-${net:-none}"',
          '',
        ].join('\n'));
        const r = await asUser(['payload', 'check', dir]);
        expect(r.code, r.out).toBe(6);
        expect(r.out).toMatch(/target "probe-none-wrote-no-net-none" is not one of debian, alpine, arch/);
        expect(existsSync(join(outside, 'written'))).toBe(false);
        expect(requests).toBe(0);
      } finally {
        server.close();
      }
    }, 60_000);

    it('is stopped by the timeout with everything it started, a setsid child too', async () => {
      const marker = join(outside, 'escaped');
      const dir = payloadWith('escape', `imgname=x\ntarget=debian\nsetsid sh -c 'sleep 32; echo escaped > ${marker}' &\nsleep 100\n`);
      const r = await asUser(['payload', 'check', dir]);
      expect(r.code, r.out).toBe(6);
      expect(r.out).toMatch(/IMGBUILD did not finish within 30 s/);
      // The child would have written at 32 s had it lived (the check stopped it at 30 s).
      await new Promise((res) => setTimeout(res, 5000));
      expect(existsSync(marker)).toBe(false);
    }, 90_000);
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
