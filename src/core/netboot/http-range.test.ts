import {describe, expect, it} from 'vitest';
import {rangeOf} from './http-range.js';

describe('Range: bytes=', () => {
  it('reads one range, an open end, or a suffix; several ranges or another unit get the whole', () => {
    expect(rangeOf('bytes=0-99', 1000)).toEqual([0, 100]);
    expect(rangeOf('bytes=900-', 1000)).toEqual([900, 1000]);
    expect(rangeOf('bytes=900-5000', 1000)).toEqual([900, 1000]);
    expect(rangeOf('bytes=-100', 1000)).toEqual([900, 1000]);
    expect(rangeOf('bytes=-5000', 1000)).toEqual([0, 1000]);
    expect(rangeOf(undefined, 1000)).toBeUndefined();
    expect(rangeOf('bytes=0-1,5-6', 1000)).toBeUndefined();
    expect(rangeOf('items=0-1', 1000)).toBeUndefined();
    expect(rangeOf('bytes=-', 1000)).toBeUndefined();
  });
  it('a range past the end, backwards, or empty is unsatisfiable', () => {
    expect(rangeOf('bytes=1000-', 1000)).toBe('unsatisfiable');
    expect(rangeOf('bytes=50-10', 1000)).toBe('unsatisfiable');
    expect(rangeOf('bytes=-0', 1000)).toBe('unsatisfiable');
  });
});
