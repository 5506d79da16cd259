// anemos serve's use cases: open the registry on the database the flags name (embedded in
// --data, or PostgreSQL with --database), serve it, make tokens.

import type {AddressInfo} from 'node:net';
import {homedir} from 'node:os';
import {join} from 'node:path';
import {openEmbedded, openPostgres} from '../../adapters/db.js';
import {usageError} from '../../shared/errors.js';
import type {Role} from '../../core/registry/lifecycle.js';
import {Registry} from './registry.js';
import {createRegistryServer} from './server.js';

export interface RegistryDbOptions {
  data?: string;
  database?: string;
}

/** Root keeps its registry under /var/lib; anyone else under their home. */
export const defaultDataDir = (uid = process.getuid?.() ?? 0, home = homedir()) => (uid === 0 ? '/var/lib/anemos/registry' : join(home, '.local', 'share', 'anemos', 'registry'));

export async function openRegistry(o: RegistryDbOptions): Promise<Registry> {
  if (o.database && !/^postgres(ql)?:\/\//.test(o.database)) throw usageError('registry-database-url', `--database ${o.database} is not a PostgreSQL URL.`, 'Pass postgres://USER:PASSWORD@HOST:PORT/DB, or leave --database out for the embedded database in --data.');
  const db = o.database ? await openPostgres(o.database) : await openEmbedded(o.data ?? defaultDataDir());
  return Registry.open(db);
}

export function parseListen(listen: string): {host: string; port: number} {
  const m = listen.match(/^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw usageError('registry-listen', `--listen ${listen} is not ADDRESS:PORT.`, 'For example 127.0.0.1:8080, 0.0.0.0:8080 or [::]:8080.');
  return {host: m[1] ?? m[2]!, port};
}

export interface RunningRegistry {
  url: string;
  where: string;
  kind: 'embedded' | 'postgres';
  close(): Promise<void>;
}

export async function serveRegistry(o: RegistryDbOptions & {listen: string; version: string; log?: (line: string) => void}): Promise<RunningRegistry> {
  const {host, port} = parseListen(o.listen);
  const registry = await openRegistry(o);
  const server = createRegistryServer(registry, {version: o.version, log: o.log});
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? usageError('registry-listen', `${o.listen} is in use by another process.`, 'Stop it, or pass another --listen.') : err),
    );
    server.listen(port, host, resolve);
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    where: registry.db.where,
    kind: registry.db.kind,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await registry.db.close();
    },
  };
}

export async function createRegistryToken(o: RegistryDbOptions & {role: Role; note?: string}): Promise<{id: string; token: string; role: Role}> {
  const registry = await openRegistry(o);
  try {
    return await registry.createToken(o.role, o.note);
  } finally {
    await registry.db.close();
  }
}
