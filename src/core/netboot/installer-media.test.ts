import {describe, expect, it} from 'vitest';
import {detectMedia, type MediaTree} from './installer-media.js';

/** A tree laid out as each family's media are. */
const tree = (files: Record<string, string>): MediaTree => ({
  isFile: async (p) => p in files,
  text: async (p) => files[p],
});

describe('installer media detection', () => {
  it('Debian: .disk/info and install.amd/ (vmlinuz, or linux as the netboot package names it)', async () => {
    const netinst = await detectMedia(tree({'.disk/info': 'Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST with firmware 20241109-11:04', 'install.amd/vmlinuz': '', 'install.amd/initrd.gz': '', 'install.amd/gtk/initrd.gz': ''}));
    expect(netinst).toEqual({media: {distribution: 'debian', release: '12.8.0', arch: 'amd64', kernel: 'install.amd/vmlinuz', initrd: 'install.amd/initrd.gz', kind: 'preseed', label: expect.stringContaining('NETINST')}});
    const netboot = await detectMedia(tree({'.disk/info': 'Debian GNU/Linux 12 "Bookworm" - netboot amd64', 'install.amd/linux': '', 'install.amd/initrd.gz': ''}));
    expect(netboot).toMatchObject({media: {kernel: 'install.amd/linux', release: '12', arch: 'amd64'}});
    const arm = await detectMedia(tree({'.disk/info': 'Debian GNU/Linux 13.2.0 "Trixie" - Official arm64 NETINST', 'install.a64/vmlinuz': '', 'install.a64/initrd.gz': ''}));
    expect(arm).toMatchObject({media: {arch: 'arm64', release: '13.2.0'}});
  });

  it('Ubuntu: .disk/info and casper/, answered by autoinstall', async () => {
    const r = await detectMedia(tree({'.disk/info': 'Ubuntu-Server 24.04.1 LTS "Noble Numbat" - Release amd64 (20240827)', 'casper/vmlinuz': '', 'casper/initrd': ''}));
    expect(r).toEqual({media: {distribution: 'ubuntu', release: '24.04.1', arch: 'amd64', kernel: 'casper/vmlinuz', initrd: 'casper/initrd', kind: 'autoinstall', label: expect.any(String)}});
  });

  it('Fedora and the RHEL family: .treeinfo, old and productmd forms', async () => {
    const fedora = ['[header]', 'type = productmd.treeinfo', 'version = 1.2', '', '[release]', 'name = Fedora', 'short = Fedora', 'version = 41', '', '[tree]', 'arch = x86_64', '', '[images-x86_64]', 'kernel = images/pxeboot/vmlinuz', 'initrd = images/pxeboot/initrd.img', 'boot.iso = images/boot.iso'].join('\n');
    expect(await detectMedia(tree({'.treeinfo': fedora, 'images/pxeboot/vmlinuz': '', 'images/pxeboot/initrd.img': ''}))).toEqual({
      media: {distribution: 'fedora', release: '41', arch: 'x86_64', kernel: 'images/pxeboot/vmlinuz', initrd: 'images/pxeboot/initrd.img', kind: 'kickstart', label: 'Fedora 41 x86_64'},
    });
    const rocky = fedora.replace('name = Fedora', 'name = Rocky Linux').replace('version = 41', 'version = 9.5');
    expect(await detectMedia(tree({'.treeinfo': rocky, 'images/pxeboot/vmlinuz': '', 'images/pxeboot/initrd.img': ''}))).toMatchObject({media: {distribution: 'rocky', release: '9.5'}});
    const rhel = '[general]\nfamily = Red Hat Enterprise Linux\nversion = 8.10\narch = x86_64\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n';
    expect(await detectMedia(tree({'.treeinfo': rhel, 'images/pxeboot/vmlinuz': '', 'images/pxeboot/initrd.img': ''}))).toMatchObject({media: {distribution: 'rhel', release: '8.10'}});
    // A .treeinfo whose kernel is not in the image is not taken.
    expect(await detectMedia(tree({'.treeinfo': fedora}))).toHaveProperty('unknown');
  });

  it('an image none knows is named with what was looked for', async () => {
    const r = await detectMedia(tree({'.disk/info': 'Debian GNU/Linux 12 "Bookworm" - Official amd64 DVD', 'README.txt': ''}));
    expect(r).toEqual({unknown: expect.stringMatching(/^no installer this reads: looked for \.disk\/info naming Debian, and install\.amd\/.*\(Debian\); .*casper.*\(Ubuntu\); \.treeinfo .*\(Fedora, RHEL/)});
  });
});

describe("a record's installer:", () => {
  it('names media by id or by URL with its sha256, and is checked as any desired deployment', async () => {
    const {validateDesired} = await import('../config.js');
    expect(validateDesired({installer: {media: 'debian-12.8.0-amd64-netinst', packages: ['nginx'], vars: {MIRROR: 'm'}}})).toEqual([]);
    expect(validateDesired({installer: {media: {url: 'https://mirror.example.net/a.iso', sha256: 'a'.repeat(64)}}})).toEqual([]);
    expect(validateDesired({installer: {media: '../etc'}})).toEqual(['desired.installer.media: "../etc" does not match the expected form']);
    expect(validateDesired({installer: {media: 'a'}, payload: {url: 'http://x/p.tar.gz', sha256: 'a'.repeat(64)}})).toEqual(["desired.installer: names the distribution's installer: it takes no payload, kernel or initramfs beside it"]);
    expect(validateDesired({installer: {media: 'a', kind: 'x', vars: {lower: 'x'}, cmdline: 'a;reboot'}})).toEqual([
      'desired.installer.kind: must be one of "preseed", "kickstart", "autoinstall", not "x"',
      'desired.installer.vars.lower: "lower" is not a valid key here',
      expect.stringMatching(/^desired\.installer\.cmdline: "a;reboot" does not match the expected form/),
    ]);
  });
});
