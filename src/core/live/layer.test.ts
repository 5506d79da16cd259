import {describe, expect, it} from 'vitest';
import {bootFiles, parentProblem, planLayer, type ListedEntry, type Listing} from './layer.js';

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
