// A throwaway PostgreSQL server from Debian's postgresql package, for the registry's tests:
// its own cluster in a scratch directory, on a port of its own, on loopback only. As root
// (CI) it runs as the postgres user, which the package creates.

import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {chownSync, mkdtempSync, readdirSync, rmSync} from 'node:fs';
import {createServer} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

export interface TestPostgres {
  url: string;
  /** The same server through its Unix socket (what a registry on the database's own machine would use). */
  socketUrl: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as {port: number}).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error('PostgreSQL is not installed: scripts/setup.sh installs Debian\'s postgresql');
  const bin = `/usr/lib/postgresql/${versions[0]}/bin`;
  const asRoot = process.getuid?.() === 0;
  // The postgres user must reach it: the test run's scratch directory is root's alone.
  const dir = mkdtempSync(join(asRoot ? '/tmp' : tmpdir(), 'anemos-pg-'));
  // PostgreSQL refuses to run as root: as root, its processes run as the package's user.
  const user = asRoot ? {uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString())} : {};
  if (asRoot) chownSync(dir, user.uid!, user.gid!);
  const data = join(dir, 'data');
  execFileSync(`${bin}/initdb`, ['-D', data, '-U', 'anemos', '--auth=trust', '-E', 'UTF8', '--no-sync'], {stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...user});
  const port = await freePort();
  const server: ChildProcess = spawn(`${bin}/postgres`, ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'], {stdio: 'ignore', cwd: dir, ...user});
  const url = `postgres://anemos@127.0.0.1:${port}/postgres`;
  const t0 = Date.now();
  for (;;) {
    try {
      execFileSync(`${bin}/pg_isready`, ['-h', '127.0.0.1', '-p', String(port), '-q']);
      break;
    } catch {
      if (Date.now() - t0 > 30_000 || server.exitCode !== null) throw new Error(`PostgreSQL did not start (exit ${server.exitCode})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    url,
    socketUrl: `postgres://anemos@localhost:${port}/postgres?host=${encodeURIComponent(dir)}`,
    async stop() {
      server.kill('SIGINT');
      await new Promise((r) => (server.exitCode !== null ? r(undefined) : server.once('exit', r)));
      rmSync(dir, {recursive: true, force: true});
    },
  };
}
