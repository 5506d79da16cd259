// Where the time between the host's kexec and a working deploy environment goes. The
// kernel's own log carries the marks (seconds since the kernel started): the initramfs
// unpacked, /init run; /init and the agent add theirs to it (/dev/kmsg). The host writes
// "anemos: handing over" to its kernel log just before systemctl kexec, so a serial
// console shows the shutdown's length in the old kernel's timestamps. Pure: parsing only.

export interface BootTimeline {
  /** Seconds since the kernel started, each where the kernel log had it. */
  initramfsStart?: number;
  initramfsEnd?: number;
  init?: number;
  drivers?: number;
  agent?: number;
  network?: number;
}

/** The kernel's and /init's lines that mark each stage; the first of each counts. */
const MARKS: [keyof BootTimeline, RegExp][] = [
  ['initramfsStart', /Trying to unpack rootfs image as initramfs/],
  ['initramfsEnd', /Freeing initrd memory/],
  ['init', /Run \/init as init process/],
  ['drivers', /anemos: drivers loaded/],
];

const LINE = /^(?:<\d+>)?\[\s*(\d+\.\d+)\] (.*)$/;

/** The marks found in `dmesg` output (lines "[  12.714329] message"). */
export function parseKernelLog(text: string): BootTimeline {
  const out: BootTimeline = {};
  for (const line of text.split('\n')) {
    const m = line.match(LINE);
    if (!m) continue;
    for (const [key, re] of MARKS) if (out[key] === undefined && re.test(m[2])) out[key] = Number(m[1]);
  }
  return out;
}

const s = (n: number) => `${n.toFixed(2)} s`;

/** One line for the console: each stage's time since the kernel started, and how long the unpacking took. */
export function describeTimeline(t: BootTimeline): string {
  const parts: string[] = [];
  if (t.initramfsEnd !== undefined) parts.push(`initramfs unpacked ${s(t.initramfsEnd)}${t.initramfsStart !== undefined ? ` (unpacking ${s(t.initramfsEnd - t.initramfsStart)})` : ''}`);
  if (t.init !== undefined) parts.push(`/init ${s(t.init)}`);
  if (t.drivers !== undefined) parts.push(`drivers loaded ${s(t.drivers)}`);
  if (t.agent !== undefined) parts.push(`agent ${s(t.agent)}`);
  if (t.network !== undefined) parts.push(`network up ${s(t.network)}`);
  return `since the kernel started: ${parts.join(', ') || 'no marks in the kernel log'}`;
}

/**
 * A serial console's record of a kexec: seconds from the host's "anemos: handing over"
 * to the old kernel's "kexec_core: Starting new kernel" (the provider's shutdown), in the
 * old kernel's clock; undefined when either line is missing.
 */
export function shutdownSeconds(console: string): number | undefined {
  const stamp = (re: RegExp) => {
    for (const line of console.split('\n')) {
      const m = line.replace(/\r$/, '').match(LINE);
      if (m && re.test(m[2])) return Number(m[1]);
    }
    return undefined;
  };
  const from = stamp(/anemos: handing over/);
  const to = stamp(/kexec_core: Starting new kernel/);
  return from !== undefined && to !== undefined && to >= from ? Number((to - from).toFixed(2)) : undefined;
}
