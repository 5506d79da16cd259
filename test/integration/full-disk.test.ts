// A full disk is a host problem with a host fix, not a network failure to retry or a bug:
// it is named before a byte is written when the size is known, and as soon as a write
// fails otherwise. On a real 1 MiB tmpfs (mounting needs root, as CI runs).

import {execFileSync} from 'node:child_process';
import {existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {gzipSync} from 'node:zlib';
import {createHash} from 'node:crypto';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fetchArtifact} from '../../src/adapters/fetch.js';
import {composeInitramfs} from '../../src/adapters/compose.js';
import {failure} from '../helpers/failure.js';
import {startServer, type TestServer} from '../helpers/http-server.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('a full disk under the cache or the composed image', () => {
  let server: TestServer;
  let small: string;
  let work: string;
  const big = Buffer.alloc(3 << 20, 7);

  beforeAll(async () => {
    server = await startServer({'/big': {body: big}, '/big-chunked': {body: big, chunked: true}});
    work = mkdtempSync(join(tmpdir(), 'anemos-full-'));
    small = join(work, 'tmpfs');
    execFileSync('mkdir', [small]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
  });
  afterAll(async () => {
    await server?.close();
    if (small) execFileSync('umount', [small]);
  });

  it('a download larger than the free space is refused before anything is written (exit 4)', async () => {
    const cacheDir = join(small, 'known');
    const err = await failure(fetchArtifact({name: 'payload', url: `${server.url}/big`, sha256: sha(big)}, {cacheDir, retryDelayMs: 10}));
    expect(err.code).toBe('write-no-room');
    expect(err.exitCode).toBe(4);
    expect(err.message).toMatch(/^The payload \(http:\/\/127\.0\.0\.1:\d+\/big\) needs 3\.0 MiB in .*\/known\/partial, and its file system has 1\.0 MiB free\.$/);
    expect(err.hint).toMatch(/df -h .*\/known\/partial/);
    expect(readdirSync(join(cacheDir, 'partial'))).toEqual([]);
  });

  it('without a Content-Length, the failed write is reported as a full disk at once, not retried as a lost connection', async () => {
    const cacheDir = join(small, 'chunked');
    const before = server.requests.length;
    const err = await failure(fetchArtifact({name: 'payload', url: `${server.url}/big-chunked`, sha256: sha(big)}, {cacheDir, retryDelayMs: 10}));
    expect(err.code).toBe('write-enospc');
    expect(err.message).toMatch(/^Writing the payload to .*\/chunked\/partial\/[0-9a-f]{64}\.part failed: no space left on the file system \(ENOSPC\)\.$/);
    expect(server.requests.length - before).toBe(1);
    rmSync(cacheDir, {recursive: true, force: true});
  });

  it('compose refuses a base the output file system cannot hold, and removes a half-written image', async () => {
    const bigBase = join(work, 'big.cpio.gz');
    writeFileSync(bigBase, Buffer.concat([gzipSync(Buffer.from('070701')), big]));
    const tooBig = await failure(composeInitramfs(bigBase, [], join(small, 'a.img')));
    expect(tooBig.code).toBe('write-no-room');
    expect(tooBig.hint).toMatch(/write it to another file system/);
    expect(existsSync(join(small, 'a.img'))).toBe(false);

    const smallBase = join(work, 'small.cpio.gz');
    writeFileSync(smallBase, gzipSync(Buffer.from('070701')));
    const segments = [{name: 'payload', compression: 'none' as const, entries: [{type: 'file' as const, path: 'payload.tar.gz', mode: 0o644, data: big}]}];
    const err = await failure(composeInitramfs(smallBase, segments, join(small, 'b.img')));
    expect(err.code).toBe('write-enospc');
    expect(err.message).toMatch(/^Writing the composed initramfs to .*\/b\.img failed: no space left on the file system \(ENOSPC\)\.$/);
    expect(existsSync(join(small, 'b.img'))).toBe(false);
  });
});
