// anemos serve's use cases: open the registry on the database the flags name (embedded in
// --data, or PostgreSQL with --database), serve it (over TLS when asked), and the tokens
// an operator manages on the machine itself (anemos serve token create|list|revoke).

import type {AddressInfo} from 'node:net';
import {homedir, hostname, userInfo} from 'node:os';
import {join} from 'node:path';
import {openEmbedded, openPostgres, privateDir} from '../../adapters/db.js';
import {autoServerTls, loadServerTls, type ServerTls} from '../../adapters/tls.js';
import {configError, usageError} from '../../shared/errors.js';
import {existsSync, readFileSync} from 'node:fs';
import {parseDocument} from 'yaml';
import {settingsArgs, type FlagSpec} from '../../core/settings-file.js';
import type {Role, TokenKind} from '../../core/registry/lifecycle.js';
import {Registry, type NewToken, type Page, type TokenInfo} from './registry.js';
import {createRegistryServer, type Limits} from './server.js';
import {startBootServices, type BootServeOptions, type RunningBoot} from '../netboot/boot-serve.js';

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

/** --tls auto, or --tls-cert with --tls-key, or none. */
export type TlsChoice = {kind: 'auto'; names?: string[]} | {kind: 'files'; cert: string; key: string} | {kind: 'none'};

export function parseTlsFlags(f: {tls?: string; cert?: string; key?: string; names?: string[]}): TlsChoice {
  if (f.tls !== undefined && f.tls !== 'auto') throw usageError('registry-tls', `--tls ${f.tls}: the one value is "auto".`, 'Pass --tls auto (a self-signed certificate in the data directory), or --tls-cert FILE --tls-key FILE.');
  if (f.tls && (f.cert || f.key)) throw usageError('registry-tls', '--tls auto and --tls-cert/--tls-key are two ways of giving a certificate: pass one.', 'Drop --tls auto to use your certificate, or drop --tls-cert and --tls-key.');
  if (Boolean(f.cert) !== Boolean(f.key)) throw usageError('registry-tls', `--tls-${f.cert ? 'cert' : 'key'} needs --tls-${f.cert ? 'key' : 'cert'} too.`, 'Pass the certificate and its private key, both PEM.');
  if (f.tls) return {kind: 'auto', names: f.names ?? []};
  return f.cert ? {kind: 'files', cert: f.cert, key: f.key!} : {kind: 'none'};
}

export interface RunningRegistry {
  url: string;
  where: string;
  kind: 'embedded' | 'postgres';
  tls?: ServerTls;
  /** The boot services (--boot). */
  boot?: RunningBoot;
  close(): Promise<void>;
}

