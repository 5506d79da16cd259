import {describe, expect, it} from 'vitest';
import {ipxeScript} from './ipxe-script.js';
import {DISK_LOADER, localDiskEfiArgs, localDiskGrubConfig} from './local-disk.js';

describe('booting the local disk', () => {
  const disk = {boot: 'local-disk', rule: 'm1 is deployed: it boots its disk'} as const;

  it('BIOS iPXE hands the first disk back to the firmware; UEFI iPXE chains the GRUB that finds the disk loader, or goes back to the firmware without it', () => {
    expect(ipxeScript(disk, 'bios', undefined, 'http://10.0.0.1:8067/boot/local-disk.efi')).toContain('\nsanboot --no-describe --drive 0x80 || exit 1\n');
    const uefi = ipxeScript(disk, 'uefi', undefined, 'http://10.0.0.1:8067/boot/local-disk.efi');
    expect(uefi.split('\n').slice(2)).toEqual(['chain http://10.0.0.1:8067/boot/local-disk.efi || exit 1', '']);
    expect(ipxeScript(disk, 'uefi').split('\n').slice(2)).toEqual(['exit 1', '']);
  });

  it("the GRUB looks for the removable-media loader on disks only, chains it from its own partition, and otherwise returns to the firmware", () => {
    const cfg = localDiskGrubConfig();
    expect(cfg).toContain(`search --no-floppy --file --set=esp ${DISK_LOADER}`);
    expect(cfg).toMatch(/set root=\$\{esp\}\n\s+chainloader \/EFI\/BOOT\/BOOTX64\.EFI\n\s+boot\n/);
    expect(cfg.trim().split('\n').at(-1)).toBe('exit 1');
    // exit lives in minicmd: without it GRUB would stop at its prompt instead of returning.
    const args = localDiskEfiArgs('/tmp/x.cfg', '/tmp/x.efi');
    expect(args.find((a) => a.startsWith('--modules='))).toMatch(/\bminicmd\b.*\bnormal\b|\bnormal\b.*\bminicmd\b/);
    expect(args.at(-1)).toBe('boot/grub/grub.cfg=/tmp/x.cfg');
  });
});
