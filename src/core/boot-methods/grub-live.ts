// A live image at every boot, from the host's own disk (live.every_boot): the deploy
// environment and the layers (one composed initramfs) in /boot/anemos-live, and a GRUB entry
// in custom.cfg that is the default whenever no one-shot entry was asked for (GRUB's
// boot_once, set by 00_header when it takes next_entry). For machines without network boot.
// Then a plain reboot: the first boot takes the path every later boot takes.

import {grubBootPrefix, grubMenuEntry, grubProblem, grubRoom, replaceBlock, CUSTOM_CFG, type GrubWords} from './grub-once.js';
import type {BootMethod, BootRequest} from './method.js';

/** What boot.method may say with live.every_boot: the entry is GRUB's, never a kexec. */
export const EVERY_BOOT_METHODS: readonly string[] = ['auto', 'bootloader'];

export const LIVE_ENTRY = 'anemos-live';
export const LIVE_BOOT_DIR = '/boot/anemos-live';

export const LIVE_BEGIN = '### BEGIN anemos live (the default entry: this host boots its live image at every boot; anemos live remove takes it out)';
export const LIVE_END = '### END anemos live';

/** The block in custom.cfg: the entry, and the default set to it unless this boot is a one-shot (grub-reboot). */
export function renderLiveEntry(req: Pick<BootRequest, 'cmdline'>, separateBoot?: boolean): string {
  return [LIVE_BEGIN, ...grubMenuEntry(LIVE_ENTRY, grubBootPrefix(separateBoot, LIVE_BOOT_DIR), req.cmdline), 'if [ -z "${boot_once}" ]; then set default=' + LIVE_ENTRY + '; fi', LIVE_END, ''].join('\n');
}

/** custom.cfg with the live block replaced (or taken out, without an entry); the operator's lines and a one-shot entry stay. */
export const mergeLiveEntry = (existing: string | undefined, entry?: string) => replaceBlock(existing, LIVE_BEGIN, LIVE_END, entry);

const LIVE_WORDS: GrubWords = {asks: 'live.every_boot needs GRUB', entry: 'the live GRUB entry', files: 'the deploy kernel and the initramfs with the layers', otherwise: 'remove live.every_boot to boot the image once by kexec'};

export const grubLive: BootMethod = {
  name: 'live-disk',
  description: 'a default GRUB entry on this disk (the live image at every boot)',
  // What GRUB must be able to do is what the one-shot entry needs, in this entry's words.
  problem: (facts) => grubProblem(facts, LIVE_WORDS),
  notes: () => [],
  room: (facts, bytes) => grubRoom(facts, bytes, LIVE_WORDS),
  stage: (facts, req) => [{path: CUSTOM_CFG, what: 'the anemos live entry, made the default', content: (existing) => mergeLiveEntry(existing, renderLiveEntry(req, facts.boot.separateBoot))}],
  load: (_req, p) => [
    ['install', '-D', '-m', '0600', p.kernel, `${LIVE_BOOT_DIR}/vmlinuz`],
    ['install', '-D', '-m', '0600', p.initramfs, `${LIVE_BOOT_DIR}/initramfs.img`],
  ],
  mayFail: () => false,
  exec: (systemd) => (systemd ? ['systemctl', 'reboot'] : ['reboot']),
  explain: () => undefined,
};
