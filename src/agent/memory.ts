// Out of memory in the deploy environment: the whole system lives in RAM, so a payload
// that holds too much is killed by the kernel's OOM killer. Told as such, not as a bare
// "exit 137". /proc/vmstat's oom_kill counts the kills; the kernel log names the victim.

/** oom_kill from /proc/vmstat (Linux ≥ 4.13). */
export function parseOomKills(vmstat: string): number {
  return Number(/^oom_kill (\d+)$/m.exec(vmstat)?.[1] ?? 0);
}

/** The processes the OOM killer stopped, from the kernel log: "dd (pid 312, 201 MiB)". */
export function oomVictims(kernelLog: string): string[] {
  return [...kernelLog.matchAll(/Out of memory: Killed process (\d+) \(([^)]*)\) total-vm:\d+kB, anon-rss:(\d+)kB/g)].map((m) => `${m[2]} (pid ${m[1]}, ${Math.round(Number(m[3]) / 1024)} MiB)`);
}

export function parseMemTotalMiB(meminfo: string): number {
  return Math.round(Number(/^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1] ?? 0) / 1024);
}

/** The sentence for the console and events.jsonl. */
export function outOfMemoryMessage(name: string, victims: string[], memTotalMiB: number): string {
  const who = victims.length ? victims.join(', ') : 'a process';
  return `${name} ran out of memory: the kernel's out-of-memory killer stopped ${who}. This machine has ${memTotalMiB} MiB of RAM, and the deploy environment itself lives in it. Give the machine more RAM, or make the payload hold less in memory (stream to the disk instead of into /tmp).`;
}
