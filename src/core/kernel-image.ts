// What the deploy kernel file says about itself, read from its first bytes: an x86 bzImage
// has "HdrS" at 0x202 (Documentation/arch/x86/boot.rst); an EFI-stub kernel is also a PE
// image, and one signed for Secure Boot carries an Authenticode certificate table (PE/COFF
// data directory 4), which kexec_file_load and shim check under lockdown.

import type {HostFacts} from './host-facts.js';

/** PE header offset (e_lfanew at 0x3c), then this many bytes of it reach data directory 4. */
export const PE_HEADER_BYTES = 24 + 112 + 5 * 8;

/**
 * true: a PE32+ image with a certificate table; false: a PE image without one; undefined:
 * not a PE image at all (a kernel without the EFI stub), so nothing can be said.
 */
export function peSigned(peHeader: Uint8Array): boolean | undefined {
  const b = Buffer.from(peHeader);
  if (b.length < PE_HEADER_BYTES || b.toString('latin1', 0, 4) !== 'PE\0\0') return undefined;
  const magic = b.readUInt16LE(24);
  // PE32+ (0x20b): data directories from optional header offset 112; PE32 (0x10b): from 96.
  const dirs = magic === 0x20b ? 24 + 112 : magic === 0x10b ? 24 + 96 : undefined;
  if (dirs === undefined) return undefined;
  const count = b.readUInt32LE(dirs - 4);
  if (count < 5) return false;
  return b.readUInt32LE(dirs + 4 * 8 + 4) > 0;
}

/** Secure Boot on, or the kernel locked down: only a signed kernel can be loaded (kexec -s, or shim for GRUB). */
export function needsSignedKernel(facts: Pick<HostFacts, 'platform' | 'kexec'>): string | undefined {
  if (facts.platform?.secureBoot) return 'Secure Boot is on';
  if (facts.kexec.lockdown === 'integrity' || facts.kexec.lockdown === 'confidentiality') return `the kernel is in lockdown (${facts.kexec.lockdown})`;
  return undefined;
}
