import {openSync, readdirSync, readSync, closeSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {debianKernelDir} from '../../test/helpers/kernel.js';
import {needsSignedKernel, PE_HEADER_BYTES, peSigned} from './kernel-image.js';

function peHeaderOf(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(0x40);
    readSync(fd, head, 0, head.length, 0);
    const pe = Buffer.alloc(PE_HEADER_BYTES);
    readSync(fd, pe, 0, pe.length, head.readUInt32LE(0x3c));
    return pe;
  } finally {
    closeSync(fd);
  }
}

describe('the deploy kernel signature', () => {
  it('Debian\'s kernel (the one the base uses) is a signed PE image; with its certificate table gone it is not', () => {
    const dir = join(debianKernelDir(), 'boot');
    const pe = peHeaderOf(join(dir, readdirSync(dir).find((f) => f.startsWith('vmlinuz-'))!));
    expect(peSigned(pe)).toBe(true);
    const stripped = Buffer.from(pe);
    stripped.writeUInt32LE(0, 24 + 112 + 4 * 8 + 4);
    expect(peSigned(stripped)).toBe(false);
  });

  it('says nothing about what is not a PE image', () => {
    expect(peSigned(Buffer.alloc(PE_HEADER_BYTES))).toBeUndefined();
    expect(peSigned(Buffer.from('PE\0\0'))).toBeUndefined();
  });

  it('a signed kernel is needed under Secure Boot or lockdown, not otherwise', () => {
    expect(needsSignedKernel({platform: {uefi: true, secureBoot: true}, kexec: {lockdown: 'integrity', loadDisabled: false, systemd: true}})).toBe('Secure Boot is on');
    expect(needsSignedKernel({platform: {uefi: false}, kexec: {lockdown: 'integrity', loadDisabled: false, systemd: true}})).toBe('the kernel is in lockdown (integrity)');
    expect(needsSignedKernel({platform: {uefi: true, secureBoot: false}, kexec: {lockdown: 'none', loadDisabled: false, systemd: true}})).toBeUndefined();
  });
});
