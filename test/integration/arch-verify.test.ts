// The Arch target's first step, run for real against a loopback mirror: the bootstrap
// tarball is downloaded into RAM ($work) and its OpenPGP signature checked with gpgv
// against the payload's keys/ (here a key made for the test; in a deploy without keys/,
// Debian's archlinux-keyring in the deploy environment) before any disk is written.
// Arch's own mirror is not reachable here, so its real signing key is not exercised.

import {execFile, execFileSync} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {validateImgbuild} from '../../src/core/imgbuild.js';
import {planImgbuild, stepPrelude, type PlanContext} from '../../src/core/imgbuild-plan.js';
import {startServer, type TestServer} from '../helpers/http-server.js';

describe('Arch: the bootstrap tarball is verified in RAM before the disk', () => {
  let work: string;
  let server: TestServer;
  const gpg = (home: string, args: string[], input?: string) => execFileSync('gpg', ['--homedir', home, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {input, stdio: ['pipe', 'pipe', 'pipe']});
  const keyring = (name: string) => {
    const home = join(work, `gnupg-${name}`);
    mkdirSync(home, {mode: 0o700});
    gpg(home, ['--quick-gen-key', `${name} <${name}@anemos.test>`, 'ed25519', 'sign', 'never']);
    const file = join(work, `${name}.gpg`);
    writeFileSync(file, gpg(home, ['--export']));
    return {home, file};
  };

  let releng: {home: string; file: string};
  let stranger: {home: string; file: string};
  const tarball = () => join(work, 'mirror', 'archlinux-bootstrap-x86_64.tar.zst');

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'anemos-arch-'));
    releng = keyring('releng');
    stranger = keyring('stranger');
    const tree = join(work, 'tree', 'root.x86_64', 'etc');
    mkdirSync(tree, {recursive: true});
    writeFileSync(join(tree, 'os-release'), 'NAME="Arch Linux"\n');
    mkdirSync(join(work, 'mirror'));
    execFileSync('tar', ['--zstd', '-cf', tarball(), '-C', join(work, 'tree'), 'root.x86_64']);
    gpg(releng.home, ['--detach-sign', '-o', `${tarball()}.sig`, tarball()]);
    const sum = execFileSync('sha256sum', [tarball()], {encoding: 'utf8'}).split(' ')[0];
    writeFileSync(join(work, 'mirror', 'sha256sums.txt'), `${sum}  archlinux-bootstrap-x86_64.tar.zst\n`);
    writeFileSync(join(work, 'tampered.tar.zst'), Buffer.concat([execFileSync('cat', [tarball()]), Buffer.from('x')]));
    server = await startServer({});
    for (const f of ['archlinux-bootstrap-x86_64.tar.zst', 'archlinux-bootstrap-x86_64.tar.zst.sig', 'sha256sums.txt']) server.routes.set(`/good/iso/latest/${f}`, {file: join(work, 'mirror', f)});
    server.routes.set('/tampered/iso/latest/archlinux-bootstrap-x86_64.tar.zst', {file: join(work, 'tampered.tar.zst')});
    server.routes.set('/tampered/iso/latest/archlinux-bootstrap-x86_64.tar.zst.sig', {file: `${tarball()}.sig`});
    server.routes.set('/tampered/iso/latest/sha256sums.txt', {file: join(work, 'mirror', 'sha256sums.txt')});
    server.routes.set('/unsigned/iso/latest/archlinux-bootstrap-x86_64.tar.zst', {file: tarball()});
    server.routes.set('/unsigned/iso/latest/sha256sums.txt', {file: join(work, 'mirror', 'sha256sums.txt')});
  });
  afterAll(async () => {
    await server?.close();
    for (const k of [releng, stranger]) if (k) execFileSync('gpgconf', ['--homedir', k.home, '--kill', 'gpg-agent']);
  });

  /** Run the Arch plan's steps before the disk one (only "fetch-bootstrap"), as the agent would. */
  async function prepare(mirror: string, key: string | undefined): Promise<{status: number; out: string; work: string}> {
    const dir = mkdtempSync(join(work, 'run-'));
    const payload = join(dir, 'payload');
    mkdirSync(join(payload, 'keys'), {recursive: true});
    if (key) execFileSync('cp', [key, join(payload, 'keys', 'arch.gpg')]);
    const files = [{path: 'IMGBUILD', mode: 0o644, type: 'file' as const}, {path: 'keys', mode: 0o755, type: 'dir' as const}];
    const v = validateImgbuild({vars: {imgname: 'arch1', target: 'arch', arch_mirror: `${server.url}/${mirror}`}, functions: []}, files);
    expect(v.errors).toEqual([]);
    const ctx: PlanContext = {root: join(dir, 'root'), payload, work: join(dir, 'work'), disk: '/dev/null-disk', efi: false, kernelArgs: [], networkJson: '/dev/null', authorizedKeys: '/dev/null', hostKeysDir: '/dev/null'};
    const steps = planImgbuild(v.spec!, ctx);
    const before = steps.slice(0, steps.findIndex((s) => s.phase === 'disk'));
    expect(before.map((s) => s.id)).toEqual(['fetch-bootstrap']);
    // Asynchronous: the mirror is served by this process.
    const r = await new Promise<{status: number; out: string}>((resolve) =>
      execFile('sh', ['-c', `${stepPrelude(v.spec!, ctx)}\n${before[0]!.script}`], {encoding: 'utf8', env: {...process.env, HOME: dir}, timeout: 60_000}, (err, stdout, stderr) =>
        resolve({status: err ? ((err as {code?: number}).code ?? -1) : 0, out: `${stdout}${stderr}`}),
      ),
    );
    return {...r, work: ctx.work};
  }

  it('a tarball signed by a key in keys/ passes, and waits in RAM for the disk', async () => {
    const r = await prepare('good', releng.file);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/Arch bootstrap tarball: signature good, sha256 [0-9a-f]{64}/);
    expect(existsSync(join(r.work, 'arch', 'bootstrap.tar.zst'))).toBe(true);
  });

  it('a changed tarball, a signature by another key, or no signature at all is refused', async () => {
    const tampered = await prepare('tampered', releng.file);
    expect(tampered.status).not.toBe(0);
    expect(tampered.out).toMatch(/signature does not verify/);
    const stranger_ = await prepare('good', stranger.file);
    expect(stranger_.status).not.toBe(0);
    expect(stranger_.out).toMatch(/signature does not verify/);
    const unsigned = await prepare('unsigned', releng.file);
    expect(unsigned.status).not.toBe(0);
    expect(unsigned.out).toMatch(/no signature at .*\.sig: the tarball cannot be verified/);
  });
});
