// Artifacts onto a host reached over SSH, and the final initramfs composed there.
// By default the host downloads the kernel and the base itself (curl or wget, both in
// stock Debian and Ubuntu cloud images) and checks each sha256 with sha256sum before
// the file enters its cache: the big files travel over the datacenter's link. With
// --upload (or for a file that is on this workstation, or a host without curl/wget) they
// are fetched and verified here and sent over SSH, then verified again on the host.
// The composed image is the host's base followed by a tail built here (config, keys,
// payload, firmware): `cat base tail > image` on the host, the base never unpacked.

import {createReadStream} from 'node:fs';
import {mkdtemp, rm, stat} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import type {SegmentSpec} from '../core/segments.js';
import {AnemosError, fetchError, noRoom} from '../shared/errors.js';
import type {ProgressSink} from '../shared/progress.js';
import {composeTail, type ComposeResult} from './compose.js';
import {fetchArtifact, isRemote, sha256File, type ArtifactSpec, type FetchedArtifact, type FetchOptions} from './fetch.js';
import {pipeCommand} from './process.js';
import {SSH_MISSING, type SshHost} from './ssh-host.js';

/**
 * On the host: reuse a verified cache entry, else download with curl or wget (printing the
 * size every second), check the sha256, and only then move it into the cache.
 * Exit 3: no downloader; 4: download failed; 5: sha256 mismatch.
 */
export const DOWNLOAD_SCRIPT = `set -u
store=$1 sha=$2 url=$3
umask 077
mkdir -p "$store" && chmod 0700 "$store" "$(dirname "$store")" || exit 6
f="$store/$sha"
if [ -f "$f" ] && [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$sha" ]; then echo "cached $(stat -c %s "$f")"; exit 0; fi
part="$f.part"
rm -f "$part"
if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$part" "$url" &
elif command -v wget >/dev/null 2>&1; then wget -q -t 3 -O "$part" "$url" &
else echo "no-downloader"; exit 3; fi
pid=$!
while kill -0 "$pid" 2>/dev/null; do echo "progress $(stat -c %s "$part" 2>/dev/null || echo 0)"; sleep 1; done
if ! wait "$pid"; then rm -f "$part"; echo "download-failed"; exit 4; fi
got=$(sha256sum < "$part" | cut -d' ' -f1)
if [ "$got" != "$sha" ]; then rm -f "$part"; echo "mismatch $got"; exit 5; fi
mv "$part" "$f" && echo "done $(stat -c %s "$f")"
`;

export interface RemoteFetchOptions {
  /** Send every artifact from here instead of letting the host download it. */
  upload: boolean;
  /** This workstation's cache, for what is fetched here. */
  localCacheDir: string;
  /** Where relative paths in the config are resolved: the config's directory here. */
  baseDir: string;
  /** Said when the host cannot download and the artifact is sent instead. */
  warn: (line: string) => void;
}

/** fetch for DeployDeps: the artifact ends up verified in the host's cache (opts.cacheDir/sha256/HEX). */
export function remoteFetch(host: SshHost, o: RemoteFetchOptions): (spec: ArtifactSpec, opts: FetchOptions) => Promise<FetchedArtifact> {
  let noDownloader = false;
  return async (spec, opts) => {
    const store = join(opts.cacheDir, 'sha256');
    if (!o.upload && !noDownloader && isRemote(spec.url) && spec.sha256) {
      const got = await downloadOnHost(host, spec, store, opts);
      if (got) return got;
      noDownloader = true;
      o.warn(`${host.name} has neither curl nor wget: the artifacts are downloaded here and sent over SSH.`);
    }
    const here = await fetchArtifact(spec, {...opts, cacheDir: o.localCacheDir, baseDir: o.baseDir});
    const path = join(store, here.sha256);
    await upload(host, here.path, path, here.sha256, here.size, (sent) => opts.onProgress?.({name: `${spec.name} → ${host.destination.host}`, received: sent, total: here.size}));
    opts.onProgress?.({name: spec.name, received: here.size, total: here.size, done: true, verified: here.verified});
    return {...here, path, fromCache: false};
  };
}

