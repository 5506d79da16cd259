// The one place artifacts are downloaded. Content-addressed cache (cache/sha256/HEX),
// resume of partial downloads with HTTP Range, retries for transient failures, and a
// sha256 check before a file is ever handed out. Node's built-in fetch: no proxy agent
// has been needed, so no node-fetch.

import {createHash} from 'node:crypto';
import {createReadStream, createWriteStream} from 'node:fs';
import {chmod, mkdir, rename, rm, stat, statfs} from 'node:fs/promises';
import {dirname, join, resolve} from 'node:path';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {fileURLToPath} from 'node:url';
import {AnemosError, fetchError, noRoom, writeFailure} from '../shared/errors.js';

export interface ArtifactSpec {
  /** What the artifact is, for messages: "kernel", "payload". */
  name: string;
  url: string;
  sha256?: string;
}

export interface FetchProgress {
  name: string;
  received: number;
  total?: number;
  /** Set once, after the sha256 was checked (or not, with --allow-unverified). */
  done?: boolean;
  /** With done: the file matched its sha256; false: it had none to check against. */
  verified?: boolean;
}

export interface FetchOptions {
  cacheDir: string;
  allowUnverified?: boolean;
  retries?: number;
  retryDelayMs?: number;
  onProgress?: (p: FetchProgress) => void;
  /** Resolve relative paths against this directory (the caller's cwd). */
  baseDir?: string;
}

