import {createHash} from 'node:crypto';
import {chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {fetchArtifact, type FetchProgress} from '../../src/adapters/fetch.js';
import {failure} from '../helpers/failure.js';
import {startServer, type TestServer} from '../helpers/http-server.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const body = Buffer.from('k'.repeat(300_000) + 'end');

describe('verified fetch against a loopback HTTP server', () => {
  let server: TestServer;
  let cacheDir: string;
  const opts = () => ({cacheDir, retryDelayMs: 10});

  beforeAll(async () => {
    server = await startServer({'/vmlinuz': {body}, '/missing-resume': {body, noRange: true}});
  });
  afterAll(() => server.close());

  const fresh = () => (cacheDir = mkdtempSync(join(tmpdir(), 'anemos-cache-')));


  it('downloads, verifies and stores by sha256; the second time comes from the cache', async () => {
    fresh();
    const a = await fetchArtifact({name: 'kernel', url: `${server.url}/vmlinuz`, sha256: sha(body)}, opts());
    expect(a).toMatchObject({verified: true, fromCache: false, size: body.byteLength, sha256: sha(body)});
    expect(a.path).toBe(join(cacheDir, 'sha256', sha(body)));
    const before = server.requests.length;
    const b = await fetchArtifact({name: 'kernel', url: `${server.url}/vmlinuz`, sha256: sha(body)}, opts());
    expect(b.fromCache).toBe(true);
    expect(server.requests.length).toBe(before);
  });

  it('a sha256 mismatch deletes the file and shows both hashes (exit 5)', async () => {
    fresh();
    const wrong = 'f'.repeat(64);
    const err = await failure(fetchArtifact({name: 'kernel', url: `${server.url}/vmlinuz`, sha256: wrong}, opts()));
    expect(err.code).toBe('fetch-sha256-mismatch');
    expect(err.exitCode).toBe(5);
    expect(err.details).toEqual([`expected: ${wrong}`, `actual:   ${sha(body)}`]);
    expect(readdirSync(join(cacheDir, 'sha256'))).toEqual([]);
    expect(readdirSync(join(cacheDir, 'partial'))).toEqual([]);
  });

  it('a missing sha256 is refused unless unverified downloads are allowed', async () => {
    fresh();
    expect((await failure(fetchArtifact({name: 'payload', url: `${server.url}/vmlinuz`}, opts()))).code).toBe('fetch-no-sha256');
    const a = await fetchArtifact({name: 'payload', url: `${server.url}/vmlinuz`}, {...opts(), allowUnverified: true});
    expect(a).toMatchObject({verified: false, sha256: sha(body)});
  });

  it('404 fails at once with the URL and no retry', async () => {
    fresh();
    const before = server.requests.length;
    const err = await failure(fetchArtifact({name: 'payload', url: `${server.url}/nope`, sha256: sha(body)}, opts()));
    expect(err.message).toMatch(/answered 404/);
    expect(server.requests.length - before).toBe(1);
  });

  it('a truncated download is resumed with a Range request', async () => {
    fresh();
    server.routes.set('/cut', {body, cutAfter: 100_000});
    const before = server.requests.length;
    const a = await fetchArtifact({name: 'initramfs', url: `${server.url}/cut`, sha256: sha(body)}, opts());
    expect(readFileSync(a.path).equals(body)).toBe(true);
    const reqs = server.requests.slice(before);
    expect(reqs[0]).toEqual({path: '/cut'});
    expect(reqs[1].range).toMatch(/^bytes=\d+-$/);
    expect(Number(reqs[1].range!.slice(6, -1))).toBeGreaterThan(0);
  });

  it('a server without resume support is downloaded again from the start', async () => {
    fresh();
    const partial = join(cacheDir, 'partial');
    const {mkdirSync} = await import('node:fs');
    mkdirSync(partial, {recursive: true});
    writeFileSync(join(partial, `${sha(body)}.part`), body.subarray(0, 5000));
    const a = await fetchArtifact({name: 'kernel', url: `${server.url}/missing-resume`, sha256: sha(body)}, opts());
    expect(readFileSync(a.path).equals(body)).toBe(true);
  });

  it('5xx is retried, then reported with the attempt count', async () => {
    fresh();
    server.routes.set('/flaky', {body, status: 503});
    const err = await failure(fetchArtifact({name: 'kernel', url: `${server.url}/flaky`, sha256: sha(body)}, {...opts(), retries: 2}));
    expect(err.message).toMatch(/after 3 attempts: server answered 503/);
  });

  it('an unreachable host is reported as such', async () => {
    fresh();
    const closed = await startServer();
    const url = `${closed.url}/x`;
    await closed.close();
    const err = await failure(fetchArtifact({name: 'kernel', url, sha256: sha(body)}, {...opts(), retries: 0}));
    expect(err.message).toMatch(/cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  it('local paths and file:// URLs are copied into the cache and verified', async () => {
    fresh();
    const src = join(cacheDir, 'local.bin');
    writeFileSync(src, body);
    const a = await fetchArtifact({name: 'payload', url: `file://${src}`, sha256: sha(body)}, opts());
    expect(existsSync(a.path)).toBe(true);
    // (A cached file with the same sha256 would be used without reading the path: content addressing.)
    const err = await failure(fetchArtifact({name: 'payload', url: join(cacheDir, 'nope.bin'), sha256: sha(Buffer.from('other'))}, opts()));
    expect(err.code).toBe('fetch-missing-file');
  });
});

describe('the cache is private, and "verified" is said only after the check', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({'/payload.tar.gz': {body}});
  });
  afterAll(() => server.close());
  const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

  it('directories 0700 and files 0600; a cache made before is tightened when used', async () => {
    const cacheDir = join(mkdtempSync(join(tmpdir(), 'anemos-cache-')), 'cache');
    const a = await fetchArtifact({name: 'payload', url: `${server.url}/payload.tar.gz`, sha256: sha(body)}, {cacheDir, retryDelayMs: 10});
    expect([mode(cacheDir), mode(join(cacheDir, 'sha256')), mode(join(cacheDir, 'partial')), mode(a.path)]).toEqual(['700', '700', '700', '600']);
    // An older anemos left it world-readable.
    for (const d of [cacheDir, join(cacheDir, 'sha256'), join(cacheDir, 'partial')]) chmodSync(d, 0o755);
    chmodSync(a.path, 0o644);
    const b = await fetchArtifact({name: 'payload', url: `${server.url}/payload.tar.gz`, sha256: sha(body)}, {cacheDir, retryDelayMs: 10});
    expect(b.fromCache).toBe(true);
    expect([mode(cacheDir), mode(join(cacheDir, 'sha256')), mode(join(cacheDir, 'partial')), mode(b.path)]).toEqual(['700', '700', '700', '600']);
  });

  it('reports done only after the sha256 check, and says whether there was one', async () => {
    const events: FetchProgress[] = [];
    const cacheDir = mkdtempSync(join(tmpdir(), 'anemos-cache-'));
    const onProgress = (p: FetchProgress) => events.push(p);
    await failure(fetchArtifact({name: 'payload', url: `${server.url}/payload.tar.gz`, sha256: 'f'.repeat(64)}, {cacheDir, retryDelayMs: 10, onProgress}));
    expect(events.filter((e) => e.done)).toEqual([]);
    await fetchArtifact({name: 'payload', url: `${server.url}/payload.tar.gz`}, {cacheDir, retryDelayMs: 10, onProgress, allowUnverified: true});
    expect(events.filter((e) => e.done)).toEqual([expect.objectContaining({done: true, verified: false})]);
    await fetchArtifact({name: 'payload', url: `${server.url}/payload.tar.gz`, sha256: sha(body)}, {cacheDir, retryDelayMs: 10, onProgress});
    expect(events.filter((e) => e.done).at(-1)).toMatchObject({done: true, verified: true, received: body.byteLength});
  });
});
