// Build the base initramfs once per checkout state (stamped by the inputs' hashes) and
// compose deploy-environment images for VM tests with the real contract code.

import {execFile, execFileSync} from 'node:child_process';
import {promisify} from 'node:util';
import {createHash} from 'node:crypto';
import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {BootConfig} from '../../src/core/boot-contract.js';
import type {NetworkConfig} from '../../src/core/network.js';
import {qemuNetwork} from '../../src/core/qemu-target.js';
import {planSegments} from '../../src/core/segments.js';
import {composeInitramfs} from '../../src/adapters/compose.js';
import {REPO} from './kernel.js';

export const BASE_DIR = join(REPO, '.cache', 'base');

function inputsHash(): string {
  const h = createHash('sha256');
  const files = [join(REPO, 'dist', 'agent.mjs'), join(REPO, 'initramfs', 'build.sh'), ...readdirSync(join(REPO, 'initramfs', 'files')).sort().map((f) => join(REPO, 'initramfs', 'files', f))];
  for (const f of files) h.update(f).update(readFileSync(f));
  return h.digest('hex');
}

/**
 * Run a long build without blocking the event loop: vitest's worker must keep answering
 * its RPC (a minute of execFileSync ends in "Timeout calling onTaskUpdate").
 */
export async function runLong(cmd: string, args: string[]): Promise<void> {
  const child = promisify(execFile)(cmd, args, {maxBuffer: 64 * 1024 * 1024});
  child.child.stderr?.pipe(process.stderr);
  await child;
}

/** vmlinuz + initramfs.cpio.zst of the current agent and recipe. */
export async function ensureBase(): Promise<{kernel: string; initramfs: string; manifest: Record<string, any>}> {
  const stamp = join(BASE_DIR, '.inputs');
  const want = inputsHash();
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
    // Under a lock, checking the stamp again: scripts/test.sh runs two vitest processes,
    // and both may find the base missing; the second one then uses the first one's build.
    mkdirSync(BASE_DIR, {recursive: true});
    const build = `[ "$(cat "$1" 2>/dev/null)" = "$2" ] || { "$3" --out "$4" --agent "$5" && printf %s "$2" > "$1"; }`;
    await runLong('flock', [join(BASE_DIR, '..', 'base.lock'), 'sh', '-c', build, 'sh', stamp, want, join(REPO, 'initramfs', 'build.sh'), BASE_DIR, join(REPO, 'dist', 'agent.mjs')]);
  }
  return {kernel: join(BASE_DIR, 'vmlinuz'), initramfs: join(BASE_DIR, 'initramfs.cpio.zst'), manifest: JSON.parse(readFileSync(join(BASE_DIR, 'manifest.json'), 'utf8'))};
}

export const QEMU_MAC = '52:54:00:12:34:56';

/** The network QEMU's user networking gives a guest, written as a static host config. */
export const qemuStaticNetwork = (over: {gateway?: string} = {}): NetworkConfig => qemuNetwork('anemos-test', {mac: QEMU_MAC, ...over});

export function sshKeypair(dir: string, name: string): {priv: string; pub: string} {
  const priv = join(dir, name);
  // Under a lock: the two vitest processes of scripts/test.sh share the one in .cache/e2e.
  if (!existsSync(priv)) execFileSync('flock', [`${dir}/.keygen.lock`, 'sh', '-c', '[ -e "$1" ] || ssh-keygen -q -t ed25519 -N "" -C "$2" -f "$1"', 'sh', priv, name]);
  return {priv, pub: readFileSync(`${priv}.pub`, 'utf8')};
}

export interface ComposeEnvOptions {
  dir: string;
  base: string;
  config: Partial<BootConfig> & {mode: BootConfig['mode']};
  network?: NetworkConfig;
  payload?: {file: string; data: Buffer};
  /** Files for the firmware segment, by path under /lib/firmware. */
  firmware?: {path: string; data: Buffer}[];
  authorizedKeys: string[];
  hostKeys?: Record<string, Buffer>;
  name: string;
}

export async function composeEnv(o: ComposeEnvOptions): Promise<string> {
  mkdirSync(o.dir, {recursive: true});
  const config: BootConfig = {version: 1, cli_version: 'test', hostname: 'anemos-test', on_failure: 'auto', timeout: 120, network_timeout: 30, ...o.config};
  const out = join(o.dir, `${o.name}.img`);
  await composeInitramfs(o.base, planSegments({config, network: o.network ?? qemuStaticNetwork(), authorizedKeys: o.authorizedKeys, hostKeys: o.hostKeys, payload: o.payload, ...(o.firmware ? {firmware: o.firmware} : {})}), out);
  return out;
}

export function tarPayload(dir: string, files: Record<string, {content: string | Buffer; mode?: number}>): Buffer {
  const src = join(dir, 'payload-src');
  execFileSync('rm', ['-rf', src]);
  mkdirSync(src, {recursive: true});
  for (const [name, f] of Object.entries(files)) writeFileSync(join(src, name), f.content, {mode: f.mode ?? 0o644});
  return execFileSync('tar', ['-czf', '-', '-C', src, '--owner=0', '--group=0', '--sort=name', '--mtime=@0', '.']);
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * test/fixtures/fwtest/anemos_fwtest.ko for this kernel version, built with its headers
 * (scripts/setup.sh installs linux-headers-cloud-amd64, gcc and make).
 */
export function firmwareTestModule(dir: string, kernelVersion: string): Buffer {
  const headers = `/lib/modules/${kernelVersion}/build`;
  if (!existsSync(`${headers}/Makefile`)) throw new Error(`${headers} is missing: install linux-headers-${kernelVersion} (scripts/setup.sh installs linux-headers-cloud-amd64)`);
  const src = join(dir, 'fwtest');
  mkdirSync(src, {recursive: true});
  for (const f of ['anemos_fwtest.c', 'Kbuild']) writeFileSync(join(src, f), readFileSync(join(REPO, 'test', 'fixtures', 'fwtest', f)));
  execFileSync('make', ['-s', '-C', headers, `M=${src}`, 'modules'], {stdio: ['ignore', 'ignore', 'pipe']});
  return readFileSync(join(src, 'anemos_fwtest.ko'));
}
