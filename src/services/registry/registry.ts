// The registry's use cases over its Db: machines and their MACs, inventory history,
// lifecycle, deployments with their events, the desired deployment, the audit log, tokens.
// Every change is one transaction that also appends to the audit log; a refusal that
// matters (an identity that contradicts a token) is audited after its transaction rolled
// back. Nothing here knows HTTP (server.ts) or which database it talks to (adapters/db.ts).

import {createHash, randomBytes} from 'node:crypto';
import {validateDesired} from '../../core/config.js';
import type {InstallerSpec} from '../../core/netboot/installer-media.js';
import {diffInventory, formatSize, type HardwareInventory} from '../../core/inventory.js';
import {
  allowedTransition,
  machineKey,
  MACHINE_STATES,
  normalizeIdentity,
  outcomeOf,
  roleMay,
  stateAfterEvents,
  TRANSITIONS,
  type DeploymentRequest,
  type EnrollRequest,
  type MachineIdentity,
  type MachineState,
  type Report,
  type ReportEvent,
  type Role,
  type TokenKind,
} from '../../core/registry/lifecycle.js';
import {applyMergePatch} from '../../core/registry/merge-patch.js';
import {migrate, type Db} from '../../core/registry/db.js';
import {driftSummary, foldAdded, parseDrift} from '../../core/live/drift.js';
import type {BootRecord, Idle} from '../../core/netboot/boot-decision.js';

/** A refusal the API answers with its status and a stable code: bad input, unknown record, a transition not allowed. */
export class RegistryError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 503,
    readonly code: string,
    message: string,
    readonly extra: {hint?: string} & Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Who sent a request: the token's kind, what it is bound to, and how the audit log names it. */
export interface Caller {
  tokenId: string;
  kind: TokenKind;
  note: string | null;
  machineId: string | null;
  deploymentId: string | null;
  /** The audit log's name for it: the token's note first. */
  actor: string;
}

export interface TokenInfo {
  id: string;
  kind: TokenKind;
  note: string | null;
  machine: string | null;
  deployment: string | null;
  createdAt: string;
  createdBy: string | null;
  expiresAt: string | null;
  usesLeft: number | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface NewToken {
  id: string;
  token: string;
  kind: TokenKind;
  expiresAt: string | null;
}

/** A network boot request as the machine's record keeps it. */
export interface NetworkBootSighting {
  at: string;
  mac: string;
  /** pxe, ipxe or http-boot, and bios or uefi. */
  client: string;
  firmware: string;
  /** What it was given (environment register/test/deploy, local-disk, none) and the rule that decided it. */
  boot: string;
  rule: string;
}

export interface MachineSummary {
  id: string;
  uuid: string | null;
  hostname: string | null;
  state: MachineState;
  tags: string[];
  macs: string[];
  /** The NICs' addresses of the last inventory (CIDR). */
  addresses: string[];
  lastSeen: string | null;
  updatedAt: string;
  /** One line: vendor and product, CPUs, RAM (from the last inventory). */
  hardware: string | null;
  lastDeployment: {id: string; outcome: string | null; recordedAt: string} | null;
}

export interface MachineRecord extends MachineSummary {
  attributes: Record<string, unknown>;
  desired: DesiredDeployment | null;
  inventory: HardwareInventory | null;
  createdAt: string;
  /** Whether the machine holds a live credential (it enrolled). */
  enrolled: boolean;
  /** When a network boot first found it (anemos serve --boot --discover), if it did. */
  discoveredAt: string | null;
  /** The last network boot the boot service answered for it: when, who asked, and what it was given. */
  lastBoot: NetworkBootSighting | null;
  /** A live machine's last drift report: what differs from the image it booted (core/live/drift.ts). */
  drift: MachineDrift | null;
  /** The SSH host keys the registry keeps for it (its network live boots carry them): public halves, for known_hosts. */
  sshHostKeys: string[];
}

/** What a live machine reported of its drift, as the registry keeps it. */
export interface MachineDrift {
  at: string;
  /** The boot (deployment) it reported from. */
  deployment: string | null;
  summary: ReturnType<typeof driftSummary>;
  /** Added directories folded into one entry each; at most DRIFT_KEPT entries. */
  entries: ReturnType<typeof foldAdded>;
  /** How many entries were left off beyond DRIFT_KEPT. */
  left: number;
}

/** Entries of a drift report the registry keeps (the summary counts them all). */
export const DRIFT_KEPT = 500;
/** How long a live boot's drift reporting token lasts at most: its next boot revokes it sooner. */
export const DRIFT_TOKEN_DAYS = 30;
const DRIFT_NOTE = 'live drift reports';

/** What a machine should run: the same keys as anemos.conf's artifacts, plus config overrides. */
export interface DesiredDeployment {
  kernel?: {url: string; sha256: string};
  initramfs?: {url: string; sha256: string};
  payload?: {url: string; sha256: string};
  config?: Record<string, unknown>;
  installer?: InstallerSpec;
}

/** What an operator may change, as JSON Merge Patch (RFC 7396) members. */
export interface MachinePatch {
  state?: MachineState;
  tags?: string[];
  attributes?: Record<string, unknown> | null;
  desired?: DesiredDeployment | null;
  hostname?: string;
}

export interface Deployment {
  id: string;
  machine: string;
  mode: string;
  who: string | null;
  source: string | null;
  artifacts: {name: string; url?: string; sha256: string}[];
  /** The registry's clock: when the deployment was recorded, and when its outcome arrived. */
  recordedAt: string;
  outcomeAt: string | null;
  /** The machine's clock, from its events' own timestamps (a report sent late still says when it ran). */
  machineClock: {startedAt: string | null; finishedAt: string | null};
  outcome: string | null;
  /** By the machine's clock when its events carry one, else the registry's. */
  durationSeconds: number | null;
  events: number;
}

export interface Page<T> {
  items: T[];
  /** Opaque: pass it as ?cursor= for the next page; null on the last page. */
  next: string | null;
  /** Where cheap to count. */
  total?: number;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  machine: string | null;
  action: string;
  detail: unknown;
}

/** How long after its outcome a deployment's token still works (the agent's last events, the reboot). */
export const DEPLOYMENT_TOKEN_GRACE_SECONDS = 900;
const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 500;

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());
const json = (v: unknown) => JSON.stringify(v);
export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

function hardwareLine(inv: HardwareInventory | null): string | null {
  if (!inv) return null;
  const system = [inv.system.vendor, inv.system.product].filter(Boolean).join(' ') || 'unknown system';
  return `${system}, ${inv.cpu.threads} CPU, ${formatSize(inv.memory.totalBytes)}, ${inv.disks.length} disk(s)`;
}

const addressesOf = (inv: HardwareInventory | null): string[] => (inv?.nics ?? []).flatMap((n) => n.addresses ?? []);

function actorName(kind: TokenKind, id: string, note: string | null, machineId: string | null, deploymentId: string | null): string {
  if (kind === 'machine') return `machine ${machineId} (credential ${id})`;
  if (kind === 'deployment') return `deployment ${deploymentId} (token ${id})`;
  return note ? `${note} (${kind} token ${id})` : `${kind} token ${id}`;
}

/** One sort key of a keyset page: an SQL expression that is never NULL, its direction, the cast of its cursor value. */
interface SortKey {
  expr: string;
  dir: 'ASC' | 'DESC';
  cast: 'text' | 'boolean' | 'timestamptz' | 'bigint' | 'integer';
}

/**
 * Keyset pagination: ORDER BY the keys, and from a cursor (the last row's key values, as
 * text) the rows after it. Stable under inserts, unlike an offset.
 */
