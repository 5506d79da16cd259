// Has anything been written to a disk since boot? /sys/block/DEV/stat field 7 counts
// sectors written (Documentation/block/stat.rst). Virtual devices (ram, loop, zram) do
// not count: they are not the old system.

export type WriteCounters = Record<string, number>;

const VIRTUAL = /^(ram|loop|zram|nbd|dm-|md)/;

export function parseBlockStat(text: string): number {
  const f = text.trim().split(/\s+/).map(Number);
  return f[6] ?? 0;
}

export function diskWrites(before: WriteCounters, after: WriteCounters): string[] {
  return Object.keys(after)
    .filter((d) => !VIRTUAL.test(d) && after[d] > (before[d] ?? 0))
    .sort();
}
