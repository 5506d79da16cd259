// The ISO 9660 reader against images xorriso makes in the test, and against bsdtar
// (libarchive) reading the same files: every name (Rock Ridge, Joliet, plain ISO 9660),
// every file's bytes, deep paths, a large file, symlinks; then damaged and hostile images
// (a directory cut short, a record that crosses its sector, a name "..", a 2 GiB entry in
// a small image, a directory that links back to its ancestor), each refused with the
// reason and without a read outside the image.

import {execFileSync} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openIsoFile} from '../../src/adapters/iso-file.js';
import {IsoImage, SECTOR, bufferSource, type IsoEntry, type Source} from '../../src/core/iso9660.js';
import {prng} from '../helpers/prng.js';

const xorriso = (args: string[]) => execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', ...args], {stdio: ['ignore', 'ignore', 'pipe']});

/** A Source that fails the test on any read outside the image. */
function guarded(b: Buffer): Source & {reads: number} {
  const s = {
    size: b.length,
    reads: 0,
    read: async (offset: number, length: number) => {
      s.reads++;
      if (offset < 0 || length < 0 || offset + length > b.length) throw new Error(`read outside the image: ${offset}+${length} of ${b.length}`);
      return b.subarray(offset, offset + length);
    },
  };
  return s;
}

async function bytesOf(iso: IsoImage, e: IsoEntry, start?: number, end?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of iso.read(e, start, end)) parts.push(b);
  return Buffer.concat(parts);
}

/** The directory record named NAME (its ISO 9660 name) in the directory at BLOCK: its byte offset in the image. */
function recordAt(img: Buffer, block: number, isoName: string): number {
  const dir = block * SECTOR;
  for (let p = dir; p < dir + SECTOR; ) {
    const len = img[p]!;
    if (!len) break;
    if (img.toString('latin1', p + 33, p + 33 + img[p + 32]!) === isoName) return p;
    p += len;
  }
  throw new Error(`no record ${isoName}`);
}
const rootBlock = (img: Buffer) => img.readUInt32LE(16 * SECTOR + 156 + 2);

