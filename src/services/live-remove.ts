// anemos live remove: take live.every_boot out of this host's boot, on the installed system
// (anemos-boot-os on the live system makes the next boot this one): the live block of
// /boot/grub/custom.cfg, so GRUB's own default is the default again, and /boot/anemos-live.

import {localHost, type Host} from '../adapters/host-files.js';
import {CUSTOM_CFG} from '../core/boot-methods/grub-once.js';
import {LIVE_BEGIN, LIVE_BOOT_DIR, mergeLiveEntry} from '../core/boot-methods/grub-live.js';
import {preconditionError} from '../shared/errors.js';

export interface LiveRemoved {
  /** What was taken out; empty when the host had no live entry. */
  removed: string[];
}

export async function liveRemove(host: Host = localHost): Promise<LiveRemoved> {
  const removed: string[] = [];
  const cfg = await host.files.read(CUSTOM_CFG);
  if (cfg?.includes(LIVE_BEGIN)) {
    await host.files.write(CUSTOM_CFG, mergeLiveEntry(cfg));
    removed.push(`the anemos-live entry of ${CUSTOM_CFG} (GRUB's own default is the default again)`);
  }
  if (await host.files.stat(LIVE_BOOT_DIR)) {
    const r = await host.runner.run('rm', ['-r', '--', LIVE_BOOT_DIR], {allowFail: true});
    if (r.exitCode !== 0) throw preconditionError('live-remove-failed', `${LIVE_BOOT_DIR} could not be removed: ${r.stderr.trim()}`, 'Run it as root.');
    removed.push(`${LIVE_BOOT_DIR} (the deploy environment and the layers)`);
  }
  return {removed};
}