export interface FetchedArtifact {
  name: string;
  url: string;
  path: string;
  sha256: string;
  size: number;
  verified: boolean;
  fromCache: boolean;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function isRemote(url: string): boolean {
  return /^https?:\/\//.test(url);
}

export function localPath(url: string, baseDir: string): string {
  return url.startsWith('file://') ? fileURLToPath(url) : resolve(baseDir, url);
}

class Transient extends Error {}

async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

async function download(spec: ArtifactSpec, part: string, opts: FetchOptions): Promise<void> {
  const have = (await fileSize(part)) ?? 0;
  // Read before the request: once the body arrives it must be consumed without a pause.
  const free = await freeBytes(dirname(part));
  let res: Response;
  try {
    res = await fetch(spec.url, {headers: have ? {Range: `bytes=${have}-`} : {}, redirect: 'follow'});
  } catch (err) {
    const cause = (err as {cause?: {code?: string; message?: string}}).cause;
    throw new Transient(`cannot connect to ${new URL(spec.url).host}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  }
  if (res.status === 416 && have) {
    // Our partial file is already complete (or longer than the file): start over cleanly.
    await rm(part, {force: true});
    throw new Transient('server refused to resume; starting over');
  }
  if (res.status >= 500 || res.status === 429) throw new Transient(`server answered ${res.status} ${res.statusText}`);
  if (res.status !== 200 && res.status !== 206) {
    throw fetchError('fetch-http', `Downloading the ${spec.name} failed: ${spec.url} answered ${res.status} ${res.statusText}.`, res.status === 404 ? 'Check the URL in anemos.conf; the file is not on the server.' : 'Check the URL and that the server lets this host download it.');
  }
  const append = res.status === 206;
  const offset = append ? have : 0;
  const len = res.headers.get('content-length');
  const total = len ? offset + Number(len) : undefined;
  // A download the cache's file system cannot hold is refused before a byte is written.
  const room = total === undefined ? undefined : noRoom(dirname(part), total - offset, append ? free : free + have, `the ${spec.name} (${spec.url})`);
  if (room) {
    await res.body?.cancel();
    throw room;
  }
  let received = offset;
  let lastReport = 0;
  opts.onProgress?.({name: spec.name, received, total});
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    received += chunk.byteLength;
    const now = performance.now();
    if (now - lastReport > 200) {
      lastReport = now;
      opts.onProgress?.({name: spec.name, received, total});
    }
  });
  try {
    await pipeline(body, createWriteStream(part, {flags: append ? 'a' : 'w', mode: 0o600}));
  } catch (err) {
    // A full disk is not a network problem: retrying would only fill it again.
    throw writeFailure(err, part, `the ${spec.name}`) ?? new Transient(`connection lost after ${received} bytes: ${(err as Error).message}`);
  }
  if (total !== undefined && received !== total) throw new Transient(`download truncated: got ${received} of ${total} bytes`);
  opts.onProgress?.({name: spec.name, received, total: total ?? received});
}

async function copyLocal(spec: ArtifactSpec, source: string, part: string, opts: FetchOptions): Promise<void> {
  const size = await fileSize(source);
  if (size === undefined) {
    throw fetchError('fetch-missing-file', `The ${spec.name} file ${source} does not exist.`, 'Check the path in anemos.conf (paths are read on this host).');
  }
  const room = noRoom(dirname(part), size, await freeBytes(dirname(part)), `the ${spec.name} (${source})`);
  if (room) throw room;
  await pipeline(createReadStream(source), createWriteStream(part, {mode: 0o600})).catch((err: unknown) => {
    throw writeFailure(err, part, `the ${spec.name}`) ?? err;
  });
}

/**
 * The cache may hold payloads with secrets/ in them: its directories are root's alone
 * (0700) and its files 0600, and a cache made before that rule is tightened on use.
 */
async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, {recursive: true, mode: 0o700});
  await chmod(dir, 0o700);
}

/**
 * Get an artifact into the cache and return its verified path. Nothing outside
 * the cache directory is written; a mismatching file is deleted.
 */
export async function fetchArtifact(spec: ArtifactSpec, opts: FetchOptions): Promise<FetchedArtifact> {
  const expected = spec.sha256?.toLowerCase();
  if (!expected && !opts.allowUnverified) {
    throw fetchError('fetch-no-sha256', `The ${spec.name} has no sha256 in the configuration.`, `Add ${spec.name}.sha256 (sha256sum FILE), or pass --allow-unverified to download it without a check.`);
  }
  const store = join(opts.cacheDir, 'sha256');
  const partials = join(opts.cacheDir, 'partial');
  for (const d of [opts.cacheDir, store, partials]) await privateDir(d);

  if (expected) {
    const cached = join(store, expected);
    if ((await fileSize(cached)) !== undefined) {
      const actual = await sha256File(cached);
      if (actual === expected) {
        await chmod(cached, 0o600);
        const size = (await stat(cached)).size;
        opts.onProgress?.({name: spec.name, received: size, total: size, done: true, verified: true});
        return {name: spec.name, url: spec.url, path: cached, sha256: actual, size, verified: true, fromCache: true};
      }
      await rm(cached, {force: true}); // a damaged cache entry is fetched again
    }
  }

  const partName = expected ?? createHash('sha256').update(spec.url).digest('hex');
  const part = join(partials, `${partName}.part`);
  const retries = opts.retries ?? 3;
  if (isRemote(spec.url)) {
    for (let attempt = 1; ; attempt++) {
      try {
        await download(spec, part, opts);
        break;
      } catch (err) {
        if (!(err instanceof Transient)) throw err;
        if (attempt > retries) {
          throw fetchError('fetch-failed', `Downloading the ${spec.name} from ${spec.url} failed after ${attempt} attempts: ${err.message}.`, 'Check that the host can reach the server; rerun to resume the partial download.');
        }
        await new Promise((r) => setTimeout(r, (opts.retryDelayMs ?? 1000) * attempt));
      }
    }
  } else if (/^[a-z]+:\/\//.test(spec.url) && !spec.url.startsWith('file://')) {
    throw fetchError('fetch-scheme', `The ${spec.name} URL ${spec.url} uses a scheme anemos cannot fetch.`, 'Use http://, https://, file:// or a local path.');
  } else {
    await copyLocal(spec, localPath(spec.url, opts.baseDir ?? '/'), part, opts);
  }

  const actual = await sha256File(part);
  if (expected && actual !== expected) {
    await rm(part, {force: true});
    throw new AnemosError('fetch', 'fetch-sha256-mismatch', `The ${spec.name} from ${spec.url} does not match its sha256; the file was deleted.`, {
      hint: 'Either the file on the server changed or the sha256 in anemos.conf is wrong: check which, then fix anemos.conf.',
      details: [`expected: ${expected}`, `actual:   ${actual}`],
    });
  }
  const final = join(store, actual);
  await chmod(part, 0o600);
  await rename(part, final);
  const size = (await stat(final)).size;
  opts.onProgress?.({name: spec.name, received: size, total: size, done: true, verified: Boolean(expected)});
  return {name: spec.name, url: spec.url, path: final, sha256: actual, size, verified: Boolean(expected), fromCache: false};
}
