// A seeded pseudo-random generator (mulberry32) for the fuzz tests: the same inputs on
// every run, so a failure can be replayed.

export interface Prng {
  /** A float in [0, 1). */
  (): number;
  /** An integer in [0, n). */
  int(n: number): number;
}

export function prng(seed: number): Prng {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Object.assign(next, {int: (n: number) => Math.floor(next() * n)});
}
