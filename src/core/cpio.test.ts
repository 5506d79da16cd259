import {describe, expect, it} from 'vitest';
import {buildCpio, planCpioEntries, readCpio} from './cpio.js';

describe('newc writer', () => {
  it('adds parent directories before children and sorts entries', () => {
    const planned = planCpioEntries([
      {path: 'anemos/ssh/authorized_keys', type: 'file', data: Buffer.from('k')},
      {path: '/anemos/config.json', type: 'file', data: Buffer.from('{}')},
    ]);
    expect(planned.map((e) => `${e.type}:${e.path}`)).toEqual(['dir:anemos', 'file:anemos/config.json', 'dir:anemos/ssh', 'file:anemos/ssh/authorized_keys']);
  });

  it('round-trips names, modes, symlinks and odd sizes, aligned to 4 bytes', async () => {
    const archive = await buildCpio([
      {path: 'a/b.txt', type: 'file', mode: 0o600, data: Buffer.from('hello')},
      {path: 'a/ünï.txt', type: 'file', data: Buffer.from('x'.repeat(7))},
      {path: 'bin/sh', type: 'symlink', target: 'busybox'},
      {path: 'empty', type: 'file', data: Buffer.alloc(0)},
    ]);
    expect(archive.byteLength % 4).toBe(0);
    const {entries, end} = readCpio(archive);
    expect(end).toBe(archive.byteLength);
    const byPath = Object.fromEntries(entries.map((e) => [e.path, e]));
    expect(Object.keys(byPath)).toEqual(['a', 'a/b.txt', 'a/ünï.txt', 'bin', 'bin/sh', 'empty']);
    expect(byPath['a/b.txt'].mode).toBe(0o600);
    expect(archive.subarray(byPath['a/b.txt'].dataOffset, byPath['a/b.txt'].dataOffset + 5).toString()).toBe('hello');
    expect(byPath['a/ünï.txt'].size).toBe(7);
    expect(byPath['bin/sh']).toMatchObject({type: 'symlink', target: 'busybox'});
    expect(byPath['empty'].size).toBe(0);
  });

  it('is reproducible: same entries, same bytes, mtime fixed', async () => {
    const entries = [{path: 'x', type: 'file' as const, data: Buffer.from('1')}];
    const a = await buildCpio(entries);
    const b = await buildCpio([...entries]);
    expect(a.equals(b)).toBe(true);
    expect(a.toString('ascii', 6 + 5 * 8, 6 + 6 * 8)).toBe('00000000'); // mtime field
    const c = await buildCpio(entries, {mtime: 1700000000});
    expect(c.toString('ascii', 6 + 5 * 8, 6 + 6 * 8)).toBe((1700000000).toString(16).padStart(8, '0'));
  });

  it('streams file data from a source and checks its announced size', async () => {
    const ok = await buildCpio([{path: 'f', type: 'file', data: {size: 6, open: async function* () { yield Buffer.from('abc'); yield Buffer.from('def'); }}}]);
    const f = readCpio(ok).entries.find((e) => e.path === 'f')!;
    expect(ok.subarray(f.dataOffset, f.dataOffset + 6).toString()).toBe('abcdef');
    await expect(buildCpio([{path: 'f', type: 'file', data: {size: 10, open: async function* () { yield Buffer.from('abc'); }}}])).rejects.toThrow(/announced as 10 bytes but 3/);
  });

  it('rejects duplicates, "..", and files used as directories', async () => {
    await expect(buildCpio([{path: 'a', type: 'file'}, {path: '/a', type: 'file'}])).rejects.toThrow(/Two entries/);
    await expect(buildCpio([{path: 'a/../b', type: 'file'}])).rejects.toThrow(/\.\./);
    await expect(buildCpio([{path: 'a', type: 'file'}, {path: 'a/b', type: 'file'}])).rejects.toThrow(/is a file/);
  });

  it('reports truncated archives and foreign formats', async () => {
    const archive = await buildCpio([{path: 'x', type: 'file', data: Buffer.from('data')}]);
    expect(() => readCpio(archive.subarray(0, 50))).toThrow(/ends inside a header/);
    const odc = Buffer.from('070707' + '0'.repeat(200));
    expect(() => readCpio(odc)).toThrow(/No newc header/);
  });
});