function keyset(keys: SortKey[], cursor: string[] | undefined, params: unknown[]): {after: string | undefined; order: string; select: string} {
  const order = keys.map((k) => `${k.expr} ${k.dir}`).join(', ');
  const select = keys.map((k, i) => `(${k.expr})::text AS _k${i}`).join(', ');
  if (!cursor) return {after: undefined, order, select};
  const values = keys.map((k, i) => `$${params.push(cursor[i])}::${k.cast}`);
  const terms = keys.map((k, i) => [...keys.slice(0, i).map((p, j) => `${p.expr} = ${values[j]}`), `${k.expr} ${k.dir === 'ASC' ? '>' : '<'} ${values[i]}`].join(' AND '));
  return {after: `(${terms.map((t) => `(${t})`).join(' OR ')})`, order, select};
}

export function encodeCursor(values: string[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, keys: number): string[] | undefined {
  if (cursor === undefined) return undefined;
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    values = undefined; // said below, in the one message every bad cursor gets
  }
  if (!Array.isArray(values) || values.length !== keys || !values.every((v) => typeof v === 'string')) {
    throw new RegistryError(400, 'bad-cursor', 'The cursor is not one this registry gave out for this list.', {hint: 'Pass the "next" value of the previous page as it was, with the same filters and sort; or leave cursor out for the first page.'});
  }
  return values as string[];
}

function page<T>(rows: Record<string, unknown>[], limit: number, keys: number, map: (r: Record<string, unknown>) => T, total?: number): Page<T> {
  const more = rows.length > limit;
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {items: items.map(map), next: more && last ? encodeCursor(Array.from({length: keys}, (_, i) => String(last[`_k${i}`]))) : null, ...(total === undefined ? {} : {total})};
}

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

const limitOf = (p: PageRequest) => Math.min(MAX_LIMIT, Math.max(1, p.limit ?? DEFAULT_LIMIT));

type Tx = Pick<Db, 'query'>;

/** Who an identity is, as resolveIdentity found it. */
interface Resolved {
  id: string | undefined;
  conflict?: string;
  /** The UUID the machine had (null: none yet). */
  uuid: string | null;
  /** Its MACs among those named (the others are free, or another's). */
  knownMacs: string[];
  /** The deployment a report names, if it exists. */
  deployment?: {machine_id: string; mode: 'deploy' | 'test'};
}

/** How long a token, once checked, is taken on trust in this process (a revocation here takes effect at once). */
const AUTH_CACHE_MS = 2000;

const MACHINE_COLUMNS = `m.*, (SELECT coalesce(array_agg(mac ORDER BY mac), '{}') FROM machine_macs x WHERE x.machine_id = m.id) AS macs,
  (SELECT json_build_object('id', d.id, 'outcome', d.outcome, 'recordedAt', d.started_at) FROM deployments d WHERE d.machine_id = m.id ORDER BY d.started_at DESC, d.id DESC LIMIT 1) AS last_deployment`;

export const MACHINE_SORTS = ['hostname', 'state', 'seen', 'id'] as const;
export type MachineSort = (typeof MACHINE_SORTS)[number];

const MACHINE_SORT_KEYS: Record<MachineSort, SortKey[]> = {
  hostname: [
    {expr: '(m.hostname IS NULL)', dir: 'ASC', cast: 'boolean'},
    {expr: "coalesce(m.hostname, '')", dir: 'ASC', cast: 'text'},
    {expr: 'm.id', dir: 'ASC', cast: 'text'},
  ],
  state: [
    {expr: 'm.state', dir: 'ASC', cast: 'text'},
    {expr: 'm.id', dir: 'ASC', cast: 'text'},
  ],
  seen: [
    {expr: '(m.last_seen IS NULL)', dir: 'ASC', cast: 'boolean'},
    {expr: "coalesce(m.last_seen, '-infinity'::timestamptz)", dir: 'DESC', cast: 'timestamptz'},
    {expr: 'm.id', dir: 'ASC', cast: 'text'},
  ],
  id: [{expr: 'm.id', dir: 'ASC', cast: 'text'}],
};

export interface MachineFilter {
  state?: MachineState;
  tag?: string;
  q?: string;
  sort?: MachineSort;
}

export interface DeploymentFilter {
  machine?: string;
  outcome?: 'succeeded' | 'failed' | 'aborted' | 'running';
  mode?: 'deploy' | 'test';
}

export interface AuditFilter {
  machine?: string;
  action?: string;
  actor?: string;
}

export class Registry {
  /** Last time a token's use was written down, so a busy reporter costs one write a minute, not one per request. */
  private readonly lastUseWritten = new Map<string, number>();

  private constructor(private database: Db) {}

  get db(): Db {
    return this.database;
  }

  /** Time every query from now on (the server's metrics). */
  instrument(onQuery: (seconds: number) => void): void {
    const db = this.database;
    const timed = <T>(p: Promise<T>, t0: number) => p.finally(() => onQuery((performance.now() - t0) / 1000));
    this.database = {
      kind: db.kind,
      where: db.where,
      query: (sql, params, prepared) => timed(db.query(sql, params, prepared), performance.now()),
      transaction: (fn) => db.transaction((tx) => fn({query: (sql, params, prepared) => timed(tx.query(sql, params, prepared), performance.now())})),
      close: () => db.close(),
    } as Db;
  }

  /** The registry on a database, its schema brought up to date. */
  static async open(db: Db): Promise<Registry> {
    await migrate(db);
    return new Registry(db);
  }

  // ---------------------------------------------------------------- tokens

