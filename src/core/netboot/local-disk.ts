// "Boot your disk" under UEFI, quickly. BIOS iPXE hands the first disk's boot sector back
// to the firmware (sanboot --drive 0x80); UEFI iPXE has no such thing, and its `exit 1`
// sends OVMF on through the rest of its boot order first (PXE over IPv6, HTTP Boot over
// IPv4 and IPv6: minutes of timeouts before the disk). So iPXE chains a small GRUB instead
// (the way MAAS boots UEFI machines' disks), which finds the disk's EFI loader at the
// removable-media path every anemos deploy writes and firmware itself boots, and chains it.
// Built once at serve start from Debian's grub-efi-amd64-bin; the same inputs give the
// same bytes.

/** Its name under /boot/ on the boot listener. */
export const LOCAL_DISK_EFI = 'local-disk.efi';

/** The loader a UEFI disk boots without NVRAM entries (UEFI 2.x §3.5.1.1): what it looks for. */
export const DISK_LOADER = '/EFI/BOOT/BOOTX64.EFI';

/** GRUB's x86_64-efi modules (grub-efi-amd64-bin). */
export const GRUB_EFI_MODULES = '/usr/lib/grub/x86_64-efi';

/** What the chained GRUB does: the first disk with the loader (in the firmware's order), or back to the firmware. */
export function localDiskGrubConfig(): string {
  return [
    'set timeout=0',
    `echo "anemos: this machine boots its disk: looking for ${DISK_LOADER}"`,
    `if search --no-floppy --file --set=esp ${DISK_LOADER}; then`,
    `  echo "anemos: chaining (\${esp})${DISK_LOADER}"`,
    '  set root=${esp}',
    `  chainloader ${DISK_LOADER}`,
    '  boot',
    'fi',
    `echo "anemos: no disk has ${DISK_LOADER}; back to the firmware's next boot entry"`,
    'sleep 5',
    'exit 1',
    '',
  ].join('\n');
}

/** The modules it needs, in the image (nothing is loaded from a disk that may not be there). */
const MODULES = ['part_gpt', 'part_msdos', 'fat', 'search', 'chain', 'echo', 'test', 'sleep', 'minicmd', 'normal'];

/** grub-mkstandalone's arguments: the config above as (memdisk)/boot/grub/grub.cfg, only those modules, no locales, fonts or themes. */
export function localDiskEfiArgs(configFile: string, out: string): string[] {
  const modules = MODULES.join(' ');
  return ['-O', 'x86_64-efi', '-d', GRUB_EFI_MODULES, `--modules=${modules}`, `--install-modules=${modules}`, '--locales=', '--fonts=', '--themes=', '-o', out, `boot/grub/grub.cfg=${configFile}`];
}
