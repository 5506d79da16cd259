// kexec: load the deploy kernel into this running kernel and jump to it. Nothing persistent
// changes until exec; "kexec -s" (kexec_file_load) under lockdown, which checks signatures.

import {preconditionError} from '../../shared/errors.js';
import type {BootMethod} from './method.js';

export const kexec: BootMethod = {
  name: 'kexec',
  description: 'kexec (the running kernel loads the deploy kernel and jumps to it)',
  installable: 'kexec-tools',
  problem(facts) {
    if (!facts.kexec.tool) return {code: 'no-kexec', message: 'kexec-tools is not installed.', hint: 'apt-get install kexec-tools (or set boot.method: bootloader).'};
    if (facts.kexec.loadDisabled) return {code: 'kexec-disabled', message: 'The kernel refuses kexec until the next reboot (/proc/sys/kernel/kexec_load_disabled is 1).', hint: 'Reboot first, or set boot.method: bootloader.'};
    if (facts.kexec.lockdown === 'confidentiality') return {code: 'lockdown', message: 'Kernel lockdown is in "confidentiality" mode, which forbids kexec.', hint: 'Set boot.method: bootloader, or boot without lockdown=confidentiality.'};
    return undefined;
  },
  notes: (_facts, req) => (req.kexecFileLoad ? ['Kernel lockdown (integrity): loading with kexec_file_load; the deploy kernel must be signed for this machine.'] : []),
  room: () => undefined,
  stage: () => [],
  load: (req, p) => [
    // Unload whatever an earlier run may have left loaded.
    ['kexec', '-u'],
    ['kexec', ...(req.kexecFileLoad ? ['-s'] : []), '-l', p.kernel, `--initrd=${p.initramfs}`, `--append=${req.cmdline}`],
  ],
  // "kexec -u" fails harmlessly when nothing is loaded.
  mayFail: (argv) => argv[0] === 'kexec' && argv[1] === '-u',
  /**
   * "systemctl kexec" shuts down cleanly. Debian's kexec-load service (LOAD_KEXEC=true by
   * default) would load its own kernel at shutdown, but skips that when an image is already
   * loaded (/sys/kernel/kexec_loaded = 1), so ours stays; proven in test/e2e/deploy.test.ts.
   */
  exec: (systemd) => (systemd ? ['systemctl', 'kexec'] : ['kexec', '-e']),
  explain(output, req) {
    if (/Operation not permitted|EPERM|Permission denied/.test(output)) {
      return preconditionError('kexec-refused', 'The kernel refused to load the deploy kernel (EPERM): Secure Boot lockdown or a kexec policy forbids it.', req.kexecFileLoad ? 'Use a kernel signed for this machine, or set boot.method: bootloader.' : 'Set boot.method: bootloader, or boot the host without lockdown.');
    }
    if (/Cannot allocate memory|ENOMEM/.test(output)) {
      return preconditionError('kexec-nomem', 'The kernel could not find memory for the deploy kernel and initramfs.', 'Free memory (stop services), or use a smaller base initramfs.');
    }
    return undefined;
  },
};
