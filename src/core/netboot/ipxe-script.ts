// The iPXE script a machine is given (GET /boot/ipxe?mac=...): what bootDecision decided,
// in iPXE's own words. The deploy environment is the kernel and two initrds, the shared
// base (never rewritten) and the machine's own segment; after a fetch that fails, the
// script is asked for again after a pause (a registry or database away for a moment, or a
// restarted one that no longer holds the segment it made, does not end the boot).

import type {BootDecision} from './boot-decision.js';
import type {BootRequest} from './pxe.js';

/** What iPXE loads: the deploy environment (kernel, base, the machine's segment), or an installer (kernel and initrd from its ISO). */
export interface EnvironmentFiles {
  kernel: string;
  /** The shared base first, then the machine's segment: loaded in this order, named as they are here. */
  initrds: {name: string; url: string}[];
  /** The kernel command line after the initrd= arguments. */
  cmdline: string;
  /** This machine's script URL: asked again after a failed download (the decision, and fresh links, made anew). */
  again: string;
}

/** Seconds between tries when a fetch fails. */
export const RETRY_SECONDS = 10;

/** iPXE takes a line as it is, apart from its own ${...} expansions: what comes from a record must not carry one. */
const said = (text: string) => text.replace(/[\r\n]+/g, ' ').replace(/\$\{/g, '$ {').slice(0, 300);

/**
 * @param localDiskEfi the URL of the GRUB that boots a UEFI machine's disk (local-disk.ts);
 *   without it a UEFI machine told to boot its disk goes back to its firmware's boot order.
 */
export function ipxeScript(decision: BootDecision, firmware: BootRequest['firmware'], env?: EnvironmentFiles, localDiskEfi?: string): string {
  const lines = ['#!ipxe', `echo anemos: ${said(decision.rule)}`];
  if (decision.boot === 'environment' || decision.boot === 'installer') {
    if (!env) throw new Error(`ipxeScript: the ${decision.boot} decision needs its files`);
    // UEFI's iPXE hands the kernel its initrds by name (initrd=NAME); BIOS' loads them all, in order.
    const names = env.initrds.map((i) => `initrd=${i.name}`).join(' ');
    lines.push(
      ':load',
      `kernel ${env.kernel} ${names} ${env.cmdline} || goto retry`,
      ...env.initrds.map((i) => `initrd --name ${i.name} ${i.url} || goto retry`),
      'boot || goto retry',
      ':retry',
      `echo anemos: a download failed; asking again in ${RETRY_SECONDS} s`,
      'imgfree',
      `sleep ${RETRY_SECONDS}`,
      `chain --replace ${env.again} || goto retry`,
    );
  } else if (decision.boot === 'local-disk') {
    // BIOS: the first disk's boot sector, as the firmware would have; UEFI: the GRUB that
    // chains the disk's EFI loader; failing either, back to the firmware's boot order with
    // an error, so that it goes on to its next entry.
    if (firmware === 'bios') lines.push('sanboot --no-describe --drive 0x80 || exit 1');
    else lines.push(localDiskEfi ? `chain ${localDiskEfi} || exit 1` : 'exit 1');
  } else {
    lines.push('exit 1');
  }
  return `${lines.join('\n')}\n`;
}

/** An iPXE script that waits and asks again: the registry could not decide now (its database away). */
export function ipxeRetryScript(reason: string, again: string): string {
  return ['#!ipxe', `echo anemos: ${said(reason)}; asking again in ${RETRY_SECONDS} s`, `sleep ${RETRY_SECONDS}`, `chain --replace ${again} || exit 1`, ''].join('\n');
}
