// The two databases behind the registry's Db: PGlite in a data directory (embedded, the
// default: nothing to install or start) and a PostgreSQL server through pg. Only this file
// knows either library.

import {chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import type {Db} from '../core/registry/db.js';
import {AnemosError, preconditionError} from '../shared/errors.js';

/**
 * The registry's data directory, its owner's alone: 0700, and everything in it 0700 (a
 * directory) or 0600 (a file), tightened when an older run left it open. It holds desired
 * deployments, token hashes and (with --tls auto) the TLS key.
 */
export function privateDir(dataDir: string): string {
  try {
    mkdirSync(dataDir, {recursive: true, mode: 0o700});
    tighten(dataDir);
  } catch (err) {
    throw preconditionError('registry-data', `Cannot create the registry's data directory ${dataDir} (or make it private): ${(err as Error).message}.`, 'Pass --data with a directory this user can write.');
  }
  return dataDir;
}

function tighten(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return; // never followed: the mode of what it points at is not ours to change
  if (st.isDirectory()) {
    if ((st.mode & 0o777) !== 0o700) chmodSync(path, 0o700);
    for (const name of readdirSync(path)) tighten(join(path, name));
  } else if ((st.mode & 0o077) !== 0) chmodSync(path, st.mode & 0o700);
}

/**
 * The one-file CLI copied on its own (an older README said /usr/local/bin/anemos) has no
 * embedded database beside it: the require of pglite.cjs, or PGlite's ENOENT on its
 * pglite.data, as an error that says what to do.
 */
export function missingDatabaseFile(err: unknown): AnemosError | undefined {
  const message = (err as Error)?.message ?? '';
  const file = /ENOENT[^']*'([^']*\/((?:pglite|initdb)\.(?:data|wasm)))'/.exec(message);
  // "Cannot find module './pglite.cjs'" names the file that required it first in its stack.
  const module = /Cannot find module '\.\/pglite\.cjs'[\s\S]*?\n- (\/[^\n]+)/.exec(message);
  if (!file && !module) return undefined;
  const name = file ? file[2]! : 'pglite.cjs';
  const dir = file ? file[1]!.slice(0, -name.length - 1) || '/' : dirname(module![1]!);
  return preconditionError(
    'registry-files-missing',
    `The embedded database needs ${name} beside the anemos file, in ${dir}, and it is not there.`,
    `Install anemos with npm (npm install -g anemos-VERSION.tgz), or copy pglite.cjs, pglite.wasm, pglite.data and initdb.wasm from the release's dist/ into ${dir}; or run the registry on PostgreSQL (--database postgres://...), which needs none of them.`,
  );
}

/** The embedded database in DIR/pgdata; one process at a time owns it. */
export async function openEmbedded(dataDir: string): Promise<Db> {
  // Its CommonJS build: it finds pglite.wasm and pglite.data beside the file its code is
  // in (__filename): in the one-file CLI, dist/pglite.cjs beside dist/anemos.cjs
  // (scripts/build.mjs puts it there, and turns this require into one of ./pglite.cjs).
  let PGlite: typeof import('@electric-sql/pglite').PGlite;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ({PGlite} = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite'));
  } catch (err) {
    throw missingDatabaseFile(err) ?? err;
  }
  privateDir(dataDir);
  const dir = join(dataDir, 'pgdata');
  mkdirSync(dir, {recursive: true, mode: 0o700});
  const release = lockDataDir(dataDir);
  // PGlite creates its files (WAL segments, catalogs) 0666 as it runs, and some after its
  // close has returned (the relation caches): the process's umask keeps them the owner's,
  // from now until the process ends (a process that holds a registry writes nothing else).
  process.umask(0o077);
  let pg: InstanceType<typeof PGlite>;
  try {
    pg = await PGlite.create(dir);
  } catch (err) {
    release();
    throw missingDatabaseFile(err) ?? err;
  }
  return {
    kind: 'embedded',
    where: dir,
    query: async (sql, params) => (await pg.query(sql, params as unknown[])).rows as never[],
    transaction: (fn) => pg.transaction((tx) => fn({query: async (sql, params) => (await tx.query(sql, params as unknown[])).rows as never[]})),
    close: async () => {
      await pg.close();
      tighten(dataDir);
      release();
    },
  };
}

/**
 * The embedded database is one process's at a time (two would each cache and write the
 * same files): a lock file with the owner's PID. One left by a process that is gone (it
 * was killed) is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lock = join(dataDir, 'anemos-registry.lock');
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, {flag: 'wx', mode: 0o600});
      return () => rmSync(lock, {force: true});
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
    }
    const pid = Number(readFileSync(lock, 'utf8').trim());
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = pid > 0;
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
    }
    if (alive) {
      throw preconditionError(
        'registry-data-in-use',
        `The registry's data directory ${dataDir} is in use by process ${pid} (an anemos serve, or a token being made).`,
        'Stop that process, or pass another --data. With anemos serve running, make tokens through its API: POST /api/v1/tokens with an admin token.',
      );
    }
    rmSync(lock, {force: true}); // its owner is gone
  }
}

/** A PostgreSQL server (postgres://user:pass@host:port/db, or a socket directory as host). */
export async function openPostgres(url: string): Promise<Db> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const {Pool} = require('pg') as typeof import('pg');
  const where = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  const pool = new Pool({connectionString: url, max: Number(process.env.ANEMOS_DB_POOL ?? 10), connectionTimeoutMillis: 5000});
  // An idle client's error (the server restarted) must not end the process: the next query reconnects.
  pool.on('error', () => undefined);
  try {
    (await pool.connect()).release();
  } catch (err) {
    await pool.end().catch(() => undefined); // already failing: the connect error is the one to report
    throw preconditionError('registry-database', `Cannot reach the registry's database ${where}: ${(err as Error).message}.`, 'Check --database (postgres://USER:PASSWORD@HOST:PORT/DB), that the server runs and accepts this user; or leave --database out for the embedded database in --data.');
  }
  return {
    kind: 'postgres',
    where,
    query: async (sql, params, prepared) => (await pool.query(prepared ? {name: prepared, text: sql, values: params as unknown[]} : {text: sql, values: params as unknown[]})).rows,
    async transaction(fn) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await fn({query: async (sql, params, prepared) => (await client.query(prepared ? {name: prepared, text: sql, values: params as unknown[]} : {text: sql, values: params as unknown[]})).rows});
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined); // the transaction's own error is the one to report
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}
