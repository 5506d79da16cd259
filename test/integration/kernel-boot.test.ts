// Proof beyond our own reader: GNU cpio reads every segment compose wrote, and the
// Debian kernel boots base ‖ segments and sees the appended files.

import {execFileSync} from 'node:child_process';
import {chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {CLI, debianKernelDir} from '../helpers/kernel.js';
import {Vm} from '../helpers/qemu.js';

const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
for f in /anemos/plain.txt /anemos/deep/dir/gz.txt /lib/firmware/test/fw.bin; do
  if [ -f "$f" ]; then echo "SEEN $f $(/bin/busybox sha256sum "$f" | /bin/busybox cut -d' ' -f1) mode=$(/bin/busybox stat -c %a "$f")"; else echo "MISSING $f"; fi
done
echo "BOOT-DONE"
/bin/busybox poweroff -f
`;

describe('composed initramfs, checked by GNU cpio and the kernel', () => {
  let work: string;
  let base: string;
  let final: string;
  let composed: {segments: {name: string; compression: string; offset: number; length: number}[]};

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'anemos-boot-'));
    // A tiny busybox base made with GNU cpio and zstd, independent of our writer.
    const root = join(work, 'root');
    mkdirSync(join(root, 'bin'), {recursive: true});
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    writeFileSync(join(root, 'init'), INIT);
    chmodSync(join(root, 'init'), 0o755);
    base = join(work, 'base.cpio.zst');
    execFileSync('sh', ['-c', `cd "${root}" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | zstd -q -19 -T0 --check > "${base}"`]);

    writeFileSync(join(work, 'plain.txt'), 'plain segment\n');
    writeFileSync(join(work, 'gz.txt'), 'gzip segment, odd size');
    writeFileSync(join(work, 'fw.bin'), Buffer.alloc(4099, 7));
    chmodSync(join(work, 'fw.bin'), 0o640);
    const step1 = join(work, 'step1.img');
    final = join(work, 'final.img');
    execFileSync(CLI, ['initramfs', 'compose', base, '-o', step1, '--add', `${work}/plain.txt=anemos/plain.txt`]);
    // Composing onto an already composed image appends again: the base is never unpacked.
    composed = JSON.parse(
      execFileSync(CLI, ['initramfs', 'compose', step1, '-o', final, '--compression', 'gzip', '--json', '--add', `${work}/gz.txt=anemos/deep/dir/gz.txt`, '--add', `${work}/fw.bin=lib/firmware/test/fw.bin`], {encoding: 'utf8'}),
    );
  });

  it('keeps the base bytes unchanged at the start', () => {
    const b = readFileSync(base);
    expect(readFileSync(final).subarray(0, b.byteLength).equals(b)).toBe(true);
  });

  it('GNU cpio lists every appended segment', () => {
    const img = readFileSync(final);
    const seg = composed.segments[0];
    const bytes = img.subarray(seg.offset, seg.offset + seg.length);
    const listing = execFileSync('sh', ['-c', 'gzip -dc | cpio -t --quiet'], {input: bytes, encoding: 'utf8'});
    expect(listing.split('\n').filter(Boolean)).toEqual(['anemos', 'anemos/deep', 'anemos/deep/dir', 'anemos/deep/dir/gz.txt', 'lib', 'lib/firmware', 'lib/firmware/test', 'lib/firmware/test/fw.bin']);
    const step1 = readFileSync(join(work, 'step1.img'));
    const plainSegStart = readFileSync(base).byteLength + ((4 - (readFileSync(base).byteLength % 4)) % 4);
    const plain = execFileSync('cpio', ['-t', '--quiet'], {input: step1.subarray(plainSegStart), encoding: 'utf8'});
    expect(plain.split('\n').filter(Boolean)).toEqual(['anemos', 'anemos/plain.txt']);
  });

  it('our lister agrees: three segments, zstd then plain then gzip', () => {
    const out = JSON.parse(execFileSync(CLI, ['initramfs', 'list', final, '--json'], {encoding: 'utf8'}));
    expect(out.segments.map((s: {compression: string}) => s.compression)).toEqual(['zstd', 'none', 'gzip']);
    expect(out.segments[0].entries.map((e: {path: string}) => e.path)).toEqual(['.', 'bin', 'bin/busybox', 'init']);
  });

  it('the Debian kernel unpacks base and segments and the files are intact', async () => {
    const kernel = join(debianKernelDir(), 'vmlinuz');
    const vm = new Vm({kernel, initrd: final, append: 'console=ttyS0 panic=-1', memoryMb: 256, serialLog: join(work, 'serial.log')});
    try {
      await vm.waitFor(/BOOT-DONE/, 120_000);
    } finally {
      vm.kill();
    }
    const log = vm.log();
    const sha = (f: string) => execFileSync('sha256sum', [join(work, f)], {encoding: 'utf8'}).split(' ')[0];
    expect(log).toContain(`SEEN /anemos/plain.txt ${sha('plain.txt')} mode=644`);
    expect(log).toContain(`SEEN /anemos/deep/dir/gz.txt ${sha('gz.txt')} mode=644`);
    expect(log).toContain(`SEEN /lib/firmware/test/fw.bin ${sha('fw.bin')} mode=640`);
    expect(log).not.toContain('MISSING');
  }, 180_000);

  it('is reproducible: composing twice gives the same bytes', () => {
    const again = join(work, 'again.img');
    execFileSync(CLI, ['initramfs', 'compose', join(work, 'step1.img'), '-o', again, '--compression', 'gzip', '--add', `${work}/gz.txt=anemos/deep/dir/gz.txt`, '--add', `${work}/fw.bin=lib/firmware/test/fw.bin`]);
    expect(readFileSync(again).equals(readFileSync(final))).toBe(true);
  });
});