export async function serveRegistry(o: RegistryDbOptions & {listen: string; version: string; tls?: TlsChoice; limits?: Partial<Limits>; log?: (line: string) => void; boot?: Omit<BootServeOptions, 'cacheDir'> & {cacheDir?: string}}): Promise<RunningRegistry> {
  const {host, port} = parseListen(o.listen);
  const tlsChoice = o.tls ?? {kind: 'none'};
  // Before the database opens: a wrong certificate stops the start without touching the data.
  const tls = tlsChoice.kind === 'files' ? loadServerTls(tlsChoice.cert, tlsChoice.key) : tlsChoice.kind === 'auto' ? autoServerTls(privateDir(o.data ?? defaultDataDir()), tlsChoice.names) : undefined;
  const registry = await openRegistry(o);
  let boot: RunningBoot | undefined;
  const server = createRegistryServer(registry, {version: o.version, log: o.log, limits: o.limits, ...(o.boot ? {discover: o.boot.discover, ...(o.boot.idle ? {idle: o.boot.idle} : {}), wake: (macs: string[]) => boot!.wake(macs), installer: (mac: string) => boot!.service.explainInstaller(mac), media: () => boot!.service.mediaList()} : {}), ...(tls ? {tls: {key: tls.key, cert: tls.cert}} : {})});
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? usageError('registry-listen', `${o.listen} is in use by another process.`, 'Stop it, or pass another --listen.') : err));
      server.listen(port, host, resolve);
    });
  } catch (err) {
    await registry.db.close();
    throw err;
  }
  if (o.boot) {
    try {
      // The server's own cache of what machines boot: in the data directory unless named.
      const cacheDir = o.boot.cacheDir ?? join(privateDir(o.data ?? defaultDataDir()), 'boot-cache');
      boot = await startBootServices(registry, {...o.boot, cacheDir, version: o.version, limits: o.limits, log: o.log ?? (() => undefined)});
    } catch (err) {
      server.close();
      await registry.db.close();
      throw err;
    }
  }
  const addr = server.address() as AddressInfo;
  return {
    ...(boot ? {boot} : {}),
    url: `${tls ? 'https' : 'http'}://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    where: registry.db.where,
    kind: registry.db.kind,
    ...(tls ? {tls} : {}),
    async close() {
      await boot?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      await registry.db.close();
    },
  };
}

/** Who does it, for the audit log, when it is done on the registry's machine itself. */
const localActor = () => `${userInfo().username}@${hostname()} (anemos serve token)`;

async function withRegistry<T>(o: RegistryDbOptions, fn: (r: Registry) => Promise<T>): Promise<T> {
  const registry = await openRegistry(o);
  try {
    return await fn(registry);
  } finally {
    await registry.db.close();
  }
}

export const createRegistryToken = (o: RegistryDbOptions & {role: Role; note?: string; expiresAt?: Date; uses?: number}): Promise<NewToken> =>
  withRegistry(o, (r) => r.createToken({role: o.role, note: o.note, expiresAt: o.expiresAt, uses: o.uses}, localActor()));

export const listRegistryTokens = (o: RegistryDbOptions & {kind?: TokenKind; live?: boolean}): Promise<Page<TokenInfo>> => withRegistry(o, (r) => r.listTokens({kind: o.kind, live: o.live}, {limit: 500}));

export const revokeRegistryToken = (o: RegistryDbOptions & {id: string}): Promise<TokenInfo> => withRegistry(o, (r) => r.revokeToken(o.id, localActor()));

/** Where anemos serve's settings file is, when there is one to read: --settings, ANEMOS_SERVE_SETTINGS, or /etc/anemos/serve.yaml if it exists. */
export function settingsFile(argv: string[], env: Record<string, string | undefined>): string | undefined {
  const i = argv.findIndex((a) => a === '--settings' || a.startsWith('--settings='));
  if (i >= 0) return argv[i]!.includes('=') ? argv[i]!.slice('--settings='.length) : argv[i + 1];
  if (env.ANEMOS_SERVE_SETTINGS) return env.ANEMOS_SERVE_SETTINGS;
  return existsSync(DEFAULT_SETTINGS) ? DEFAULT_SETTINGS : undefined;
}

export const DEFAULT_SETTINGS = '/etc/anemos/serve.yaml';

/** The flags a settings file adds (flag > environment > file), or every problem of the file. */
export function serveSettings(path: string, flags: Record<string, FlagSpec>, argv: string[], env: Record<string, string | undefined>): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw configError('serve-settings-missing', `Cannot read the settings file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, 'Name a YAML file of anemos serve\'s long flags (listen: 0.0.0.0:8443), or leave --settings out.');
  }
  const doc = parseDocument(text, {prettyErrors: true, uniqueKeys: true});
  if (doc.errors.length) throw configError('serve-settings-yaml', `${path} is not valid YAML.`, 'Fix the YAML syntax at the line shown.', doc.errors.map((e) => e.message.trimEnd()));
  const {args, problems} = settingsArgs(doc.toJS(), flags, argv, env);
  if (problems.length) throw configError('serve-settings-invalid', `${path} has ${problems.length} problem${problems.length > 1 ? 's' : ''}: anemos serve did not start.`, 'Each key is one of anemos serve\'s long flags, with the value that flag takes (anemos serve --help).', problems.map((p) => `${p.key}: ${p.message}`));
  return args;
}