async function downloadOnHost(host: SshHost, spec: ArtifactSpec, store: string, opts: FetchOptions): Promise<FetchedArtifact | undefined> {
  const sha = spec.sha256!.toLowerCase();
  const lines: string[] = [];
  const r = await host.runner.stream('sh', ['-c', DOWNLOAD_SCRIPT, 'anemos-fetch', store, sha, spec.url], {
    timeoutSeconds: 3600,
    onLine: (line) => {
      lines.push(line);
      const m = /^progress (\d+)$/.exec(line);
      if (m) opts.onProgress?.({name: spec.name, received: Number(m[1])});
    },
  });
  const last = lines.filter((l) => !l.startsWith('progress ')).at(-1) ?? '';
  if (r.exitCode === 3) return undefined;
  if (r.exitCode === 5) {
    throw new AnemosError('fetch', 'fetch-sha256-mismatch', `The ${spec.name} that ${host.name} downloaded from ${spec.url} does not match its sha256; it was deleted there.`, {
      hint: 'Either the file on the server changed or the sha256 in the config is wrong: check which, then fix the config.',
      details: [`expected: ${sha}`, `actual:   ${last.replace(/^mismatch /, '')}`],
    });
  }
  if (r.exitCode === 4) {
    throw fetchError('fetch-failed', `${host.name} could not download the ${spec.name} from ${spec.url} (${lines.filter((l) => !/^(progress|download-failed)/.test(l)).slice(-2).join('; ') || 'curl/wget failed'}).`, 'Check that the host can reach the server, or pass --upload to send the files from here.');
  }
  const m = /^(cached|done) (\d+)$/.exec(last);
  if (r.exitCode !== 0 || !m) {
    throw new AnemosError('command', 'command-failed', `Fetching the ${spec.name} on ${host.name} failed (exit ${r.exitCode ?? r.signal}).`, {details: lines.slice(-5), hint: 'Run anemos with --debug, or try the download there by hand.'});
  }
  const size = Number(m[2]);
  opts.onProgress?.({name: spec.name, received: size, total: size, done: true, verified: true});
  return {name: spec.name, url: spec.url, path: join(store, sha), sha256: sha, size, verified: true, fromCache: m[1] === 'cached'};
}

/** Send a local file to path on the host; its sha256 is checked there before it takes the name. */
export async function upload(host: SshHost, local: string, path: string, sha256: string, size: number, onProgress?: (sent: number) => void): Promise<void> {
  const have = await host.runner.run('sh', ['-c', '[ -f "$1" ] && sha256sum < "$1" | cut -d" " -f1', 'sh', path], {allowFail: true});
  if (have.stdout.trim() === sha256) return;
  const script = 'umask 077; mkdir -p "$(dirname "$1")" && cat > "$1.part" && [ "$(sha256sum < "$1.part" | cut -d" " -f1)" = "$2" ] && mv "$1.part" "$1" || { rm -f "$1.part"; exit 9; }';
  let sent = 0;
  let last = 0;
  async function* counted(): AsyncIterable<Uint8Array> {
    for await (const chunk of createReadStream(local) as AsyncIterable<Buffer>) {
      sent += chunk.byteLength;
      if (sent - last > 4 << 20 || sent === size) {
        last = sent;
        onProgress?.(sent);
      }
      yield chunk;
    }
  }
  const end = await pipeCommand('ssh', host.command('sh', ['-c', script, 'sh', path, sha256]), {input: counted(), stdout: 'ignore', missingHint: SSH_MISSING}).done;
  const code = end.exitCode;
  const stderr = end.stderr;
  if (code !== 0) {
    throw new AnemosError('command', 'upload-failed', `Sending ${local} to ${host.name}:${path} failed (exit ${code}${code === 9 ? ': the sha256 did not match after the transfer, or the disk is full' : ''}).`, {
      hint: `Check the free space in ${dirname(path)} there (df -h), then rerun.`,
      details: stderr.trim().split('\n').filter(Boolean).slice(-3),
    });
  }
}

/** compose for DeployDeps: the tail is made here and sent; the host concatenates. */
export function remoteCompose(host: SshHost) {
  return async (base: FetchedArtifact, segments: SegmentSpec[], output: string, opts: {progress: ProgressSink; elsewhere: string}): Promise<ComposeResult> => {
    const dir = await mkdtemp(join(tmpdir(), 'anemos-tail-'));
    try {
      const tail = await composeTail(base.size, segments, join(dir, 'tail'), {progress: opts.progress});
      const tailBytes = (await stat(tail.output)).size;
      const free = await host.files.freeBytes(dirname(output));
      const room = free === undefined ? undefined : noRoom(dirname(output), base.size + 2 * tailBytes, free, 'the composed initramfs', opts.elsewhere);
      if (room) throw room;
      const remoteTail = `${output}.tail`;
      await upload(host, tail.output, remoteTail, await sha256File(tail.output), tailBytes);
      await host.runner.run('sh', ['-c', 'umask 077; cat "$1" "$2" > "$3.part" && rm -f "$2" && mv "$3.part" "$3" || { rm -f "$2" "$3.part"; exit 1; }', 'sh', base.path, remoteTail, output]);
      opts.progress.finish('compose', `${host.name}: base ${base.size} bytes unchanged + ${tailBytes} bytes made here`);
      return {...tail, output};
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  };
}
