// The real anemos serve (the CLI bundle, as an operator runs it) for the registry's tests:
// started on a free loopback port, its first lines read (URL, TLS fingerprint), stopped.

import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import type {Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Registry} from '../../src/services/registry/registry.js';
import {createRegistryServer} from '../../src/services/registry/server.js';
import {join} from 'node:path';
import {REPO} from './kernel.js';
import {freePort} from './postgres.js';

export const CLI = join(REPO, 'dist', 'anemos.cjs');

export interface RunningServe {
  child: ChildProcess;
  url: string;
  port: number;
  /** With --tls auto: the pin it printed. */
  fingerprint?: string;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startServe(args: string[], o: {port?: number; env?: Record<string, string>; nodeFlags?: string[]; /** argv before node's (ip netns exec NS) */ wrap?: string[]} = {}): Promise<RunningServe> {
  const port = o.port ?? (await freePort());
  const argv = [...(o.wrap ?? []), process.execPath, ...(o.nodeFlags ?? []), CLI, 'serve', '--listen', `127.0.0.1:${port}`, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...o.env}});
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`anemos serve did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (/anemos registry: .*\n/.test(out) && (!args.includes('--tls') || /fingerprint: .*\n/.test(out))) (clearTimeout(t), resolve());
    });
    child.stderr!.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => (clearTimeout(t), reject(new Error(`anemos serve exited ${code}: ${out}`))));
  });
  const fingerprint = out.match(/^fingerprint: (\S+)$/m)?.[1];
  return {
    child,
    port,
    url: out.match(/anemos registry: (\S+)/)![1]!,
    ...(fingerprint ? {fingerprint} : {}),
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode) return;
      child.kill(signal);
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** anemos serve token create on a data directory (the registry not running). */
export function makeToken(data: string, role: string, note?: string): string {
  return execFileSync(process.execPath, [CLI, 'serve', 'token', 'create', '--data', data, '--role', role, ...(note ? ['--note', note] : [])]).toString().trim();
}

/**
 * A registry served by this test process (the server code itself, on loopback, port chosen
 * by the kernel): its URL, and a close that stops it and closes its database.
 */
export async function serveInProcess(registry: Registry, o: {tls?: {key: string; cert: string}} = {}): Promise<{url: string; server: Server; close(): Promise<void>}> {
  const server = createRegistryServer(registry, {version: 'test', ...(o.tls ? {tls: o.tls} : {})});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `${o.tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    async close() {
      await new Promise((r) => server.close(r));
      await registry.db.close();
    },
  };
}
