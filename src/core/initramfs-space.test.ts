import {describe, expect, it} from 'vitest';
import {groupOf, spaceByGroup} from './initramfs-space.js';

describe('what takes the space in an initramfs', () => {
  it('puts each path of the base in the group it is for', () => {
    const k = 'lib/modules/6.1.0-56-cloud-amd64/kernel';
    expect(groupOf('usr/bin/qjs')).toBe('QuickJS runtime');
    expect(groupOf('usr/lib/anemos/agent.mjs')).toBe('the agent');
    expect(groupOf(`${k}/fs/xfs/xfs.ko`)).toBe('kernel modules: filesystems');
    expect(groupOf(`${k}/drivers/md/raid456.ko`)).toBe('kernel modules: RAID and device mapper');
    expect(groupOf(`${k}/arch/x86/crypto/aesni-intel.ko`)).toBe('kernel modules: crypto and libraries');
    expect(groupOf(`${k}/drivers/net/bonding/bonding.ko`)).toBe('kernel modules: network');
    expect(groupOf(`${k}/net/8021q/8021q.ko`)).toBe('kernel modules: network');
    expect(groupOf(`${k}/drivers/scsi/sd_mod.ko`)).toBe('kernel modules: storage');
    expect(groupOf('lib/modules/6.1.0-56-cloud-amd64/modules.dep')).toBe('kernel modules: other');
    expect(groupOf('usr/lib/x86_64-linux-gnu/perl-base/POSIX.pm')).toBe('Perl (debootstrap, dpkg)');
    expect(groupOf('lib/x86_64-linux-gnu/libc.so.6')).toBe('shared libraries');
    expect(groupOf('lib64/ld-linux-x86-64.so.2')).toBe('shared libraries');
    expect(groupOf('./usr/sbin/dropbear')).toBe('tools');
    expect(groupOf('anemos/config.json')).toBe('anemos segments (config, network, keys, payload)');
    expect(groupOf('etc/passwd')).toBe('other');
    // The merged /usr of the squashfs image, and what mounts it.
    expect(groupOf('usr/lib/modules/6.1.0-56-cloud-amd64/kernel/fs/xfs/xfs.ko')).toBe('kernel modules: filesystems');
    expect(groupOf('usr/lib/modules/6.1.0-56-cloud-amd64/modules.dep')).toBe('kernel modules: other');
    expect(groupOf('early/squashfs.ko')).toBe('kernel modules: other');
    expect(groupOf('early/busybox')).toBe('tools');
  });

  it('counts the files of an image with their own size, and not the image beside them', () => {
    const groups = spaceByGroup([
      {path: 'early/busybox', size: 10, type: 'file'},
      {path: 'early/usr.squashfs', size: 40, type: 'file'},
      {path: 'usr/bin/qjs', size: 90, type: 'file', image: 'early/usr.squashfs'},
    ]);
    expect(groups.map((g) => [g.group, g.bytes])).toEqual([['QuickJS runtime', 90], ['tools', 10]]);
  });

  it('adds up regular files only, a later segment\'s file replacing an earlier one, largest group first', () => {
    const groups = spaceByGroup([
      {path: 'usr/bin/qjs', size: 90, type: 'file'},
      {path: 'bin/busybox', size: 10, type: 'file'},
      {path: 'bin/sh', size: 0, type: 'symlink'},
      {path: 'sbin/kexec', size: 5, type: 'file'},
      {path: 'anemos/config.json', size: 7, type: 'file'},
      {path: 'anemos/config.json', size: 3, type: 'file'},
      {path: 'usr', size: 0, type: 'dir'},
    ]);
    expect(groups).toEqual([
      {group: 'QuickJS runtime', bytes: 90, files: 1, largest: [{path: 'usr/bin/qjs', size: 90}]},
      {group: 'tools', bytes: 15, files: 2, largest: [{path: 'bin/busybox', size: 10}, {path: 'sbin/kexec', size: 5}]},
      {group: 'anemos segments (config, network, keys, payload)', bytes: 3, files: 1, largest: [{path: 'anemos/config.json', size: 3}]},
    ]);
  });
});
