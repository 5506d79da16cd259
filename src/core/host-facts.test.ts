import {describe, expect, it} from 'vitest';
import {describePlatform, mountOf, parseSecureBoot} from './host-facts.js';

describe('the platform', () => {
  it('reads SecureBoot as efivarfs gives it: 4 attribute bytes, then 1 or 0', () => {
    expect(parseSecureBoot('\x06\x00\x00\x00\x01')).toBe(true);
    expect(parseSecureBoot('\x06\x00\x00\x00\x00')).toBe(false);
    expect(parseSecureBoot(undefined)).toBeUndefined();
    expect(parseSecureBoot('\x06\x00\x00\x00')).toBeUndefined();
    expect(parseSecureBoot('\x06\x00\x00\x00\x07')).toBeUndefined();
  });

  it('says it the way inventory prints it', () => {
    expect(describePlatform({uefi: false})).toBe('BIOS (legacy boot)');
    expect(describePlatform({uefi: true, secureBoot: true})).toBe('UEFI, Secure Boot on');
    expect(describePlatform({uefi: true, secureBoot: false})).toBe('UEFI, Secure Boot off');
    expect(describePlatform({uefi: true})).toBe('UEFI, Secure Boot state not readable');
  });

  it('finds the mount that holds a path', () => {
    const mi = '22 1 254:2 / / rw - ext4 /dev/vda2 rw\n23 22 254:1 / /boot/efi rw - vfat /dev/vda1 rw\n';
    expect(mountOf(mi, '/boot/efi/EFI')).toEqual({mountPoint: '/boot/efi', type: 'vfat', source: '/dev/vda1'});
    expect(mountOf(mi, '/boot')).toEqual({mountPoint: '/', type: 'ext4', source: '/dev/vda2'});
  });
});
