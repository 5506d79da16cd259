// A live layer cut from a tree's tar, without extracting anything and without root: our tar
// reader against GNU tar's archives (long names, hard links, symlinks), the layer over a
// parent holding only what changed with whiteouts for what went, squashed by mksquashfs
// from the tar, the same bytes twice; and, as root, the proof overlayfs gives: the parent's
// squashfs with the layer over it, mounted, is the child's tree, file for file.

import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {chmodSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fileSource} from '../../src/adapters/file-source.js';
import {listed, planLayer, type Listing} from '../../src/core/live/layer.js';
import {squashfsCommand} from '../../src/core/live/build-plan.js';
import {readTar, tarHeader, TAR_END} from '../../src/core/tar.js';

const EPOCH = 1_700_000_000;
const LONG = `usr/share/${'a-directory-name-that-is-long/'.repeat(5)}and-a-file-whose-name-is-long-too.txt`;

describe('a live layer from a tree\'s tar', {timeout: 120_000}, () => {
  let work: string;
  const tarOf = (dir: string, out: string) => execFileSync('tar', ['--format=gnu', '--sort=name', `--mtime=@${EPOCH}`, '--owner=0', '--group=0', '--numeric-owner', '-C', dir, '-cf', out, '.']);

  async function listing(tar: string): Promise<Listing> {
    const {source, handle} = await fileSource(tar);
    try {
      const out: Listing = {};
      for await (const e of readTar(source)) {
        if (!e.path) continue;
        const sha = e.type === 'file' ? createHash('sha256').update(await source.read(e.data, e.size)).digest('hex') : undefined;
        out[e.path] = listed(e, sha);
      }
      return out;
    } finally {
      await handle.close();
    }
  }

  async function layer(childTar: string, parent: Listing | undefined, out: string): Promise<ReturnType<typeof planLayer>> {
    const child = await listing(childTar);
    const plan = planLayer(child, parent);
    const {source, handle} = await fileSource(childTar);
    const parts: Buffer[] = [];
    try {
      for await (const e of readTar(source)) if (e.path && plan.keep.has(e.path)) parts.push(await source.read(e.start, e.end - e.start));
    } finally {
      await handle.close();
    }
    for (const p of plan.whiteouts) parts.push(tarHeader({path: p, type: 'char', mode: 0, mtime: EPOCH}));
    writeFileSync(`${out}.tar`, Buffer.concat([...parts, TAR_END]));
    const sq = squashfsCommand(`${out}.tar`, out, EPOCH);
    execFileSync(sq.cmd, sq.args);
    return plan;
  }

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'anemos-live-layer-'));
    const base = join(work, 'base');
    for (const d of ['etc', 'usr/bin', 'var/cache/old', LONG.slice(0, LONG.lastIndexOf('/'))]) mkdirSync(join(base, d), {recursive: true});
    writeFileSync(join(base, 'etc/motd'), 'welcome\n');
    writeFileSync(join(base, 'etc/hostname'), 'base\n');
    writeFileSync(join(base, 'usr/bin/perl'), 'perl v1\n');
    chmodSync(join(base, 'usr/bin/perl'), 0o755);
    linkSync(join(base, 'usr/bin/perl'), join(base, 'usr/bin/perl5'));
    symlinkSync('perl', join(base, 'usr/bin/perl-link'));
    writeFileSync(join(base, 'var/cache/old/a'), 'a\n');
    writeFileSync(join(base, LONG), 'long\n');
    tarOf(base, join(work, 'base.tar'));
    // The child: a web server's files added, a file changed (and its hard link with it), a file and a directory gone.
    const web = join(work, 'web');
    execFileSync('cp', ['-a', base, web]);
    mkdirSync(join(web, 'etc/nginx'));
    writeFileSync(join(web, 'etc/nginx/nginx.conf'), 'server {}\n');
    mkdirSync(join(web, 'var/www'), {recursive: true});
    writeFileSync(join(web, 'var/www/index.html'), '<h1>web</h1>\n');
    writeFileSync(join(web, 'usr/bin/perl'), 'perl v2\n');
    rmSync(join(web, 'etc/motd'));
    rmSync(join(web, 'var/cache/old'), {recursive: true});
    tarOf(web, join(work, 'web.tar'));
  });
  afterAll(() => rmSync(work, {recursive: true, force: true}));

  it("reads GNU tar's archives as tar lists them: long names, hard links, symlinks", async () => {
    const l = await listing(join(work, 'base.tar'));
    const listedByTar = execFileSync('tar', ['-tf', join(work, 'base.tar')], {encoding: 'utf8'})
      .split('\n')
      .filter((x) => x && x !== './')
      .map((x) => x.replace(/^\.\//, '').replace(/\/$/, ''));
    expect(Object.keys(l).sort()).toEqual(listedByTar.sort());
    expect(l[LONG]).toMatchObject({type: 'file', size: 5});
    expect(l['usr/bin/perl5']).toMatchObject({type: 'hardlink', link: 'usr/bin/perl'});
    expect(l['usr/bin/perl-link']).toMatchObject({type: 'symlink', link: 'perl'});
    expect(l['usr/bin/perl']).toMatchObject({mode: 0o755, uid: 0, mtime: EPOCH});
  });

  it('the layer holds what changed and the whiteouts, in a squashfs made from the tar, the same bytes twice', async () => {
    const parent = await listing(join(work, 'base.tar'));
    await layer(join(work, 'base.tar'), undefined, join(work, 'base.sqfs'));
    const plan = await layer(join(work, 'web.tar'), parent, join(work, 'web.sqfs'));
    expect(plan.whiteouts).toEqual(['etc/motd', 'var/cache/old']);
    const lines = execFileSync('unsquashfs', ['-lln', join(work, 'web.sqfs')], {encoding: 'utf8'}).split('\n');
    const paths = lines.map((x) => x.match(/squashfs-root\/?(.*)$/)?.[1]).filter((x): x is string => x !== undefined && x !== '');
    expect(paths.sort()).toEqual(['etc', 'etc/motd', 'etc/nginx', 'etc/nginx/nginx.conf', 'usr', 'usr/bin', 'usr/bin/perl', 'usr/bin/perl5', 'var', 'var/cache', 'var/cache/old', 'var/www', 'var/www/index.html']);
    expect(lines.find((x) => x.endsWith('/etc/motd'))).toMatch(/^c--------- 0\/0\s+0,\s+0 /);
    expect(lines.find((x) => x.endsWith('/var/cache/old'))).toMatch(/^c--------- 0\/0\s+0,\s+0 /);
    expect(lines.find((x) => x.endsWith('/usr/bin/perl'))).toMatch(/^-rwxr-xr-x 0\/0/);
    const first = readFileSync(join(work, 'web.sqfs'));
    await layer(join(work, 'web.tar'), parent, join(work, 'web-again.sqfs'));
    expect(readFileSync(join(work, 'web-again.sqfs')).equals(first)).toBe(true);
  });

  it.runIf(process.getuid?.() === 0)('mounted as overlayfs lower layers (the parent below, the layer above), it is the child tree, file for file', () => {
    const mnt = join(work, 'mnt');
    for (const d of ['base', 'web', 'merged']) mkdirSync(join(mnt, d), {recursive: true});
    // In a mount namespace of its own: nothing stays mounted on this machine.
    const script = [
      'set -e',
      `mount -t squashfs -o loop,ro ${join(work, 'base.sqfs')} ${join(mnt, 'base')}`,
      `mount -t squashfs -o loop,ro ${join(work, 'web.sqfs')} ${join(mnt, 'web')}`,
      `mount -t overlay overlay -o lowerdir=${join(mnt, 'web')}:${join(mnt, 'base')} ${join(mnt, 'merged')}`,
      `diff -r --no-dereference ${join(work, 'web')} ${join(mnt, 'merged')}`,
      `cat ${join(mnt, 'merged', 'usr/bin/perl5')}`,
    ].join('\n');
    const out = execFileSync('unshare', ['-m', 'sh', '-c', script], {encoding: 'utf8'});
    expect(out).toBe('perl v2\n');
  });
});
