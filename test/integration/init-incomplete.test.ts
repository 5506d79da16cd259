// /init when the kernel could not unpack the whole initramfs (too little RAM, a cut
// image): it must say so on the console, with the reason the kernel gave, and reboot
// (after a kexec that is the old system), not loop on "tee: not found". Booted by the
// real Debian kernel with our real /init; the image is cut inside a large file, as a
// kernel that runs out of memory stops inside one.

import {execFileSync} from 'node:child_process';
import {chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, truncateSync, writeFileSync, statSync} from 'node:fs';
import {randomBytes} from 'node:crypto';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {debianKernelDir, REPO} from '../helpers/kernel.js';
import {Vm} from '../helpers/qemu.js';

function image(work: string, o: {cut: boolean; config: boolean; damagedUsr?: boolean}): string {
  // The base's layout (initramfs/build.sh): /usr is a squashfs image that /init mounts with
  // the loop and squashfs modules beside busybox in /early; the image comes last.
  const root = join(work, 'root');
  const usr = join(work, 'usr');
  for (const d of [join(root, 'early'), join(root, 'anemos'), join(root, 'usr'), join(usr, 'bin'), join(usr, 'sbin'), join(usr, 'lib/anemos')]) mkdirSync(d, {recursive: true});
  copyFileSync('/bin/busybox', join(root, 'early/busybox'));
  const kmods = join(debianKernelDir(), 'lib', 'modules', readdirSync(join(debianKernelDir(), 'lib', 'modules'))[0]!, 'kernel');
  copyFileSync(join(kmods, 'drivers/block/loop.ko'), join(root, 'early/loop.ko'));
  copyFileSync(join(kmods, 'fs/squashfs/squashfs.ko'), join(root, 'early/squashfs.ko'));
  symlinkSync('usr/bin', join(root, 'bin'));
  symlinkSync('usr/sbin', join(root, 'sbin'));
  // The tools /init checks for, as the base has them (applet links; dash stands in as busybox sh).
  for (const link of ['bin/busybox', 'bin/sh', 'bin/dash', 'sbin/modprobe', 'bin/xargs', 'bin/tee', 'bin/setsid']) symlinkSync('/early/busybox', join(usr, link));
  copyFileSync(join(REPO, 'initramfs/files/init'), join(root, 'init'));
  chmodSync(join(root, 'init'), 0o755);
  // Incompressible, so that cutting the compressed image cuts inside the /usr image.
  writeFileSync(join(usr, 'bin/qjs'), randomBytes(6 * 1048576), {mode: 0o755});
  writeFileSync(join(usr, 'lib/anemos/agent'), '#!/bin/sh\n# never reached\n', {mode: 0o755});
  writeFileSync(join(usr, 'lib/anemos/agent.mjs'), '// never reached\n');
  execFileSync('mksquashfs', [usr, join(root, 'early/usr.squashfs'), '-all-root', '-noappend', '-quiet', '-no-progress'], {stdio: 'ignore'});
  // Its superblock overwritten: the kernel unpacks the file whole, and it does not mount.
  if (o.damagedUsr) writeFileSync(join(root, 'early/usr.squashfs'), randomBytes(4096));
  if (o.config) writeFileSync(join(root, 'anemos/config.json'), '{}\n');
  const out = join(work, 'initramfs.cpio.gz');
  execFileSync('sh', ['-c', `cd "${root}" && { find . ! -path ./early/usr.squashfs | LC_ALL=C sort; echo ./early/usr.squashfs; } | cpio -o -H newc --quiet | gzip -1 > "${out}"`]);
  if (o.cut) truncateSync(out, Math.floor(statSync(out).size / 2));
  return out;
}

async function boot(work: string, initrd: string): Promise<string> {
  const vm = new Vm({kernel: join(debianKernelDir(), 'vmlinuz'), initrd, append: 'console=ttyS0 panic=-1', memoryMb: 256, serialLog: join(work, 'serial.log')});
  // -no-reboot: the reboot /init asks for ends QEMU. A VM that loops or hangs never exits.
  await vm.waitExit(120_000);
  return vm.log();
}

describe('/init with an incomplete initramfs', () => {
  it('a cut image: names what is missing and the kernel\'s reason, points at RAM, and reboots', async () => {
    const work = mkdtempSync(join(tmpdir(), 'anemos-init-cut-'));
    const log = await boot(work, image(work, {cut: true, config: true}));
    expect(log).toMatch(/Initramfs unpacking failed/);
    // The cut falls inside the /usr image (half of it is there), which then does not mount:
    // every tool of /usr is missing, among them those the old /init looped on ("tee: not
    // found", "setsid: not found"); /init and busybox, before the image, are whole.
    expect(log).toMatch(/anemos: the deploy environment is incomplete: missing \/usr\/bin\/qjs \/usr\/lib\/anemos\/agent \/usr\/lib\/anemos\/agent\.mjs \/bin\/dash \/usr\/bin\/xargs \/sbin\/modprobe \/usr\/bin\/tee \/usr\/bin\/setsid\. The kernel reported: Initramfs unpacking failed: .*That usually means too little RAM/);
    expect(log).toMatch(/rebooting in 10 s/);
    expect(log).toMatch(/reboot: Restarting system/);
    expect(log).not.toMatch(/not found/);
  }, 180_000);

  it('a /usr image that does not mount: says so and why, and reboots', async () => {
    const work = mkdtempSync(join(tmpdir(), 'anemos-init-usr-'));
    const log = await boot(work, image(work, {cut: false, config: true, damagedUsr: true}));
    expect(log).not.toMatch(/Initramfs unpacking failed/);
    expect(log).toMatch(/anemos: the deploy environment is incomplete: missing \/usr\/bin\/qjs .*\/usr\/bin\/setsid\. \/usr \(early\/usr\.squashfs\) did not mount: .+\. The image is damaged or was cut\./);
    expect(log).toMatch(/reboot: Restarting system/);
  }, 180_000);

  it('an image anemos did not compose: says so, and reboots', async () => {
    const work = mkdtempSync(join(tmpdir(), 'anemos-init-noconf-'));
    const log = await boot(work, image(work, {cut: false, config: false}));
    expect(log).not.toMatch(/Initramfs unpacking failed/);
    expect(log).toMatch(/anemos: the deploy environment is incomplete: missing \/anemos\/config\.json\. These files were not in the initramfs: it was not composed by anemos deploy/);
    expect(log).toMatch(/reboot: Restarting system/);
  }, 180_000);
});