  private async mintToken(tx: Tx, o: {kind: TokenKind; note?: string | null; expiresAt?: Date | null; uses?: number | null; machineId?: string | null; deploymentId?: string | null; createdBy: string}): Promise<NewToken> {
    const id = randomBytes(4).toString('hex');
    const token = `anm_${id}_${randomBytes(24).toString('base64url')}`;
    await tx.query('INSERT INTO tokens (id, hash, role, note, expires_at, uses_left, machine_id, deployment_id, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
      id,
      tokenHash(token),
      o.kind,
      o.note ?? null,
      o.expiresAt ?? null,
      o.uses ?? null,
      o.machineId ?? null,
      o.deploymentId ?? null,
      o.createdBy,
    ], 'anemos_token_insert');
    return {id, token, kind: o.kind, expiresAt: o.expiresAt ? o.expiresAt.toISOString() : null};
  }

  /** A token a person asked for (anemos tokens create): printed once, only its hash is kept. */
  async createToken(o: {role: Role; note?: string; expiresAt?: Date; uses?: number}, actor = 'cli'): Promise<NewToken> {
    if (o.uses !== undefined && o.role !== 'enroll') throw new RegistryError(400, 'uses-not-enroll', 'Only an enroll token can be limited to a number of uses.', {hint: 'Leave uses out, or make an enroll token.'});
    return this.db.transaction(async (tx) => {
      const t = await this.mintToken(tx, {kind: o.role, note: o.note, expiresAt: o.expiresAt, uses: o.uses, createdBy: actor});
      await this.auditIn(tx, actor, null, 'token created', {id: t.id, role: o.role, note: o.note ?? null, expiresAt: t.expiresAt, uses: o.uses ?? null});
      return t;
    });
  }

  private readonly trusted = new Map<string, {caller: Caller; until: number; expires: number}>();

  /** Tokens taken on trust are checked again (a revocation, an outcome that shortened a deployment's token). */
  private forget(): void {
    this.trusted.clear();
  }

  /** Who the token is; a refusal that says why (unknown, revoked, expired, used up) otherwise. */
  async authenticate(token: string, now = new Date()): Promise<Caller> {
    const hash = tokenHash(token);
    const known = this.trusted.get(hash);
    if (known && now.getTime() < known.until && now.getTime() < known.expires) return known.caller;
    const [row] = await this.db.query<{id: string; role: TokenKind; note: string | null; machine_id: string | null; deployment_id: string | null; expires_at: string | null; uses_left: number | null; revoked_at: string | null}>(
      'SELECT id, role, note, machine_id, deployment_id, expires_at, uses_left, revoked_at FROM tokens WHERE hash = $1',
      [hash],
      'anemos_authenticate',
    );
    if (!row) throw new RegistryError(401, 'token-unknown', 'The token is not known to this registry.', {hint: 'Check the token (anemos tokens list shows the ids of live ones), or ask an admin for one.'});
    if (row.revoked_at) throw new RegistryError(401, 'token-revoked', `Token ${row.id} was revoked at ${iso(row.revoked_at)}.`, {hint: 'Ask an admin for a new token.'});
    if (row.expires_at && new Date(row.expires_at) <= now) throw new RegistryError(401, 'token-expired', `Token ${row.id} expired at ${iso(row.expires_at)}.`, {hint: row.role === 'deployment' ? "A deployment's token ends with its deployment; record a new deployment." : 'Ask an admin for a new token.'});
    if (row.uses_left !== null && row.uses_left <= 0) throw new RegistryError(401, 'token-used-up', `Enroll token ${row.id} has no uses left.`, {hint: 'Ask an admin for a new enroll token (anemos tokens create --role enroll --uses N).'});
    const last = this.lastUseWritten.get(row.id) ?? 0;
    if (now.getTime() - last > 60_000) {
      this.lastUseWritten.set(row.id, now.getTime());
      await this.db.query('UPDATE tokens SET last_used_at = $2 WHERE id = $1', [row.id, now]);
    }
    const caller: Caller = {tokenId: row.id, kind: row.role, note: row.note, machineId: row.machine_id, deploymentId: row.deployment_id, actor: actorName(row.role, row.id, row.note, row.machine_id, row.deployment_id)};
    // Enroll tokens are counted in their transaction; the others are trusted for a moment.
    if (row.uses_left === null) {
      if (this.trusted.size > 10_000) this.trusted.clear();
      this.trusted.set(hash, {caller, until: now.getTime() + AUTH_CACHE_MS, expires: row.expires_at ? new Date(row.expires_at).getTime() : Infinity});
    }
    return caller;
  }

  async listTokens(f: {kind?: TokenKind; live?: boolean}, p: PageRequest = {}): Promise<Page<TokenInfo>> {
    const params: unknown[] = [];
    const where: string[] = [];
    if (f.kind) where.push(`t.role = $${params.push(f.kind)}`);
    if (f.live) where.push('t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now()) AND (t.uses_left IS NULL OR t.uses_left > 0)');
    const keys: SortKey[] = [
      {expr: 't.created_at', dir: 'DESC', cast: 'timestamptz'},
      {expr: 't.id', dir: 'DESC', cast: 'text'},
    ];
    const [{n}] = await this.db.query<{n: number}>(`SELECT count(*)::int AS n FROM tokens t ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, [...params]);
    const k = keyset(keys, decodeCursor(p.cursor, keys.length), params);
    if (k.after) where.push(k.after);
    const limit = limitOf(p);
    const rows = await this.db.query(`SELECT t.*, ${k.select} FROM tokens t ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${k.order} LIMIT ${limit + 1}`, params);
    return page(rows, limit, keys.length, (r) => tokenInfo(r), Number(n));
  }

  async revokeToken(id: string, actor: string): Promise<TokenInfo> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.query('UPDATE tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *', [id]);
      this.forget();
      if (!row) throw new RegistryError(404, 'no-token', `No token ${id} in the registry.`, {hint: 'anemos tokens list shows the ids.'});
      await this.auditIn(tx, actor, (row.machine_id as string | null) ?? null, 'token revoked', {id, role: row.role, note: row.note ?? null});
      return tokenInfo(row);
    });
  }

  // ---------------------------------------------------------------- identity

  /**
   * The machine an identity names, under the rules that keep one machine from speaking for
   * another. A token bound to a machine speaks only for it: the UUID and every MAC must be
   * its own or free (a free MAC becomes its own: a NIC added). Otherwise the UUID and the
   * MACs must not name two machines, nor a MAC a machine whose UUID is another.
   */
  private async resolveIdentity(tx: Tx, m: MachineIdentity, boundTo: string | null, deploymentId?: string): Promise<Resolved> {
    // One round trip: the machine with this UUID, the owners of these MACs (with their UUIDs),
    // the bound machine's UUID, and the deployment a report names.
    const [row] = await tx.query<{by_uuid: string | null; own_uuid: string | null; macs: {mac: string; machine_id: string; uuid: string | null}[] | null; dep: {machine_id: string; mode: 'deploy' | 'test'} | null}>(
      `SELECT (SELECT id FROM machines WHERE uuid = $1) AS by_uuid,
              (SELECT uuid FROM machines WHERE id = $3) AS own_uuid,
              (SELECT json_agg(json_build_object('mac', x.mac, 'machine_id', x.machine_id, 'uuid', m.uuid) ORDER BY x.mac) FROM machine_macs x JOIN machines m ON m.id = x.machine_id WHERE x.mac = ANY($2::text[])) AS macs,
              (SELECT json_build_object('machine_id', machine_id, 'mode', mode) FROM deployments WHERE id = $4) AS dep`,
      [m.uuid ?? null, m.macs, boundTo, deploymentId ?? null],
      'anemos_resolve_identity',
    );
    const byUuid = row?.by_uuid ?? undefined;
    const byMac = row?.macs ?? [];
    const resolved = (id: string | undefined, uuid: string | null): Resolved => ({id, uuid, knownMacs: byMac.filter((x) => x.machine_id === id).map((x) => x.mac), deployment: row?.dep ?? undefined});
    if (boundTo) {
      if (byUuid && byUuid !== boundTo) return {...resolved(undefined, null), conflict: `UUID ${m.uuid} is machine ${byUuid}'s`};
      if (m.uuid && row?.own_uuid && row.own_uuid !== m.uuid) return {...resolved(undefined, null), conflict: `machine ${boundTo} has UUID ${row.own_uuid}, not ${m.uuid}`};
      const foreign = byMac.find((x) => x.machine_id !== boundTo);
      if (foreign) return {...resolved(undefined, null), conflict: `MAC ${foreign.mac} is machine ${foreign.machine_id}'s`};
      return resolved(boundTo, row?.own_uuid ?? null);
    }
    const ids = [...new Set([...(byUuid ? [byUuid] : []), ...byMac.map((x) => x.machine_id)])];
    if (ids.length > 1) {
      const mac = byMac.find((x) => x.machine_id !== (byUuid ?? ids[0]));
      return {...resolved(undefined, null), conflict: byUuid ? `UUID ${m.uuid} is machine ${byUuid}'s, and MAC ${mac?.mac} is machine ${mac?.machine_id}'s` : `its MACs belong to machines ${ids.join(' and ')}`};
    }
    const other = byMac[0];
    if (ids.length === 1 && m.uuid && !byUuid && other?.uuid && other.uuid !== m.uuid) return {...resolved(undefined, null), conflict: `MAC ${other.mac} is machine ${ids[0]}'s, whose UUID is ${other.uuid}, not ${m.uuid}`};
    return resolved(ids[0], byUuid ? m.uuid! : (other?.uuid ?? null));
  }

  /**
   * The machine is seen: locked for this transaction, its last sighting and the hostname it
   * gives kept, the MACs no machine had and a UUID it lacked bound to it. Its state as it is.
   */
  private async touchMachine(tx: Tx, id: string, m: MachineIdentity, actor: string, o: {knownMacs: string[]; uuid: string | null; justCreated?: boolean; inventory?: boolean}): Promise<{state: MachineState; inventory: HardwareInventory | null}> {
    const fresh = m.macs.filter((x) => !o.knownMacs.includes(x));
    const added = fresh.length ? (await tx.query<{mac: string}>('INSERT INTO machine_macs (mac, machine_id) SELECT unnest($1::text[]), $2 ON CONFLICT (mac) DO NOTHING RETURNING mac', [fresh, id])).map((r) => r.mac) : [];
    const [row] = await tx.query<{state: MachineState; inventory: HardwareInventory | null}>(
      'UPDATE machines SET last_seen = now(), hostname = coalesce($2, hostname), uuid = coalesce(uuid, $3) WHERE id = $1 RETURNING state, CASE WHEN $4 THEN inventory END AS inventory',
      [id, m.hostname ?? null, m.uuid ?? null, Boolean(o.inventory)],
      'anemos_touch_machine',
    );
    const uuidAdded = Boolean(m.uuid && !o.uuid);
    if (!o.justCreated && (added.length || uuidAdded)) await this.auditIn(tx, actor, id, 'identity added', {...(added.length ? {macs: added.sort()} : {}), ...(uuidAdded ? {uuid: m.uuid} : {})});
    return row!;
  }

  private async createMachine(tx: Tx, m: MachineIdentity, actor: string): Promise<string> {
    const id = machineKey(m);
    const created = await tx.query('INSERT INTO machines (id, uuid, hostname) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id', [id, m.uuid ?? null, m.hostname ?? null]);
    if (!created.length) throw new RegistryError(409, 'machine-exists', `Machine ${id} already exists.`, {hint: 'Send the request again: the machine is known now.'});
    await this.auditIn(tx, actor, id, 'machine registered', {uuid: m.uuid ?? null, macs: m.macs});
    return id;
  }

  /** An identity conflict: refused, and kept in the audit log once the refused transaction is gone. */
  private async refuseIdentity(caller: Caller, what: string, m: MachineIdentity, conflict: string, bound: boolean): Promise<never> {
    await this.auditEntry(caller.actor, bound ? caller.machineId : null, 'identity refused', {what, claimed: m, conflict});
    if (bound) throw new RegistryError(403, 'identity-mismatch', `This ${caller.kind === 'machine' ? "machine's credential" : "deployment's token"} speaks for machine ${caller.machineId} only, and the ${what} names another: ${conflict}. Nothing was stored.`, {hint: 'A machine reports with its own credential; this refusal is in the audit log.'});
    throw new RegistryError(409, 'identity-conflict', `The ${what} names a machine the registry knows otherwise: ${conflict}. Nothing was stored.`, {hint: 'A MAC or UUID bound to one machine is never moved to another by a report; an operator retires or corrects the old record first. This refusal is in the audit log.'});
  }

  // ---------------------------------------------------------------- enroll, deployments, reports

  /** A new machine registers with an enroll token and gets its own credential (one use of the token). */
  async enroll(r: EnrollRequest, caller: Caller): Promise<{machine: string; created: boolean; credential: NewToken}> {
    const m = normalizeIdentity(r.machine);
    let conflict: string | undefined;
    const out = await this.db.transaction(async (tx) => {
      const found = await this.resolveIdentity(tx, m, null);
      if (found.conflict) {
        conflict = found.conflict;
        return undefined;
      }
      let id = found.id;
      if (id) {
        const [live] = await tx.query<{id: string; created_at: string}>("SELECT id, created_at FROM tokens WHERE machine_id = $1 AND role = 'machine' AND revoked_at IS NULL", [id]);
        if (live) throw new RegistryError(409, 'already-enrolled', `Machine ${id} has enrolled already (credential ${live.id}, ${iso(live.created_at)}).`, {hint: `If its credential is lost, an admin revokes it first (anemos tokens revoke ${live.id}); then enroll again.`});
      }
      const created = !id;
      id ??= await this.createMachine(tx, m, caller.actor);
      const seen = await this.touchMachine(tx, id, m, caller.actor, {knownMacs: found.knownMacs, uuid: created ? (m.uuid ?? null) : found.uuid, justCreated: created, inventory: Boolean(r.inventory)});
      if (r.inventory) await this.storeInventory(tx, id, r.inventory, seen.inventory, caller.actor);
      if (caller.kind === 'enroll') {
        const used = await tx.query("UPDATE tokens SET uses_left = uses_left - 1 WHERE id = $1 AND uses_left IS NOT NULL AND uses_left > 0 RETURNING uses_left", [caller.tokenId]);
        const [limited] = await tx.query<{uses_left: number | null}>('SELECT uses_left FROM tokens WHERE id = $1', [caller.tokenId]);
        if (limited?.uses_left !== null && limited?.uses_left !== undefined && !used.length) throw new RegistryError(401, 'token-used-up', `Enroll token ${caller.tokenId} has no uses left.`, {hint: 'Ask an admin for a new enroll token.'});
      }
      const credential = await this.mintToken(tx, {kind: 'machine', machineId: id, note: `credential of ${m.hostname ?? id}`, createdBy: caller.actor});
      await this.auditIn(tx, caller.actor, id, 'machine enrolled', {credential: credential.id, created});
      return {machine: id, created, credential};
    });
    if (!out) return this.refuseIdentity(caller, 'enrollment', m, conflict!, false);
    return out;
  }

  /**
   * A deploy is about to start: record it (the machine created if an operator names one the
   * registry does not know) and mint the token its deploy environment reports with.
   */
  async createDeployment(d: DeploymentRequest, caller: Caller, now = new Date()): Promise<{deployment: string; machine: string; token: NewToken}> {
    const m = normalizeIdentity(d.machine);
    const bound = caller.kind === 'machine';
    let conflict: string | undefined;
    const out = await this.db.transaction(async (tx) => {
      const found = await this.resolveIdentity(tx, m, bound ? caller.machineId : null);
      if (found.conflict) {
        conflict = found.conflict;
        return undefined;
      }
      const id = found.id ?? (await this.createMachine(tx, m, caller.actor));
      const {state} = await this.touchMachine(tx, id, m, caller.actor, {knownMacs: found.knownMacs, uuid: found.id ? found.uuid : (m.uuid ?? null), justCreated: !found.id});
      if (state === 'retired') throw new RegistryError(409, 'machine-retired', `Machine ${id} is retired: no deployment is recorded for it.`, {hint: 'An operator changes its state first, if it is to be deployed again.'});
      const inserted = await tx.query('INSERT INTO deployments (id, machine_id, mode, who, source, artifacts, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING id', [d.id, id, d.mode, d.who ?? null, 'cli', json(d.artifacts ?? []), now], 'anemos_deployment_insert');
      if (!inserted.length) throw new RegistryError(409, 'deployment-exists', `Deployment ${d.id} exists already.`, {hint: 'Each deploy has its own id (anemos deploy makes one).'});
      const expiresAt = new Date(now.getTime() + ((d.timeoutSeconds ?? 3600) + 3600) * 1000);
      const token = await this.mintToken(tx, {kind: 'deployment', machineId: id, deploymentId: d.id, expiresAt, createdBy: caller.actor});
      await this.auditIn(tx, caller.actor, id, 'deployment recorded', {deployment: d.id, mode: d.mode, who: d.who ?? null, token: token.id});
      return {deployment: d.id, machine: id, token};
    });
    if (!out) return this.refuseIdentity(caller, 'deployment', m, conflict!, bound);
    return out;
  }

  /** The inventory kept (the one before it, from touchMachine, gives what changed): one statement. */
  private async storeInventory(tx: Tx, id: string, inventory: HardwareInventory, before: HardwareInventory | null, actor: string): Promise<string[]> {
    const changes = before ? diffInventory(before, inventory) : [];
    await tx.query(
      'WITH kept AS (INSERT INTO inventory_reports (machine_id, inventory, changes) VALUES ($1, $2, $3)) UPDATE machines SET inventory = $2 WHERE id = $1',
      [id, json(inventory), json(changes)],
      'anemos_inventory',
    );
    if (changes.length) await this.auditIn(tx, actor, id, 'hardware changed', {changes});
    return changes;
  }

  /**
   * Store a report (all of it, or nothing): from a machine's credential or a deployment's
   * token, for that machine (and deployment) only. An admin's report may register a machine.
   */
  async report(r: Report, caller: Caller): Promise<{machine: string; created: boolean; changes: string[]; events: number; state: MachineState}> {
    const m = normalizeIdentity(r.machine);
    const bound = caller.kind === 'machine' || caller.kind === 'deployment';
    if (caller.kind === 'deployment' && r.deployment && r.deployment.id !== caller.deploymentId) {
      await this.auditEntry(caller.actor, caller.machineId, 'report refused', {reason: 'another deployment', deployment: r.deployment.id});
      throw new RegistryError(403, 'token-scope', `This token reports for deployment ${caller.deploymentId} only, not ${r.deployment.id}.`, {hint: 'Each deployment reports with its own token; this refusal is in the audit log.'});
    }
    const quick = await this.quickReport(r, m, caller);
    if (quick) return quick;
    let conflict: string | undefined;
    const out = await this.db.transaction(async (tx) => {
      const found = await this.resolveIdentity(tx, m, bound ? caller.machineId : null, r.deployment?.id);
      if (found.conflict) {
        conflict = found.conflict;
        return undefined;
      }
      let id = found.id;
      let created = false;
      if (!id) {
        if (caller.kind !== 'admin') throw new RegistryError(404, 'unknown-machine', 'The registry does not know this machine.', {hint: 'A machine enrolls first (anemos inventory --report URL with an enroll token).'});
        id = await this.createMachine(tx, m, caller.actor);
        created = true;
      }
      const seen = await this.touchMachine(tx, id, m, caller.actor, {knownMacs: found.knownMacs, uuid: created ? (m.uuid ?? null) : found.uuid, justCreated: created, inventory: Boolean(r.inventory)});
      let state = seen.state;
      const changes = r.inventory ? await this.storeInventory(tx, id, r.inventory, seen.inventory, caller.actor) : [];
      let events = 0;
      if (r.deployment) {
        const d = found.deployment;
        if (!d) throw new RegistryError(404, 'no-deployment', `No deployment ${r.deployment.id} in the registry.`, {hint: 'A deployment is recorded first (POST /api/v1/deployments), which gives the token it reports with.'});
        if (d.machine_id !== id) throw new RegistryError(409, 'deployment-machine', `Deployment ${r.deployment.id} belongs to machine ${d.machine_id}, not ${id}.`);
        if (r.events?.length) {
          // One statement for the batch; an event posted again (the agent was not sure it arrived) is kept once.
          const inserted = await tx.query("INSERT INTO deployment_events (deployment_id, seq, event) SELECT $1, (e->>'seq')::int, e FROM jsonb_array_elements($2::jsonb) AS e ON CONFLICT DO NOTHING RETURNING seq", [r.deployment.id, json(r.events)], 'anemos_events');
          events = inserted.length;
          const outcome = outcomeOf(r.events);
          if (outcome) await this.endDeployment(tx, r.deployment.id, outcome);
        }
        const next = stateAfterEvents(state, d.mode, r.events);
        if (next) {
          await tx.query('UPDATE machines SET state = $2, updated_at = now() WHERE id = $1', [id, next]);
          await this.auditIn(tx, caller.actor, id, 'state changed', {from: state, to: next, by: 'report', deployment: r.deployment.id});
          state = next;
        }
      }
      return {machine: id, created, changes, events, state};
    });
    if (!out) return this.refuseIdentity(caller, 'report', m, conflict!, bound);
    return out;
  }

  /**
   * The report a deploy environment sends most: more events of its running deployment, with
   * its deployment's token, nothing new about the machine. Stored in one statement when the
   * database agrees that this is all it is (the MACs and UUID are the machine's own, the
   * deployment is its own and still running, no state changes); anything else, and nothing
   * is written here: the full path decides (and refuses what it must).
   */
  private async quickReport(r: Report, m: MachineIdentity, caller: Caller): Promise<{machine: string; created: boolean; changes: string[]; events: number; state: MachineState} | undefined> {
    if (caller.kind !== 'deployment' || !r.deployment || !r.events?.length || r.inventory || outcomeOf(r.events) || !m.macs.length) return undefined;
    const [row] = await this.db.query<{state: MachineState | null; inserted: number}>(
      `WITH ok AS (
         SELECT m.state FROM machines m JOIN deployments d ON d.id = $4 AND d.machine_id = m.id AND d.outcome IS NULL
          WHERE m.id = $1 AND (d.mode = 'test' OR m.state = 'provisioning')
            AND ($3::text IS NULL OR m.uuid = $3) AND NOT EXISTS (SELECT 1 FROM machines o WHERE o.uuid = $3 AND o.id <> m.id)
            AND (SELECT count(*) FROM machine_macs x WHERE x.mac = ANY($2::text[]) AND x.machine_id = m.id) = cardinality($2::text[])),
       touched AS (UPDATE machines SET last_seen = now(), hostname = coalesce($5, hostname) WHERE id = $1 AND EXISTS (SELECT 1 FROM ok) RETURNING id),
       inserted AS (INSERT INTO deployment_events (deployment_id, seq, event) SELECT $4, (e->>'seq')::int, e FROM jsonb_array_elements($6::jsonb) AS e WHERE EXISTS (SELECT 1 FROM ok) ON CONFLICT DO NOTHING RETURNING seq)
       SELECT (SELECT state FROM ok) AS state, (SELECT count(*)::int FROM inserted) AS inserted`,
      [caller.machineId, m.macs, m.uuid ?? null, r.deployment.id, m.hostname ?? null, json(r.events)],
      'anemos_quick_report',
    );
    if (!row?.state) return undefined;
    return {machine: caller.machineId!, created: false, changes: [], events: Number(row.inserted), state: row.state};
  }

  /** The outcome is in: the deployment ends, and its token lives only for the grace period. */
  private async endDeployment(tx: Tx, id: string, outcome: string): Promise<void> {
    await tx.query(
      `WITH ended AS (UPDATE deployments SET outcome = $2, finished_at = coalesce(finished_at, now()) WHERE id = $1 RETURNING id)
       UPDATE tokens SET expires_at = least(coalesce(expires_at, 'infinity'::timestamptz), now() + interval '${DEPLOYMENT_TOKEN_GRACE_SECONDS} seconds') WHERE deployment_id = (SELECT id FROM ended) AND note IS DISTINCT FROM '${DRIFT_NOTE}'`,
      [id, outcome],
    );
    this.forget();
  }

  // ---------------------------------------------------------------- machines

  async listMachines(f: MachineFilter = {}, p: PageRequest = {}): Promise<Page<MachineSummary>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.state) where.push(`m.state = $${params.push(f.state)}`);
    if (f.tag) where.push(`$${params.push(f.tag)} = ANY(m.tags)`);
    if (f.q) {
      const q = `$${params.push(`%${f.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`;
      where.push(
        `(lower(m.id) LIKE ${q} OR lower(coalesce(m.hostname, '')) LIKE ${q} OR lower(coalesce(m.inventory->'system'->>'serial', '')) LIKE ${q} OR lower(coalesce(m.inventory->'system'->>'product', '')) LIKE ${q} OR EXISTS (SELECT 1 FROM machine_macs x WHERE x.machine_id = m.id AND x.mac LIKE ${q}) OR EXISTS (SELECT 1 FROM unnest(m.tags) t WHERE lower(t) LIKE ${q}) OR EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(m.inventory->'nics', '[]'::jsonb)) n, jsonb_array_elements_text(coalesce(n->'addresses', '[]'::jsonb)) a WHERE a LIKE ${q}))`,
      );
    }
    const filterParams = [...params];
    const keys = MACHINE_SORT_KEYS[f.sort ?? 'hostname'];
    const k = keyset(keys, decodeCursor(p.cursor, keys.length), params);
    const [{n}] = await this.db.query<{n: number}>(`SELECT count(*)::int AS n FROM machines m ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, filterParams);
    if (k.after) where.push(k.after);
    const limit = limitOf(p);
    const rows = await this.db.query(`SELECT ${MACHINE_COLUMNS}, ${k.select} FROM machines m ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${k.order} LIMIT ${limit + 1}`, params);
    return page(rows, limit, keys.length, (r) => this.summary(r), Number(n));
  }

  private summary(r: Record<string, unknown>): MachineSummary {
    const last = r.last_deployment as {id: string; outcome: string | null; recordedAt: string} | null;
    const inventory = (r.inventory as HardwareInventory | null) ?? null;
    return {
      id: r.id as string,
      uuid: (r.uuid as string | null) ?? null,
      hostname: (r.hostname as string | null) ?? null,
      state: r.state as MachineState,
      tags: (r.tags as string[]) ?? [],
      macs: (r.macs as string[]) ?? [],
      addresses: addressesOf(inventory),
      lastSeen: iso(r.last_seen),
      updatedAt: iso(r.updated_at)!,
      hardware: hardwareLine(inventory),
      lastDeployment: last ? {...last, recordedAt: iso(last.recordedAt)!} : null,
    };
  }

  /** A machine by its id, its UUID or one of its MACs (what an operator has at hand). */
  async getMachine(ref: string): Promise<MachineRecord> {
    const [r] = await this.db.query(
      `SELECT ${MACHINE_COLUMNS}, EXISTS (SELECT 1 FROM tokens t WHERE t.machine_id = m.id AND t.role = 'machine' AND t.revoked_at IS NULL) AS enrolled,
              (SELECT k.public FROM machine_host_keys k WHERE k.machine_id = m.id) AS ssh_host_keys
         FROM machines m WHERE m.id = $1 OR m.uuid = lower($1) OR m.id = (SELECT machine_id FROM machine_macs WHERE mac = lower($1)) LIMIT 1`,
      [ref],
    );
    if (!r) throw new RegistryError(404, 'no-machine', `No machine ${ref} in the registry.`, {hint: 'Name it by its id, its UUID or one of its MACs (anemos machines list).'});
    return {...this.summary(r), attributes: (r.attributes as Record<string, unknown>) ?? {}, desired: (r.desired as DesiredDeployment | null) ?? null, inventory: (r.inventory as HardwareInventory | null) ?? null, createdAt: iso(r.created_at)!, enrolled: Boolean(r.enrolled), discoveredAt: iso(r.discovered_at), lastBoot: (r.last_boot as NetworkBootSighting | null) ?? null, drift: (r.drift as MachineDrift | null) ?? null, sshHostKeys: (r.ssh_host_keys as string[] | null) ?? []};
  }

  /**
   * Change what an operator may change, as a JSON Merge Patch over {state, tags, attributes,
   * desired, hostname}: the result is validated whole (the desired deployment like any
   * config) and a state change must be one the lifecycle allows (409 otherwise).
   */
  async patchMachine(ref: string, patch: Record<string, unknown>, actor: string): Promise<MachineRecord> {
    const id = (await this.getMachine(ref)).id;
    await this.db.transaction(async (tx) => {
      const [m] = await tx.query<{state: MachineState; tags: string[]; attributes: Record<string, unknown>; desired: DesiredDeployment | null; hostname: string | null}>('SELECT state, tags, attributes, desired, hostname FROM machines WHERE id = $1 FOR UPDATE', [id]);
      if (!m) throw new RegistryError(404, 'no-machine', `No machine ${ref} in the registry.`);
      const before = {state: m.state, tags: m.tags, attributes: m.attributes, desired: m.desired, hostname: m.hostname};
      const after = applyMergePatch(before, patch) as MachinePatch & {state?: MachineState; tags?: string[]; hostname?: string | null};
      if ('desired' in patch && after.desired) {
        const problems = validateDesired(after.desired);
        if (problems.length) throw new RegistryError(400, 'invalid-desired', `The desired deployment has ${problems.length} problem${problems.length > 1 ? 's' : ''}: nothing was stored.`, {problems, hint: 'Fix each one; the same keys and rules as anemos.conf ("anemos config check"), and every artifact needs its sha256.'});
      }
      const audit = (action: string, detail: unknown) => this.auditIn(tx, actor, id, action, detail);
      if (after.state === undefined) throw new RegistryError(400, 'invalid-patch', 'A machine always has a state: "state": null cannot remove it.');
      if (after.state !== m.state) {
        if (!allowedTransition(m.state, after.state)) {
          throw new RegistryError(409, 'transition', `A machine in state ${m.state} cannot go to ${after.state}; from ${m.state} it may go to: ${TRANSITIONS[m.state].join(', ') || 'nothing (retired is final)'}.`, {state: m.state, allowed: TRANSITIONS[m.state]});
        }
        await tx.query('UPDATE machines SET state = $2 WHERE id = $1', [id, after.state]);
        await audit('state changed', {from: m.state, to: after.state});
      }
      if ('tags' in patch) {
        const tags = [...new Set(after.tags ?? [])].sort();
        await tx.query('UPDATE machines SET tags = $2::text[] WHERE id = $1', [id, tags]);
        await audit('tags changed', {from: m.tags, to: tags});
      }
      if ('attributes' in patch) {
        await tx.query('UPDATE machines SET attributes = $2 WHERE id = $1', [id, json(after.attributes ?? {})]);
        await audit('attributes changed', {from: m.attributes, to: after.attributes ?? {}});
      }
      if ('desired' in patch) {
        const desired = after.desired && Object.keys(after.desired).length ? after.desired : null;
        await tx.query('UPDATE machines SET desired = $2 WHERE id = $1', [id, desired === null ? null : json(desired)]);
        await audit('desired deployment changed', {from: m.desired, to: desired});
      }
      if ('hostname' in patch) {
        await tx.query('UPDATE machines SET hostname = $2 WHERE id = $1', [id, after.hostname ?? null]);
        await audit('hostname changed', {from: m.hostname, to: after.hostname ?? null});
      }
      await tx.query('UPDATE machines SET updated_at = now() WHERE id = $1', [id]);
    });
    return this.getMachine(id);
  }

  /** Replace the desired deployment whole (null: none), validated like any config. */
  async setDesired(ref: string, desired: DesiredDeployment | null, actor: string): Promise<MachineRecord> {
    const id = (await this.getMachine(ref)).id;
    if (desired) {
      const problems = validateDesired(desired);
      if (problems.length) throw new RegistryError(400, 'invalid-desired', `The desired deployment has ${problems.length} problem${problems.length > 1 ? 's' : ''}: nothing was stored.`, {problems, hint: 'Fix each one; the same keys and rules as anemos.conf ("anemos config check"), and every artifact needs its sha256.'});
    }
    await this.db.transaction(async (tx) => {
      const [m] = await tx.query<{desired: DesiredDeployment | null}>('SELECT desired FROM machines WHERE id = $1 FOR UPDATE', [id]);
      await tx.query('UPDATE machines SET desired = $2, updated_at = now() WHERE id = $1', [id, desired ? json(desired) : null]);
      await this.auditIn(tx, actor, id, 'desired deployment changed', {from: m?.desired ?? null, to: desired});
    });
    return this.getMachine(id);
  }

  // ---------------------------------------------------------------- network boot

  /**
   * A key shared by every process on this database, made by the first that asks (32 random
   * bytes; a second process asking at the same moment gets the same one).
   */
  async secret(name: string): Promise<Buffer> {
    await this.db.query('INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, randomBytes(32).toString('base64')]);
    const [row] = await this.db.query<{value: string}>('SELECT value FROM secrets WHERE name = $1', [name]);
    return Buffer.from(row!.value, 'base64');
  }

  /** What a network boot decides with, of the machine that has this MAC; undefined when no machine has it. */
  async bootRecord(mac: string): Promise<BootRecord | undefined> {
    const [r] = await this.db.query<{id: string; state: MachineState; desired: boolean; installer: boolean; live: boolean; discovered: boolean; idle: string | null}>(
      "SELECT m.id, m.state, m.desired IS NOT NULL AS desired, m.desired->'installer' IS NOT NULL AS installer, m.desired->'config'->'live' IS NOT NULL AS live, m.discovered_at IS NOT NULL AS discovered, m.attributes->>'idle' AS idle FROM machine_macs x JOIN machines m ON m.id = x.machine_id WHERE x.mac = $1",
      [mac.toLowerCase()],
      'anemos_boot_record_4',
    );
    // attributes.idle (wait or poweroff): the record's say in what a discovered machine does while it waits.
    const idle = r?.idle === 'wait' || r?.idle === 'poweroff' ? {idle: r.idle as Idle} : {};
    return r ? {id: r.id, state: r.state, desired: Boolean(r.desired), ...(r.installer ? {installer: true} : {}), ...(r.live ? {live: true} : {}), discovered: Boolean(r.discovered), ...idle} : undefined;
  }

  /** The boot service answered this machine's request: kept on its record (a machine the registry does not know: nothing kept). */
  async sawBoot(sighting: NetworkBootSighting): Promise<void> {
    await this.db.query('UPDATE machines SET last_boot = $2 WHERE id = (SELECT machine_id FROM machine_macs WHERE mac = $1)', [sighting.mac.toLowerCase(), json(sighting)], 'anemos_saw_boot');
  }

  /**
   * The SSH host keys a machine's network live boots carry: made once (by `make`) and kept,
   * so that its identity survives a reboot. Two boots racing keep the first one's.
   */
  async machineHostKeys(machineId: string, make: () => Promise<{private: Record<string, string>; public: string[]}>): Promise<Record<string, string>> {
    const read = async () => (await this.db.query<{private: Record<string, string>}>('SELECT private FROM machine_host_keys WHERE machine_id = $1', [machineId], 'anemos_host_keys'))[0]?.private;
    const kept = await read();
    if (kept) return kept;
    const made = await make();
    await this.db.transaction(async (tx) => {
      const stored = await tx.query('INSERT INTO machine_host_keys (machine_id, private, public) VALUES ($1, $2, $3) ON CONFLICT (machine_id) DO NOTHING RETURNING machine_id', [machineId, json(made.private), json(made.public)]);
      if (stored.length) await this.auditIn(tx, 'anemos serve (network boot)', machineId, 'ssh host keys made', {public: made.public});
    });
    return (await read())!;
  }

  /**
   * A live machine's drift (DRIFT_SCRIPT's listing, core/live/drift.ts), with the token its
   * live boot gave it: kept on its record, newest only, for its page and the API.
   */
  async reportDrift(listing: string, caller: Caller, now = new Date()): Promise<{machine: string; summary: MachineDrift['summary']}> {
    if (!caller.machineId || caller.note !== DRIFT_NOTE) throw new RegistryError(403, 'forbidden', 'Only a live boot reports drift, with the token it was given for that.', {hint: 'The live system reports by itself (anemos-drift.timer); anemos live diff shows the same list on the host.'});
    const entries = parseDrift(listing);
    const folded = foldAdded(entries);
    const drift: MachineDrift = {at: now.toISOString(), deployment: caller.deploymentId ?? null, summary: driftSummary(entries), entries: folded.slice(0, DRIFT_KEPT), left: Math.max(0, folded.length - DRIFT_KEPT)};
    await this.db.query('UPDATE machines SET drift = $2, last_seen = $3 WHERE id = $1', [caller.machineId, json(drift), now], 'anemos_drift');
    return {machine: caller.machineId, summary: drift.summary};
  }

  /**
   * The deploy environment is about to be served to a machine by network boot: the machine
   * (registered as discovered when no machine has this MAC), this boot recorded as a
   * deployment, and the token its agent reports with, bound to both. A register or test
   * boot writes nothing to disks: it is recorded in test mode; a deploy in deploy mode.
   */
  async networkBoot(o: {mac: string; deployment: string; mode: 'deploy' | 'test'; purpose: 'register' | 'test' | 'deploy' | 'live'; artifacts?: unknown[]; hours: number; actor: string}, now = new Date()): Promise<{machine: string; deployment: string; token: NewToken; discovered: boolean; drift?: NewToken}> {
    const mac = o.mac.toLowerCase();
    return this.db.transaction(async (tx) => {
      const [known] = await tx.query<{machine_id: string; state: MachineState}>('SELECT x.machine_id, m.state FROM machine_macs x JOIN machines m ON m.id = x.machine_id WHERE x.mac = $1 FOR UPDATE OF m', [mac]);
      let id = known?.machine_id;
      const discovered = !id;
      if (!id) {
        id = await this.createMachine(tx, {macs: [mac]}, o.actor);
        await tx.query('INSERT INTO machine_macs (mac, machine_id) VALUES ($1, $2)', [mac, id]);
        await tx.query('UPDATE machines SET discovered_at = $2 WHERE id = $1', [id, now]);
        await this.auditIn(tx, o.actor, id, 'machine discovered', {mac});
      }
      if (known?.state === 'retired') throw new RegistryError(409, 'machine-retired', `Machine ${id} is retired: it is not booted.`);
      await tx.query('INSERT INTO deployments (id, machine_id, mode, who, source, artifacts, started_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [o.deployment, id, o.mode, o.actor, `network boot (${o.purpose})`, json(o.artifacts ?? []), now], 'anemos_deployment_insert');
      const token = await this.mintToken(tx, {kind: 'deployment', machineId: id, deploymentId: o.deployment, expiresAt: new Date(now.getTime() + o.hours * 3600_000), createdBy: o.actor});
      // A boot ends what the machine's last boot ran: its drift token too. A live boot gets one of its own, which outlives the boot's outcome.
      const revoked = await tx.query('UPDATE tokens SET revoked_at = $2 WHERE machine_id = $1 AND note = $3 AND revoked_at IS NULL RETURNING id', [id, now, DRIFT_NOTE]);
      if (revoked.length) this.forget();
      const drift = o.purpose === 'live' ? await this.mintToken(tx, {kind: 'deployment', note: DRIFT_NOTE, machineId: id, deploymentId: o.deployment, expiresAt: new Date(now.getTime() + DRIFT_TOKEN_DAYS * 86400_000), createdBy: o.actor}) : undefined;
      await this.auditIn(tx, o.actor, id, 'deployment recorded', {deployment: o.deployment, mode: o.mode, who: o.actor, token: token.id, ...(drift ? {driftToken: drift.id} : {}), source: `network boot (${o.purpose})`});
      return {machine: id, deployment: o.deployment, token, discovered, ...(drift ? {drift} : {})};
    });
  }

  /** The desired deployment of the machine that has this MAC (how a machine asks what to run). */
  async desiredByMac(mac: string): Promise<{machine: string; state: MachineState; desired: DesiredDeployment | null}> {
    const [r] = await this.db.query<{id: string; state: MachineState; desired: DesiredDeployment | null}>('SELECT m.id, m.state, m.desired FROM machine_macs x JOIN machines m ON m.id = x.machine_id WHERE x.mac = $1', [mac.toLowerCase()]);
    if (!r) throw new RegistryError(404, 'no-machine', `No machine in the registry has MAC ${mac.toLowerCase()}.`, {hint: 'Let the machine enroll (anemos inventory --report URL) or report once.'});
    return {machine: r.id, state: r.state, desired: r.desired ?? null};
  }

  async counts(): Promise<Record<MachineState, number>> {
    const rows = await this.db.query<{state: MachineState; n: number}>('SELECT state, count(*)::int AS n FROM machines GROUP BY state');
    return Object.fromEntries(MACHINE_STATES.map((s) => [s, Number(rows.find((r) => r.state === s)?.n ?? 0)])) as Record<MachineState, number>;
  }

  // ---------------------------------------------------------------- deployments, events, history, audit

  async deployments(f: DeploymentFilter = {}, p: PageRequest = {}): Promise<Page<Deployment>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.machine) where.push(`d.machine_id = $${params.push((await this.getMachine(f.machine)).id)}`);
    if (f.outcome) where.push(f.outcome === 'running' ? 'd.outcome IS NULL' : `d.outcome = $${params.push(f.outcome)}`);
    if (f.mode) where.push(`d.mode = $${params.push(f.mode)}`);
    const filterParams = [...params];
    const keys: SortKey[] = [
      {expr: 'd.started_at', dir: 'DESC', cast: 'timestamptz'},
      {expr: 'd.id', dir: 'DESC', cast: 'text'},
    ];
    const k = keyset(keys, decodeCursor(p.cursor, keys.length), params);
    const [{n}] = await this.db.query<{n: number}>(`SELECT count(*)::int AS n FROM deployments d ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, filterParams);
    if (k.after) where.push(k.after);
    const limit = limitOf(p);
    const rows = await this.db.query(
      `SELECT d.*, ${k.select},
              (SELECT count(*)::int FROM deployment_events e WHERE e.deployment_id = d.id) AS n_events,
              (SELECT e.event->>'t' FROM deployment_events e WHERE e.deployment_id = d.id ORDER BY e.seq LIMIT 1) AS first_t,
              (SELECT e.event->>'t' FROM deployment_events e WHERE e.deployment_id = d.id AND e.event->>'outcome' = d.outcome ORDER BY e.seq DESC LIMIT 1) AS outcome_t
         FROM deployments d ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${k.order} LIMIT ${limit + 1}`,
      params,
    );
    return page(rows, limit, keys.length, deploymentOf, Number(n));
  }

  async deployment(id: string): Promise<Deployment> {
    const [r] = await this.db.query(
      `SELECT d.*, (SELECT count(*)::int FROM deployment_events e WHERE e.deployment_id = d.id) AS n_events,
              (SELECT e.event->>'t' FROM deployment_events e WHERE e.deployment_id = d.id ORDER BY e.seq LIMIT 1) AS first_t,
              (SELECT e.event->>'t' FROM deployment_events e WHERE e.deployment_id = d.id AND e.event->>'outcome' = d.outcome ORDER BY e.seq DESC LIMIT 1) AS outcome_t
         FROM deployments d WHERE d.id = $1`,
      [id],
    );
    if (!r) throw new RegistryError(404, 'no-deployment', `No deployment ${id} in the registry.`);
    return deploymentOf(r);
  }

  /** A deployment's events after a sequence number, in order, each with the registry's receive time. */
  async events(deploymentId: string, after = -1, limit = MAX_LIMIT): Promise<{events: (ReportEvent & {receivedAt: string})[]; next: number | null}> {
    await this.deployment(deploymentId);
    const n = Math.min(MAX_LIMIT, Math.max(1, limit));
    const rows = await this.db.query<{seq: number; event: ReportEvent; received_at: string}>('SELECT seq, event, received_at FROM deployment_events WHERE deployment_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [deploymentId, after, n + 1]);
    const items = rows.slice(0, n);
    return {events: items.map((r) => ({...r.event, receivedAt: iso(r.received_at)!})), next: rows.length > n ? items.at(-1)!.seq : null};
  }

  /** Every inventory report, newest first, with what changed since the one before. */
  async inventoryHistory(ref: string, p: PageRequest = {}): Promise<Page<{receivedAt: string; changes: string[]}>> {
    const id = (await this.getMachine(ref)).id;
    const params: unknown[] = [id];
    const keys: SortKey[] = [{expr: 'r.id', dir: 'DESC', cast: 'bigint'}];
    const k = keyset(keys, decodeCursor(p.cursor, keys.length), params);
    const limit = limitOf(p);
    const rows = await this.db.query(`SELECT r.received_at, r.changes, ${k.select} FROM inventory_reports r WHERE r.machine_id = $1 ${k.after ? `AND ${k.after}` : ''} ORDER BY ${k.order} LIMIT ${limit + 1}`, params);
    return page(rows, limit, keys.length, (r) => ({receivedAt: iso(r.received_at)!, changes: r.changes as string[]}));
  }

  async audit(f: AuditFilter = {}, p: PageRequest = {}): Promise<Page<AuditEntry>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.machine) where.push(`a.machine_id = $${params.push((await this.getMachine(f.machine).catch(() => ({id: f.machine!}))).id)}`);
    if (f.action) where.push(`a.action = $${params.push(f.action)}`);
    if (f.actor) where.push(`lower(a.actor) LIKE $${params.push(`%${f.actor.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
    const keys: SortKey[] = [{expr: 'a.id', dir: 'DESC', cast: 'bigint'}];
    const k = keyset(keys, decodeCursor(p.cursor, keys.length), params);
    if (k.after) where.push(k.after);
    const limit = limitOf(p);
    const rows = await this.db.query(`SELECT a.*, ${k.select} FROM audit a ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${k.order} LIMIT ${limit + 1}`, params);
    return page(rows, limit, keys.length, (r) => ({id: Number(r.id), at: iso(r.at)!, actor: r.actor as string, machine: (r.machine_id as string | null) ?? null, action: r.action as string, detail: r.detail}));
  }

  /** The audit log's actions, for a filter's choices. */
  async auditActions(): Promise<string[]> {
    return (await this.db.query<{action: string}>('SELECT DISTINCT action FROM audit ORDER BY action')).map((r) => r.action);
  }

  private async auditIn(tx: Tx, actor: string, machine: string | null, action: string, detail: unknown): Promise<void> {
    await tx.query('INSERT INTO audit (actor, machine_id, action, detail) VALUES ($1, $2, $3, $4)', [actor, machine, action, json(detail)], 'anemos_audit');
  }

  /** An audit entry of its own (a refusal, after its transaction rolled back). */
  async auditEntry(actor: string, machine: string | null, action: string, detail: unknown): Promise<void> {
    await this.auditIn(this.db, actor, machine, action, detail);
  }

  /** Whether the database answers (GET /readyz). */
  async ping(timeoutMs = 2000): Promise<number> {
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.db.query('SELECT 1'), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)))]).finally(() => clearTimeout(timer));
    return performance.now() - t0;
  }

  /** Deployments by outcome, for /metrics. */
  async deploymentCounts(): Promise<Record<string, number>> {
    const rows = await this.db.query<{outcome: string | null; n: number}>('SELECT outcome, count(*)::int AS n FROM deployments GROUP BY outcome');
    return Object.fromEntries(rows.map((r) => [r.outcome ?? 'running', Number(r.n)]));
  }

  /** May this caller act on this machine? Tokens bound to a machine act on it alone. */
  static mayActOn(caller: Caller, machineId: string): boolean {
    return caller.kind === 'machine' || caller.kind === 'deployment' ? caller.machineId === machineId : roleMay(caller.kind, 'read');
  }
}

function tokenInfo(r: Record<string, unknown>): TokenInfo {
  return {
    id: r.id as string,
    kind: r.role as TokenKind,
    note: (r.note as string | null) ?? null,
    machine: (r.machine_id as string | null) ?? null,
    deployment: (r.deployment_id as string | null) ?? null,
    createdAt: iso(r.created_at)!,
    createdBy: (r.created_by as string | null) ?? null,
    expiresAt: iso(r.expires_at),
    usesLeft: r.uses_left === null || r.uses_left === undefined ? null : Number(r.uses_left),
    revokedAt: iso(r.revoked_at),
    lastUsedAt: iso(r.last_used_at),
  };
}

function deploymentOf(r: Record<string, unknown>): Deployment {
  // The machine's own clock, where its events carry one: a deployment reported in one
  // batch after the fact (the registry was down) still shows how long it took.
  const stamp = (t: unknown) => (typeof t === 'string' && !Number.isNaN(Date.parse(t)) ? new Date(t).toISOString() : null);
  const startedAt = stamp(r.first_t);
  const finishedAt = r.outcome ? stamp(r.outcome_t) : null;
  const recordedAt = iso(r.started_at)!;
  const outcomeAt = r.outcome ? iso(r.finished_at) : null;
  const duration = startedAt && finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : outcomeAt ? Date.parse(outcomeAt) - Date.parse(recordedAt) : null;
  return {
    id: r.id as string,
    machine: r.machine_id as string,
    mode: r.mode as string,
    who: (r.who as string | null) ?? null,
    source: (r.source as string | null) ?? null,
    artifacts: (r.artifacts as Deployment['artifacts']) ?? [],
    recordedAt,
    outcomeAt,
    machineClock: {startedAt, finishedAt},
    outcome: (r.outcome as string | null) ?? null,
    durationSeconds: duration === null ? null : Math.round(duration / 100) / 10,
    events: Number(r.n_events ?? 0),
  };
}
