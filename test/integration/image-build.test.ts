// anemos image build, for real: two layers of Debian 13 from Debian's mirror, built by an
// ordinary user (nobody, with subordinate ids of its own in a mount namespace this test
// makes, when the test runs as root): base, and web from= base adding a web server and a
// page and removing a file. The web layer is a fraction of the base and holds only what
// differs (whiteouts for what it removed); base built twice is the same bytes; mounted as
// overlayfs lower layers (root), the two are a system with nginx and the page; a stale or
// missing parent stops the build, and --with-parents rebuilds the chain. A parent named by URL
// (base's out/ served on loopback by this test, pinned by its manifest's sha256) is downloaded,
// verified and built upon like a local one, down a chain of two; a wrong pin stops the build.

import {execFile, execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {chmodSync, chownSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {join, resolve} from 'node:path';
import {promisify} from 'node:util';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CLI} from '../helpers/kernel.js';

const root = process.getuid?.() === 0;
const NOBODY = 65534;

describe('anemos image build: layered live images without root', {timeout: 900_000}, () => {
  let work: string;
  const base = () => join(work, 'base');
  const web = () => join(work, 'web');
  /** web again, its parent base named by URL: the out/ directory this test serves on loopback. */
  const remoteWeb = () => join(work, 'web-remote');
  let server: Server;
  let served: string;
  const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
  const remoteImgbuild = (name: string, from: string, pin: string, packages: string) =>
    [`imgname=${name}`, 'target=debian', 'format=live', `from=${from}`, `from_sha256=${pin}`, 'debian_suite=trixie', 'kernel=none', `packages="${packages}"`, 'provision() {', '  rm -f /etc/motd', '}', ''].join('\n');

  /** The CLI as an ordinary user: nobody, whose subordinate ids exist only in this command's mount namespace. */
  const build = async (args: string[]): Promise<{code: number; out: string; err: string}> => {
    const argv = root
      ? ['unshare', '-m', 'sh', '-c', `mount --bind "$0" /etc/subuid && mount --bind "$0" /etc/subgid && exec runuser -u nobody -- "$@"`, join(work, 'subid'), process.execPath, CLI, ...args]
      : [process.execPath, CLI, ...args];
    return promisify(execFile)(argv[0]!, argv.slice(1), {env: {PATH: process.env.PATH!, HOME: work, TMPDIR: join(work, 'tmp')}, maxBuffer: 64 << 20}).then(
      ({stdout, stderr}) => ({code: 0, out: stdout, err: stderr}),
      (e: {code: number; stdout: string; stderr: string}) => ({code: e.code, out: e.stdout, err: e.stderr}),
    );
  };
  const manifest = (out: string) => JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  const listing = (sqfs: string) => execFileSync('unsquashfs', ['-lln', sqfs], {encoding: 'utf8', maxBuffer: 64 << 20}).split('\n');

  beforeAll(async () => {
    // Files under the work directory, read-only, as a static web server publishes a build directory.
    server = createServer((req, res) => {
      const path = resolve(work, `.${decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)}`);
      if (!path.startsWith(`${work}/`) || !existsSync(path) || !statSync(path).isFile()) return void res.writeHead(404).end();
      res.writeHead(200, {'content-length': statSync(path).size});
      createReadStream(path).pipe(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    served = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Not under the test run's scratch directory (root's, 0700): nobody reaches this one.
    work = mkdtempSync('/tmp/anemos-image-build-');
    writeFileSync(join(work, 'subid'), 'nobody:200000:65536\n');
    mkdirSync(join(work, 'tmp'));
    mkdirSync(join(base(), 'files/etc'), {recursive: true});
    writeFileSync(join(base(), 'IMGBUILD'), ['imgname=base', 'target=debian', 'format=live', 'debian_suite=trixie', 'kernel=none', 'packages="systemd-sysv"', ''].join('\n'));
    writeFileSync(join(base(), 'files/etc/issue.net'), 'anemos live base\n');
    mkdirSync(join(web(), 'files/var/www/html'), {recursive: true});
    writeFileSync(join(web(), 'IMGBUILD'), ['imgname=web', 'target=debian', 'format=live', 'from=../base', 'debian_suite=trixie', 'kernel=none', 'packages="nginx"', 'provision() {', '  rm -f /etc/motd', '}', ''].join('\n'));
    writeFileSync(join(web(), 'files/var/www/html/index.html'), '<h1>anemos web layer</h1>\n');
    if (root) execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, work]);
    chmodSync(work, 0o755);
  });
  afterAll(() => {
    server?.close();
    rmSync(work, {recursive: true, force: true});
  });

  it('a conffs/ template naming a variable no host has is refused before anything is built', async () => {
    const bad = join(work, 'bad');
    mkdirSync(join(bad, 'conffs/etc'), {recursive: true});
    writeFileSync(join(bad, 'IMGBUILD'), ['imgname=bad', 'target=debian', 'format=live', 'debian_suite=trixie', 'kernel=none', ''].join('\n'));
    writeFileSync(join(bad, 'conffs/etc/app.conf.makeimg.template'), 'name={{HOSTNAME}} zone={{ZONE}} $KEEP\n');
    if (root) execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, bad]);
    const r = await build(['image', 'build', bad]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/conffs\/ templates name variables no host has; nothing was built/);
    expect(r.err).toMatch(/conffs\/etc\/app\.conf\.makeimg\.template: \{\{ZONE\}\}/);
    expect(r.err).not.toMatch(/mmdebstrap/);
  });

  it('a child of a parent never built is refused, and says how to build the chain', async () => {
    const r = await build(['image', 'build', web()]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/web cannot be built: its parent base \(.*\/base\) has not been built\. Nothing was built\./);
    expect(r.err).toMatch(/anemos image build .*\/web --with-parents/);
  });

  it('builds base as an ordinary user, the same bytes twice', async () => {
    const t0 = Date.now();
    const first = await build(['image', 'build', base(), '--json']);
    expect(first.code, first.err).toBe(0);
    const m = manifest(join(base(), 'out'));
    expect(m).toMatchObject({format: 'anemos-live-layer/1', name: 'base', parent: null, chain: ['base']});
    const again = await build(['image', 'build', base(), '-o', join(work, 'base-again')]);
    expect(again.code, again.err).toBe(0);
    expect(manifest(join(work, 'base-again')).sha256).toBe(m.sha256);
    expect(readFileSync(join(work, 'base-again', 'layer.squashfs')).equals(readFileSync(join(base(), 'out', 'layer.squashfs')))).toBe(true);
    if (root) expect(execFileSync('stat', ['-c', '%u', join(base(), 'out', 'layer.squashfs')], {encoding: 'utf8'}).trim()).toBe(String(NOBODY));
    console.log(`image build: base (Debian 13, systemd) ${m.size} bytes, ${m.entries.tree} entries; two builds ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  });

  it('builds web over base: a fraction of its size, only what differs, the removed file whited out', async () => {
    const r = await build(['image', 'build', web(), '--json']);
    expect(r.code, r.err).toBe(0);
    const b = manifest(join(base(), 'out'));
    const w = manifest(join(web(), 'out'));
    expect(w).toMatchObject({name: 'web', parent: {name: 'base', sha256: b.sha256}, chain: ['base', 'web']});
    expect(w.size).toBeLessThan(b.size / 2);
    const lines = listing(join(web(), 'out', 'layer.squashfs'));
    const has = (p: string) => lines.some((l) => l.endsWith(`squashfs-root/${p}`));
    expect(has('var/www/html/index.html')).toBe(true);
    expect(has('usr/sbin/nginx')).toBe(true);
    expect(has('usr/bin/systemctl')).toBe(false);
    expect(has('etc/issue.net')).toBe(false);
    expect(lines.find((l) => l.endsWith('squashfs-root/etc/motd'))).toMatch(/^c--------- 0\/0\s+0,\s+0 /);
    console.log(`image build: web over base ${w.size} bytes (${((w.size / b.size) * 100).toFixed(1)}% of base), ${w.entries.layer} of ${w.entries.tree} entries (${w.entries.added} added, ${w.entries.changed} changed, ${w.entries.removed} removed)`);
  });

  it('builds web over base named by URL: downloaded, pinned by its manifest, the same difference, the same bytes twice; and a chain of two by URL', async () => {
    const b = manifest(join(base(), 'out'));
    const url = `${served}/base/out`;
    mkdirSync(join(remoteWeb(), 'files/var/www/html'), {recursive: true});
    writeFileSync(join(remoteWeb(), 'files/var/www/html/index.html'), '<h1>anemos web layer</h1>\n');
    // A wrong pin: refused before mmdebstrap runs, nothing in out/ but the download area.
    writeFileSync(join(remoteWeb(), 'IMGBUILD'), remoteImgbuild('web', url, '0'.repeat(64), 'nginx'));
    if (root) execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, remoteWeb()]);
    const wrong = await build(['image', 'build', remoteWeb()]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.err).toMatch(/The parent's manifest\.json from http:\/\/127\.0\.0\.1:\d+\/base\/out\/manifest\.json does not match its sha256; the file was deleted\. Nothing was built\./);
    expect(wrong.err).toMatch(/fix from_sha256 in IMGBUILD/);
    expect(wrong.err).not.toMatch(/mmdebstrap/);
    expect(existsSync(join(remoteWeb(), 'out/layer.squashfs'))).toBe(false);

    const pin = sha256(join(base(), 'out/manifest.json'));
    writeFileSync(join(remoteWeb(), 'IMGBUILD'), remoteImgbuild('web', url, pin, 'nginx'));
    if (root) chownSync(join(remoteWeb(), 'IMGBUILD'), NOBODY, NOBODY);
    const t0 = Date.now();
    const r = await build(['image', 'build', remoteWeb(), '--json']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(new RegExp(`image: from: base ${b.sha256.slice(0, 12)}… ${b.size} bytes, sha256 verified`));
    const w = manifest(join(remoteWeb(), 'out'));
    expect(w).toMatchObject({name: 'web', parent: {name: 'base', sha256: b.sha256, dir: 'from/0-base'}, chain: ['base', 'web']});
    expect(w.size).toBeLessThan(b.size / 2);
    // The parent kept where a deploy follows it: the same layer as base's own.
    expect(sha256(join(remoteWeb(), 'out/from/0-base/layer.squashfs'))).toBe(b.sha256);
    // Readable by a web server's user, as the child's own layer is: out/ can be published as it is.
    expect(statSync(join(remoteWeb(), 'out/from/0-base/layer.squashfs')).mode & 0o777).toBe(statSync(join(remoteWeb(), 'out/layer.squashfs')).mode & 0o777);
    expect(w.parent.manifest).toBe(sha256(join(remoteWeb(), 'out/from/0-base/manifest.json')));
    const lines = listing(join(remoteWeb(), 'out', 'layer.squashfs'));
    const has = (p: string) => lines.some((l) => l.endsWith(`squashfs-root/${p}`));
    expect(has('var/www/html/index.html')).toBe(true);
    expect(has('usr/sbin/nginx')).toBe(true);
    expect(has('usr/bin/systemctl')).toBe(false);
    expect(lines.find((l) => l.endsWith('squashfs-root/etc/motd'))).toMatch(/^c--------- 0\/0\s+0,\s+0 /);
    const seconds = (Date.now() - t0) / 1000;
    const again = await build(['image', 'build', remoteWeb(), '-o', join(work, 'web-remote-again'), '--json']);
    expect(again.code, again.err).toBe(0);
    expect(manifest(join(work, 'web-remote-again')).sha256).toBe(w.sha256);
    console.log(`image build: web over base by URL ${w.size} bytes, ${w.entries.layer} of ${w.entries.tree} entries (${w.entries.added} added, ${w.entries.changed} changed, ${w.entries.removed} removed) in ${seconds.toFixed(0)} s, the same bytes twice`);

    // web's out/ published in turn: a child of it by URL walks the chain down to base by the pins in the manifests.
    const top = join(work, 'top');
    mkdirSync(join(top, 'files/etc'), {recursive: true});
    writeFileSync(join(top, 'files/etc/top-layer'), 'third\n');
    writeFileSync(join(top, 'IMGBUILD'), remoteImgbuild('top', `${served}/web-remote/out/`, JSON.parse(r.out).built[0].manifestSha256, ''));
    if (root) execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, top]);
    const third = await build(['image', 'build', top]);
    expect(third.code, third.err).toBe(0);
    const t = manifest(join(top, 'out'));
    expect(t).toMatchObject({chain: ['base', 'web', 'top'], parent: {name: 'web', sha256: w.sha256, dir: 'from/1-web'}});
    expect(manifest(join(top, 'out/from/1-web'))).toMatchObject({parent: {name: 'base', sha256: b.sha256, dir: '../0-base'}});
    expect(sha256(join(top, 'out/from/0-base/layer.squashfs'))).toBe(b.sha256);
    expect(t.entries.layer).toBeLessThan(20);
    expect(listing(join(top, 'out/layer.squashfs')).some((l) => l.endsWith('squashfs-root/etc/top-layer'))).toBe(true);
  });

  it.runIf(root)('the two mounted as overlayfs lower layers are a system with nginx, the page, and no motd', () => {
    const mnt = join(work, 'mnt');
    for (const d of ['base', 'web', 'merged']) mkdirSync(join(mnt, d), {recursive: true});
    const script = [
      'set -e',
      `mount -t squashfs -o loop,ro ${join(base(), 'out/layer.squashfs')} ${join(mnt, 'base')}`,
      `mount -t squashfs -o loop,ro ${join(web(), 'out/layer.squashfs')} ${join(mnt, 'web')}`,
      `mount -t overlay overlay -o lowerdir=${join(mnt, 'web')}:${join(mnt, 'base')} ${join(mnt, 'merged')}`,
      `cat ${join(mnt, 'merged/var/www/html/index.html')} ${join(mnt, 'merged/etc/issue.net')}`,
      `test -x ${join(mnt, 'merged/usr/sbin/nginx')} && test -x ${join(mnt, 'merged/usr/bin/systemctl')} && echo binaries`,
      `test ! -e ${join(mnt, 'merged/etc/motd')} && echo no-motd`,
    ].join('\n');
    expect(execFileSync('unshare', ['-m', 'sh', '-c', script], {encoding: 'utf8'})).toBe('<h1>anemos web layer</h1>\nanemos live base\nbinaries\nno-motd\n');
    // The chain built by URL, from where its build directories are: the same system.
    const remote = script.replaceAll(join(base(), 'out/layer.squashfs'), join(remoteWeb(), 'out/from/0-base/layer.squashfs')).replaceAll(join(web(), 'out/layer.squashfs'), join(remoteWeb(), 'out/layer.squashfs'));
    expect(execFileSync('unshare', ['-m', 'sh', '-c', remote], {encoding: 'utf8'})).toBe('<h1>anemos web layer</h1>\nanemos live base\nbinaries\nno-motd\n');
  });

  it('a changed parent makes the child stale: refused, then rebuilt bottom up with --with-parents', async () => {
    const before = manifest(join(base(), 'out')).sha256;
    writeFileSync(join(base(), 'files/etc/issue.net'), 'anemos live base, second edition\n');
    if (root) chownSync(join(base(), 'files/etc/issue.net'), NOBODY, NOBODY);
    const stale = await build(['image', 'build', web()]);
    expect(stale.code).toBe(3);
    expect(stale.err).toMatch(/its parent base \(.*\) is stale: its IMGBUILD or files changed since its layer was built/);
    const r = await build(['image', 'build', web(), '--with-parents', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).built.map((b: {manifest: {name: string}}) => b.manifest.name)).toEqual(['base', 'web']);
    const after = manifest(join(base(), 'out')).sha256;
    expect(after).not.toBe(before);
    expect(manifest(join(web(), 'out')).parent.sha256).toBe(after);
    // Up to date now: nothing is built again.
    const again = await build(['image', 'build', web(), '--json']);
    expect(again.err).toMatch(/image: base: its layer is up to date/);
    expect(again.err).toMatch(/image: web: its layer is up to date .*; --force builds it again/);
    expect(JSON.parse(again.out).built).toEqual([expect.objectContaining({seconds: 0})]);
    // base's out/ is published again, changed: a build of the child that pinned the old one by URL, without the old one kept, is refused.
    const pinned = await build(['image', 'build', remoteWeb(), '-o', join(work, 'web-remote-fresh')]);
    expect(pinned.code).not.toBe(0);
    expect(pinned.err).toMatch(/The parent's manifest\.json from .*\/base\/out\/manifest\.json does not match its sha256/);
  });

  it('a live IMGBUILD is not a payload, and a payload is not a live layer', async () => {
    const r = await build(['payload', 'check', base()]);
    expect(r.code).not.toBe(0);
    expect(`${r.out}${r.err}`).toMatch(/format "live" is a live image's layer: build it with anemos image build DIR/);
    const payload = join(work, 'payload');
    mkdirSync(payload);
    writeFileSync(join(payload, 'IMGBUILD'), 'imgname=p\ntarget=debian\nformat="raw max msdos ext4"\n');
    if (root) chownSync(payload, NOBODY, NOBODY);
    const refused = await build(['image', 'build', payload]);
    expect(refused.code).toBe(3);
    expect(refused.err).toMatch(/format "raw" is deployed as a payload; anemos image build builds format "live"/);
  });
});
