import {describe, expect, it} from 'vitest';
import {oomVictims, outOfMemoryMessage, parseMemTotalMiB, parseOomKills} from './memory.js';

describe('out of memory in the deploy environment', () => {
  it('reads the kill counter, the victims from the kernel log (Debian 12 kernel format) and the RAM', () => {
    expect(parseOomKills('pgfault 1\noom_kill 2\nnuma_hit 3\n')).toBe(2);
    expect(parseOomKills('pgfault 1\n')).toBe(0);
    const log = [
      '[   12.1] dd invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0, oom_score_adj=0',
      '[   12.2] Out of memory: Killed process 312 (dd) total-vm:207040kB, anon-rss:205844kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:448kB oom_score_adj:0',
    ].join('\n');
    expect(oomVictims(log)).toEqual(['dd (pid 312, 201 MiB)']);
    expect(parseMemTotalMiB('MemTotal:         230116 kB\nMemFree: 1 kB\n')).toBe(225);
    expect(outOfMemoryMessage('./deploy', ['dd (pid 312, 201 MiB)'], 225)).toMatch(/^\.\/deploy ran out of memory: the kernel's out-of-memory killer stopped dd \(pid 312, 201 MiB\)\. This machine has 225 MiB/);
  });
});
