import {describe, expect, it} from 'vitest';
import {LineSplitter} from './line-splitter.js';

describe('lines from chunks, bounded', () => {
  it('joins chunks into lines and keeps what is not finished', () => {
    const s = new LineSplitter();
    expect(s.push('a\nb')).toEqual(['a']);
    expect(s.push('c\r\nd\n')).toEqual(['bc', 'd']);
    expect(s.push('tail')).toEqual([]);
    expect(s.end()).toEqual(['tail']);
  });

  it('holds at most max characters of a line that never ends: cut once, the rest skipped to its newline', () => {
    const s = new LineSplitter(10);
    expect(s.push('x'.repeat(25))).toEqual(['xxxxxxxxxx… (line cut at 10 characters)']);
    expect(s.push('y'.repeat(1000))).toEqual([]);
    expect(s.push('zz\nnext\n')).toEqual(['next']);
  });
});
