import {describe, expect, it} from 'vitest';
import {bootFiles, downloadedManifestProblem, mergeLayers, parentProblem, planLayer, type ListedEntry, type Listing} from './layer.js';

const dir = (mode = 0o755): ListedEntry => ({type: 'dir', mode, uid: 0, gid: 0, size: 0, mtime: 1});
const file = (sha256: string, size = 1): ListedEntry => ({type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 1, sha256});

const parent: Listing = {
  etc: dir(),
  'etc/motd': file('m'),
  'etc/hostname': file('h'),
  usr: dir(),
  'usr/bin': dir(),
  'usr/bin/apt': file('a'),
  'usr/bin/perl': file('p'),
  'usr/bin/perl5': {type: 'hardlink', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1, link: 'usr/bin/perl'},
  var: dir(),
  'var/old': dir(),
  'var/old/a': file('x'),
  'var/old/b': file('y'),
};

describe('a layer over its parent', () => {
  it('without a parent holds the whole tree', () => {
    expect(planLayer(parent).keep.size).toBe(Object.keys(parent).length);
  });

  it('holds what was added or changed, the directories above it, whiteouts for the top of what was removed, and hard links with what they link', () => {
    const child: Listing = {...parent, 'etc/nginx': dir(), 'etc/nginx/nginx.conf': file('n'), 'etc/hostname': file('h2'), 'usr/bin/perl': file('p2')};
    delete child['etc/motd'];
    delete child['var/old'];
    delete child['var/old/a'];
    delete child['var/old/b'];
    const plan = planLayer(child, parent);
    expect([...plan.keep].sort()).toEqual(['etc', 'etc/hostname', 'etc/nginx', 'etc/nginx/nginx.conf', 'usr', 'usr/bin', 'usr/bin/perl', 'usr/bin/perl5', 'var']);
    expect(plan.whiteouts).toEqual(['etc/motd', 'var/old']);
    expect(plan.added.sort()).toEqual(['etc/nginx', 'etc/nginx/nginx.conf']);
    expect(plan.changed.sort()).toEqual(['etc/hostname', 'usr/bin/perl']);
    expect(plan.removed.sort()).toEqual(['etc/motd', 'var/old', 'var/old/a', 'var/old/b']);
  });

  it('a change of mode, owner or link target is a change; the same tree is an empty layer', () => {
    expect(planLayer(parent, parent).keep.size).toBe(0);
    expect([...planLayer({...parent, 'etc/motd': {...file('m'), mode: 0o600}}, parent).keep]).toContain('etc/motd');
    expect([...planLayer({...parent, usr: dir(0o700)}, parent).keep]).toEqual(['usr']);
  });

  it("names the tree's kernel and initramfs, and a parent that cannot be built upon", () => {
    expect(bootFiles({'boot/vmlinuz-6.12.1-cloud-amd64': file('k'), 'boot/initrd.img-6.12.1-cloud-amd64': file('i'), 'boot/vmlinuz-6.1.0-amd64': file('o')})).toEqual({kernel: '/boot/vmlinuz-6.12.1-cloud-amd64', initrd: '/boot/initrd.img-6.12.1-cloud-amd64'});
    expect(bootFiles(parent)).toEqual({});
    expect(parentProblem({name: 'base', dir: '/i/base', inputs: 'x'})).toBe('its parent base (/i/base) has not been built');
    const manifest = {inputs: 'x'} as Parameters<typeof parentProblem>[0]['manifest'];
    expect(parentProblem({name: 'base', dir: '/i/base', manifest, inputs: 'y'})).toMatch(/is stale: its IMGBUILD or files changed/);
    expect(parentProblem({name: 'base', dir: '/i/base', manifest, inputs: 'x'})).toBeUndefined();
  });
});

describe('mergeLayers: the tree overlayfs shows of layers', () => {
  type E = {path: string; type: string; devmajor?: number; devminor?: number; xattrs?: Record<string, string>; tag: string};
  const e = (path: string, type = 'file', tag = ''): E => ({path, type, tag});
  const whiteout = (path: string): E => ({path, type: 'char', devmajor: 0, devminor: 0, tag: 'wh'});
  const shown = (layers: E[][]) => mergeLayers(layers).map(({layer, entry}) => `${layer}:${entry.path}${entry.tag ? `=${entry.tag}` : ''}`);

  it('the topmost layer wins a path; directories merge; a whiteout hides the path and all below it', () => {
    const bottom = [e('etc', 'dir'), e('etc/motd'), e('etc/hosts', 'file', 'old'), e('var', 'dir'), e('var/old', 'dir'), e('var/old/a'), e('dev', 'dir'), {...e('dev/null', 'char'), devmajor: 1, devminor: 3}];
    const top = [e('etc', 'dir', 'new-mode'), e('etc/hosts', 'file', 'new'), whiteout('etc/motd'), whiteout('var/old'), e('srv', 'dir'), e('srv/page')];
    expect(shown([bottom, top])).toEqual(['0:var', '0:dev', '0:dev/null', '1:etc=new-mode', '1:etc/hosts=new', '1:srv', '1:srv/page']);
  });

  it('an opaque directory and a file in place of a directory hide what the layer below held there', () => {
    const bottom = [e('a', 'dir'), e('a/x'), e('b', 'dir'), e('b/y'), e('c', 'dir'), e('c/z')];
    const top = [{...e('a', 'dir'), xattrs: {'trusted.overlay.opaque': 'y'}}, e('a/w'), e('b', 'symlink'), e('c', 'dir')];
    expect(shown([bottom, top])).toEqual(['0:c/z', '1:a', '1:a/w', '1:b', '1:c']);
  });

  it('a device that is not 0:0 is an entry, not a whiteout; three layers apply bottom up', () => {
    const l0 = [e('dev', 'dir'), {...e('dev/console', 'char'), devmajor: 5, devminor: 1}, e('f', 'file', 'v0')];
    const l1 = [whiteout('f')];
    const l2 = [e('f', 'file', 'v2')];
    expect(shown([l0, l1, l2])).toEqual(['0:dev', '0:dev/console', '2:f=v2']);
  });
});

describe('downloadedManifestProblem: a manifest from a server chooses what is fetched next', () => {
  const sha = 'a'.repeat(64);
  const good = {format: 'anemos-live-layer/1', name: 'web', sha256: sha, size: 4096, parent: {name: 'base', sha256: sha, dir: '../base/out', manifest: sha}};

  it('accepts a bottom layer and a child that pins its parent', () => {
    expect(downloadedManifestProblem({...good, parent: null})).toBeUndefined();
    expect(downloadedManifestProblem(good)).toBeUndefined();
  });

  it.each([
    ['not a manifest', {format: 'other'}, /not the manifest\.json of a layer/],
    ['a name that is a path', {...good, name: '../../etc'}, /is not a layer's name/],
    ['a size that is no size', {...good, size: -1}, /sha256 or size/],
    ['a sha256 that is no sha256', {...good, sha256: 'abc'}, /sha256 or size/],
    ['a parent without a manifest pin (an older anemos)', {...good, parent: {...good.parent, manifest: undefined}}, /is not pinned by its manifest's sha256 \(built by an older anemos/],
    ['a parent directory with a query', {...good, parent: {...good.parent, dir: '../x?y'}}, /no build directory anemos can follow/],
    ['a parent without a directory', {...good, parent: {...good.parent, dir: ''}}, /no build directory anemos can follow/],
  ])('refuses %s', (_what, m, problem) => {
    expect(downloadedManifestProblem(m)).toMatch(problem);
  });
});
