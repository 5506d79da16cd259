// A live image at every boot, from the host's own disk (live.every_boot): the deploy
// environment and the layers (one composed initramfs) in /boot/anemos-live, and a GRUB entry
// in custom.cfg that is the default whenever no one-shot entry was asked for (GRUB's
// boot_once, set by 00_header when it takes next_entry). For machines without network boot.
// Then a plain reboot: the first boot takes the path every later boot takes.

import {grubOnce, grubMenuEntry, replaceBlock, CUSTOM_CFG} from './grub-once.js';
import type {BootMethod, BootRequest} from './method.js';

/** What boot.method may say with live.every_boot: the entry is GRUB's, never a kexec. */
export const EVERY_BOOT_METHODS: readonly string[] = ['auto', 'bootloader'];

export const LIVE_ENTRY = 'anemos-live';
export const LIVE_BOOT_DIR = '/boot/anemos-live';

export const LIVE_BEGIN = '### BEGIN anemos live (the default entry: this host boots its live image at every boot; anemos live remove takes it out)';
export const LIVE_END = '### END anemos live';

/** The block in custom.cfg: the entry, and the default set to it unless this boot is a one-shot (grub-reboot). */
export function renderLiveEntry(req: Pick<BootRequest, 'cmdline'>, separateBoot?: boolean): string {
  const dir = separateBoot ? LIVE_BOOT_DIR.replace(/^\/boot/, '') : LIVE_BOOT_DIR;
  return [LIVE_BEGIN, ...grubMenuEntry(LIVE_ENTRY, dir, req.cmdline), 'if [ -z "${boot_once}" ]; then set default=' + LIVE_ENTRY + '; fi', LIVE_END, ''].join('\n');
}

/** custom.cfg with the live block replaced (or taken out, without an entry); the operator's lines and a one-shot entry stay. */
export const mergeLiveEntry = (existing: string | undefined, entry?: string) => replaceBlock(existing, LIVE_BEGIN, LIVE_END, entry);

export const grubLive: BootMethod = {
  name: 'live-disk',
  description: 'a default GRUB entry on this disk (the live image at every boot)',
  // What GRUB must be able to do is what the one-shot entry needs.
  problem: (facts) => {
    const p = grubOnce.problem(facts);
    return p && {...p, message: p.message.replace('boot.method is bootloader but', 'live.every_boot needs GRUB, and').replace(/the one-shot (GRUB )?entry/g, 'the live GRUB entry'), hint: p.hint.replace(/,? or use boot\.method: kexec\.?/, '; or remove live.every_boot to boot the image once by kexec.')};
  },
  notes: () => [],
  room: (facts, bytes) => grubOnce.room(facts, bytes)?.replace('the deploy kernel and initramfs need', 'the deploy kernel and the initramfs with the layers need'),
  stage: (facts, req) => [{path: CUSTOM_CFG, what: 'the anemos live entry, made the default', content: (existing) => mergeLiveEntry(existing, renderLiveEntry(req, facts.boot.separateBoot))}],
  load: (_req, p) => [
    ['install', '-D', '-m', '0600', p.kernel, `${LIVE_BOOT_DIR}/vmlinuz`],
    ['install', '-D', '-m', '0600', p.initramfs, `${LIVE_BOOT_DIR}/initramfs.img`],
  ],
  mayFail: () => false,
  exec: (systemd) => (systemd ? ['systemctl', 'reboot'] : ['reboot']),
  explain: () => undefined,
};