describe('ISO 9660 reader', {timeout: 120_000}, () => {
  let work: string;
  let tree: string;
  let large: Buffer;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'anemos-iso-'));
    tree = join(work, 'tree');
    const deep = join(tree, 'deep/a/b/c/d/e/f/g/h/i/j/k');
    mkdirSync(deep, {recursive: true});
    writeFileSync(join(deep, 'bottom.txt'), 'twelve directories down\n');
    mkdirSync(join(tree, 'install.amd'));
    writeFileSync(join(tree, 'install.amd/vmlinuz'), randomBytes(3 * SECTOR + 17));
    large = randomBytes(48 << 20);
    writeFileSync(join(tree, 'install.amd/initrd.gz'), large);
    mkdirSync(join(tree, '.disk'));
    writeFileSync(join(tree, '.disk/info'), 'Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST with firmware 20241109-11:04');
    writeFileSync(join(tree, 'a name that is longer than sixty-four characters, as Rock Ridge allows.txt'), 'long\n');
    writeFileSync(join(tree, 'café-ünïcode.txt'), 'utf-8\n');
    writeFileSync(join(tree, 'empty'), '');
    symlinkSync('install.amd/vmlinuz', join(tree, 'vmlinuz'));
    symlinkSync('/etc/passwd', join(tree, 'outside'));
    xorriso(['-R', '-J', '-joliet-long', '-V', 'ANEMOS_TEST', '-o', join(work, 'rr.iso'), tree]);
    xorriso(['--norock', '-J', '-joliet-long', '-o', join(work, 'joliet.iso'), tree]);
    xorriso(['--norock', '-iso-level', '3', '-o', join(work, 'plain.iso'), join(tree, 'install.amd')]);
    mkdirSync(join(work, 'extracted'));
    execFileSync('bsdtar', ['-x', '-f', join(work, 'rr.iso'), '-C', join(work, 'extracted')]);
  });
  afterAll(() => rmSync(work, {recursive: true, force: true}));

  it('reads every Rock Ridge name, link and file as bsdtar does, byte for byte', async () => {
    const {iso, close} = await openIsoFile(join(work, 'rr.iso'));
    try {
      expect(iso.names).toBe('rockridge');
      expect(iso.volume).toBe('ANEMOS_TEST');
      const entries: IsoEntry[] = [];
      for await (const e of iso.walk()) entries.push(e);
      const listed = execFileSync('bsdtar', ['-t', '-f', join(work, 'rr.iso')], {encoding: 'utf8'})
        .split('\n')
        .filter((l) => l && l !== '.')
        .map((l) => l.replace(/\/$/, ''));
      expect(entries.map((e) => e.path).sort()).toEqual(listed.sort());
      for (const e of entries.filter((x) => x.type === 'file')) {
        expect((await bytesOf(iso, e)).equals(readFileSync(join(work, 'extracted', e.path))), e.path).toBe(true);
      }
      expect((await iso.stat('deep/a/b/c/d/e/f/g/h/i/j/k/bottom.txt'))?.size).toBe(24);
      expect(await iso.stat('vmlinuz')).toMatchObject({type: 'symlink', target: 'install.amd/vmlinuz'});
      expect(await iso.stat('outside')).toMatchObject({type: 'symlink', target: '/etc/passwd'});
      const initrd = (await iso.stat('install.amd/initrd.gz'))!;
      expect(initrd).toMatchObject({type: 'file', size: large.length});
      // A range from the middle, as a client's Range request asks it.
      expect((await bytesOf(iso, initrd, 5_000_001, 7_654_321)).equals(large.subarray(5_000_001, 7_654_321))).toBe(true);
      expect(await iso.stat('install.amd/nothing')).toBeUndefined();
      await expect(iso.stat('install.amd/../.disk/info')).rejects.toThrow(/"\.\." is not followed/);
    } finally {
      await close();
    }
  });

  it('reads Joliet names when the image has no Rock Ridge, and plain ISO 9660 names as Linux shows them', async () => {
    const joliet = await openIsoFile(join(work, 'joliet.iso'));
    try {
      expect(joliet.iso.names).toBe('joliet');
      const names = (await joliet.iso.list('')).map((e) => e.name).sort();
      expect(names).toContain('café-ünïcode.txt');
      expect(names).toContain('a name that is longer than sixty-four characters, as Rock Ridge allows.txt');
      const bottom = (await joliet.iso.stat('deep/a/b/c/d/e/f/g/h/i/j/k/bottom.txt'))!;
      expect((await bytesOf(joliet.iso, bottom)).toString()).toBe('twelve directories down\n');
    } finally {
      await joliet.close();
    }
    const plain = await openIsoFile(join(work, 'plain.iso'));
    try {
      expect(plain.iso.names).toBe('iso9660');
      expect((await plain.iso.list('')).map((e) => e.name).sort()).toEqual(['initrd.gz', 'vmlinuz']);
      expect((await bytesOf(plain.iso, (await plain.iso.stat('initrd.gz'))!)).equals(large)).toBe(true);
    } finally {
      await plain.close();
    }
  });

  describe('damaged and hostile images are refused with the reason, and nothing is read outside them', () => {
    let img: Buffer;
    beforeAll(() => {
      const small = join(work, 'small');
      mkdirSync(join(small, 'sub/inner'), {recursive: true});
      writeFileSync(join(small, 'sub/inner/file'), 'x');
      writeFileSync(join(small, 'xx'), 'two letters\n');
      writeFileSync(join(small, 'big.txt'), 'small, for now\n');
      xorriso(['-R', '-o', join(work, 'small.iso'), small]);
      img = readFileSync(join(work, 'small.iso'));
    });
    const patched = (f: (b: Buffer) => void) => {
      const b = Buffer.from(img);
      f(b);
      return guarded(b);
    };
    const listAll = async (src: Source) => {
      const iso = await IsoImage.open(src);
      const all: string[] = [];
      for await (const e of iso.walk()) all.push(e.path);
      return all;
    };

    it('reads the untouched image', async () => {
      expect((await listAll(guarded(img))).sort()).toEqual(['big.txt', 'sub', 'sub/inner', 'sub/inner/file', 'xx']);
    });

    it('an image cut short (a directory past its end)', async () => {
      const sub = img.readUInt32LE(recordAt(img, rootBlock(img), 'SUB') + 2);
      const src = guarded(img.subarray(0, sub * SECTOR + 100));
      await expect(listAll(src)).rejects.toThrow(/past the end of the image .*refused, nothing read outside it/);
    });

    it('a record whose name runs past its end', async () => {
      const src = patched((b) => (b[recordAt(b, rootBlock(b), 'XX.;1') + 32] = 250));
      await expect(listAll(src)).rejects.toThrow(/the root directory has a corrupt record at byte \d+ \(length \d+\)/);
    });

    it('a Rock Ridge name ".."', async () => {
      const src = patched((b) => {
        const rec = recordAt(b, rootBlock(b), 'XX.;1');
        const nm = b.indexOf(Buffer.from('NM\x07\x01\x00xx', 'latin1'), rec);
        b.write('..', nm + 5, 'latin1');
      });
      await expect(listAll(src)).rejects.toThrow(/holds an entry named "\.\.": a name that could step outside its directory; refused/);
    });

    it('a 2 GiB file entry in a small image', async () => {
      const src = patched((b) => {
        const rec = recordAt(b, rootBlock(b), 'BIG.TXT;1');
        b.writeUInt32LE(2 ** 31, rec + 10);
        b.writeUInt32BE(2 ** 31, rec + 14);
      });
      await expect(listAll(src)).rejects.toThrow(/big\.txt claims 2147483648 bytes at byte \d+, past the end of the image/);
    });

    it('a directory whose record, or whose Rock Ridge child link (CL), leads back to its ancestor', async () => {
      const iso9660Cycle = patched((b) => {
        const inner = recordAt(b, b.readUInt32LE(recordAt(b, rootBlock(b), 'SUB') + 2), 'INNER');
        b.writeUInt32LE(rootBlock(b), inner + 2);
      });
      await expect(listAll(iso9660Cycle)).rejects.toThrow(/sub\/inner leads back to its own ancestor \(a cycle in the image's directory links\): refused/);
      const rockRidgeCycle = patched((b) => {
        const sub = recordAt(b, rootBlock(b), 'SUB');
        const tf = b.indexOf(Buffer.from('TF', 'latin1'), sub + 33);
        expect(tf - sub).toBeLessThan(b[sub]!);
        b.write('CL', tf, 'latin1');
        b.writeUInt32LE(rootBlock(b), tf + 4);
      });
      await expect(listAll(rockRidgeCycle)).rejects.toThrow(/^sub leads back to its own ancestor/);
    });

    it('random damage to the directories never reads outside the image and never hangs', async () => {
      const r = prng(42);
      const dirs = [rootBlock(img) * SECTOR];
      for (let i = 0; i < 300; i++) {
        const b = Buffer.from(img);
        for (let k = 0; k < 8; k++) b[dirs[0]! + r.int(SECTOR)] = r.int(256);
        await listAll(guarded(b)).catch((err: Error) => expect(err.name, err.stack).toBe('IsoError'));
      }
    });
  });

  it('is not an ISO: said so', async () => {
    await expect(IsoImage.open(bufferSource(Buffer.alloc(100)))).rejects.toThrow(/not an ISO 9660 image: 100 bytes/);
    await expect(IsoImage.open(bufferSource(Buffer.alloc(40 * SECTOR)))).rejects.toThrow(/no volume descriptor \(CD001\) at sector 16/);
  });
});
