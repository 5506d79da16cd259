import {describe, expect, it} from 'vitest';
import {describeTimeline, parseKernelLog, shutdownSeconds} from './boot-timeline.js';

// Lines from the bonded-uplink e2e's serial log: the provider's shutdown, then the deploy kernel.
const CONSOLE = [
  '[   87.474353] systemd-shutdown[1]: Syncing filesystems and block devices.',
  '[   87.696234] systemd-shutdown[1]: Rebooting with kexec.',
  '[   87.760019] kexec_core: Starting new kernel',
  '[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org)',
  '[    1.296048] Trying to unpack rootfs image as initramfs...',
  '[   11.975312] Freeing initrd memory: 40276K',
  '[   12.714329] Run /init as init process',
  '[   12.805839] anemos: initramfs up, loading drivers',
  '[   14.100001] anemos: drivers loaded',
].join('\n');

describe('boot timeline', () => {
  it('reads the marks from the kernel log, in seconds since the kernel started', () => {
    const t = parseKernelLog(CONSOLE.split('\n').slice(3).join('\n'));
    expect(t).toEqual({initramfsStart: 1.296048, initramfsEnd: 11.975312, init: 12.714329, drivers: 14.100001});
    expect(describeTimeline({...t, agent: 15.2, network: 17.05})).toBe(
      'since the kernel started: initramfs unpacked 11.98 s (unpacking 10.68 s), /init 12.71 s, drivers loaded 14.10 s, agent 15.20 s, network up 17.05 s',
    );
    expect(describeTimeline({})).toBe('since the kernel started: no marks in the kernel log');
  });

  it('measures the provider\'s shutdown from the host\'s hand-over line to kexec, in the old kernel\'s clock', () => {
    expect(shutdownSeconds(`[   61.250000] anemos: handing over: systemctl kexec\r\n${CONSOLE}`)).toBe(26.51);
    expect(shutdownSeconds(CONSOLE)).toBeUndefined();
  });
});
