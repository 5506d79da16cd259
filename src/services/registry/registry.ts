// The registry's use cases over its Db: machines and their MACs, inventory history,
// lifecycle, deployments with their events, the desired deployment, the audit log, tokens.
// Every change is one transaction that also appends to the audit log; nothing here
// knows HTTP (api.ts) or which database it talks to (adapters/db.ts).

import {createHash, randomBytes} from 'node:crypto';
import {diffInventory, formatSize, type HardwareInventory} from '../../core/inventory.js';
import {allowedTransition, machineKey, MACHINE_STATES, stateAfterReport, TRANSITIONS, type MachineState, type Report, type Role} from '../../core/registry/lifecycle.js';
import {migrate, type Db} from './db.js';

/** A refusal the API answers with its status: bad input, unknown machine, a transition not allowed. */
export class RegistryError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface MachineSummary {
  id: string;
  uuid: string | null;
  hostname: string | null;
  state: MachineState;
  tags: string[];
  macs: string[];
  lastSeen: string | null;
  updatedAt: string;
  /** One line: vendor and product, CPUs, RAM (from the last inventory). */
  hardware: string | null;
  lastDeployment: {id: string; outcome: string | null; startedAt: string} | null;
}

export interface MachineRecord extends MachineSummary {
  attributes: Record<string, unknown>;
  desired: DesiredDeployment | null;
  inventory: HardwareInventory | null;
  createdAt: string;
}

/** What a machine should run: the same keys as anemos.conf's artifacts, plus config overrides. */
export interface DesiredDeployment {
  kernel?: {url: string; sha256: string};
  initramfs?: {url: string; sha256: string};
  payload?: {url: string; sha256: string};
  config?: Record<string, unknown>;
}

export interface MachinePatch {
  state?: MachineState;
  tags?: string[];
  attributes?: Record<string, unknown>;
  desired?: DesiredDeployment | null;
  hostname?: string;
}

export interface Deployment {
  id: string;
  mode: string;
  who: string | null;
  source: string | null;
  artifacts: {name: string; url?: string; sha256: string}[];
  startedAt: string;
  finishedAt: string | null;
  outcome: string | null;
  durationSeconds: number | null;
  events: Record<string, unknown>[];
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as string).toISOString());
const json = (v: unknown) => JSON.stringify(v);

function hardwareLine(inv: HardwareInventory | null): string | null {
  if (!inv) return null;
  const system = [inv.system.vendor, inv.system.product].filter(Boolean).join(' ') || 'unknown system';
  return `${system}, ${inv.cpu.threads} CPU, ${formatSize(inv.memory.totalBytes)}, ${inv.disks.length} disk(s)`;
}

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex');

export class Registry {
  private constructor(readonly db: Db) {}

  /** The registry on a database, its schema brought up to date. */
  static async open(db: Db): Promise<Registry> {
    await migrate(db);
    return new Registry(db);
  }

  async createToken(role: Role, note?: string, actor = 'cli'): Promise<{id: string; token: string; role: Role}> {
    const id = randomBytes(4).toString('hex');
    const token = `anm_${id}_${randomBytes(24).toString('base64url')}`;
    await this.db.transaction(async (tx) => {
      await tx.query('INSERT INTO tokens (id, hash, role, note) VALUES ($1, $2, $3, $4)', [id, tokenHash(token), role, note ?? null]);
      await tx.query('INSERT INTO audit (actor, action, detail) VALUES ($1, $2, $3)', [actor, 'token created', json({id, role, note: note ?? null})]);
    });
    return {id, token, role};
  }

  async authenticate(token: string): Promise<{id: string; role: Role} | undefined> {
    const [row] = await this.db.query<{id: string; role: Role}>('SELECT id, role FROM tokens WHERE hash = $1', [tokenHash(token)]);
    return row;
  }

  /** Store a report from a deploy environment (or the CLI): all of it, or nothing. */
  async report(r: Report, actor: string): Promise<{machine: string; created: boolean; changes: string[]; events: number; state: MachineState}> {
    return this.db.transaction(async (tx) => {
      const macs = [...new Set(r.machine.macs.map((m) => m.toLowerCase()))];
      let id: string | undefined;
      if (r.machine.uuid) id = (await tx.query<{id: string}>('SELECT id FROM machines WHERE uuid = $1', [r.machine.uuid]))[0]?.id;
      if (!id && macs.length) id = (await tx.query<{machine_id: string}>('SELECT machine_id FROM machine_macs WHERE mac = ANY($1::text[]) ORDER BY mac LIMIT 1', [macs]))[0]?.machine_id;
      let created = false;
      if (!id) {
        id = machineKey({...r.machine, macs});
        // Two first reports of one machine at once: the second finds the first's row.
        created = (await tx.query('INSERT INTO machines (id, uuid, hostname) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id', [id, r.machine.uuid ?? null, r.machine.hostname ?? null])).length > 0;
        if (created) await tx.query('INSERT INTO audit (actor, machine_id, action, detail) VALUES ($1, $2, $3, $4)', [actor, id, 'machine registered', json({uuid: r.machine.uuid ?? null, macs})]);
      }
      const [m] = await tx.query<{state: MachineState; inventory: HardwareInventory | null; uuid: string | null}>('SELECT state, inventory, uuid FROM machines WHERE id = $1 FOR UPDATE', [id]);
      for (const mac of macs) await tx.query('INSERT INTO machine_macs (mac, machine_id) VALUES ($1, $2) ON CONFLICT (mac) DO UPDATE SET machine_id = EXCLUDED.machine_id', [mac, id]);
      await tx.query('UPDATE machines SET last_seen = now(), hostname = coalesce($2, hostname), uuid = coalesce(uuid, $3) WHERE id = $1', [id, r.machine.hostname ?? null, r.machine.uuid ?? null]);

      let changes: string[] = [];
      if (r.inventory) {
        changes = m!.inventory ? diffInventory(m!.inventory, r.inventory) : [];
        await tx.query('INSERT INTO inventory_reports (machine_id, inventory, changes) VALUES ($1, $2, $3)', [id, json(r.inventory), json(changes)]);
        await tx.query('UPDATE machines SET inventory = $2 WHERE id = $1', [id, json(r.inventory)]);
        if (changes.length) await tx.query('INSERT INTO audit (actor, machine_id, action, detail) VALUES ($1, $2, $3, $4)', [actor, id, 'hardware changed', json({changes})]);
      }
      let events = 0;
      if (r.deployment) {
        const d = r.deployment;
        const [existing] = await tx.query<{machine_id: string}>('SELECT machine_id FROM deployments WHERE id = $1', [d.id]);
        if (existing && existing.machine_id !== id) throw new RegistryError(409, `Deployment ${d.id} belongs to machine ${existing.machine_id}, not ${id}.`);
        if (!existing) {
          await tx.query('INSERT INTO deployments (id, machine_id, mode, who, source, artifacts) VALUES ($1, $2, $3, $4, $5, $6)', [d.id, id, d.mode, d.who ?? null, d.source ?? null, json(d.artifacts ?? [])]);
          await tx.query('INSERT INTO audit (actor, machine_id, action, detail) VALUES ($1, $2, $3, $4)', [actor, id, 'deployment started', json({deployment: d.id, mode: d.mode, who: d.who ?? null})]);
        }
        if (r.events?.length) {
          // One statement for the batch; an event posted again (the agent was not sure it arrived) is kept once.
          const inserted = await tx.query(
            "INSERT INTO deployment_events (deployment_id, seq, event) SELECT $1, (e->>'seq')::int, e FROM jsonb_array_elements($2::jsonb) AS e ON CONFLICT DO NOTHING RETURNING seq",
            [d.id, json(r.events)],
          );
          events = inserted.length;
          const outcome = [...r.events].reverse().find((e) => e.outcome === 'succeeded' || e.outcome === 'failed')?.outcome;
          if (outcome) await tx.query('UPDATE deployments SET outcome = $2, finished_at = coalesce(finished_at, now()) WHERE id = $1', [d.id, outcome]);
        }
      }
      let state = m!.state;
      const next = stateAfterReport(state, r);
      if (next) {
        await tx.query('UPDATE machines SET state = $2, updated_at = now() WHERE id = $1', [id, next]);
        await tx.query('INSERT INTO audit (actor, machine_id, action, detail) VALUES ($1, $2, $3, $4)', [actor, id, 'state changed', json({from: state, to: next, by: 'report', deployment: r.deployment?.id})]);
        state = next;
      }
      return {machine: id, created, changes, events, state};
    });
  }

  async listMachines(f: {state?: string; tag?: string; q?: string; sort?: string} = {}): Promise<MachineSummary[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.state) where.push(`m.state = $${params.push(f.state)}`);
    if (f.tag) where.push(`$${params.push(f.tag)} = ANY(m.tags)`);
    if (f.q) {
      const p = `$${params.push(`%${f.q.toLowerCase()}%`)}`;
      where.push(`(lower(m.id) LIKE ${p} OR lower(coalesce(m.hostname, '')) LIKE ${p} OR lower(coalesce(m.inventory->'system'->>'serial', '')) LIKE ${p} OR lower(coalesce(m.inventory->'system'->>'product', '')) LIKE ${p} OR EXISTS (SELECT 1 FROM machine_macs x WHERE x.machine_id = m.id AND x.mac LIKE ${p}) OR EXISTS (SELECT 1 FROM unnest(m.tags) t WHERE lower(t) LIKE ${p}))`);
    }
    const order = {hostname: 'm.hostname NULLS LAST, m.id', state: 'm.state, m.id', seen: 'm.last_seen DESC NULLS LAST, m.id', id: 'm.id'}[f.sort ?? 'hostname'] ?? 'm.hostname NULLS LAST, m.id';
    const rows = await this.db.query(
      `SELECT m.*, (SELECT coalesce(array_agg(mac ORDER BY mac), '{}') FROM machine_macs x WHERE x.machine_id = m.id) AS macs,
              (SELECT json_build_object('id', d.id, 'outcome', d.outcome, 'startedAt', d.started_at) FROM deployments d WHERE d.machine_id = m.id ORDER BY d.started_at DESC LIMIT 1) AS last_deployment
         FROM machines m ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order}`,
      params,
    );
    return rows.map((r) => this.summary(r));
  }

  private summary(r: Record<string, unknown>): MachineSummary {
    const last = r.last_deployment as {id: string; outcome: string | null; startedAt: string} | null;
    return {
      id: r.id as string,
      uuid: (r.uuid as string | null) ?? null,
      hostname: (r.hostname as string | null) ?? null,
      state: r.state as MachineState,
      tags: (r.tags as string[]) ?? [],
      macs: (r.macs as string[]) ?? [],
      lastSeen: iso(r.last_seen),
      updatedAt: iso(r.updated_at)!,
      hardware: hardwareLine((r.inventory as HardwareInventory | null) ?? null),
      lastDeployment: last ? {...last, startedAt: iso(last.startedAt)!} : null,
    };
  }

  async getMachine(id: string): Promise<MachineRecord> {
    const [r] = await this.db.query(
      `SELECT m.*, (SELECT coalesce(array_agg(mac ORDER BY mac), '{}') FROM machine_macs x WHERE x.machine_id = m.id) AS macs,
              (SELECT json_build_object('id', d.id, 'outcome', d.outcome, 'startedAt', d.started_at) FROM deployments d WHERE d.machine_id = m.id ORDER BY d.started_at DESC LIMIT 1) AS last_deployment
         FROM machines m WHERE m.id = $1`,
      [id],
    );
    if (!r) throw new RegistryError(404, `No machine ${id} in the registry.`);
    return {...this.summary(r), attributes: (r.attributes as Record<string, unknown>) ?? {}, desired: (r.desired as DesiredDeployment | null) ?? null, inventory: (r.inventory as HardwareInventory | null) ?? null, createdAt: iso(r.created_at)!};
  }

  /** Change what an operator may change; a state change must be one the lifecycle allows (409 otherwise). */
  async patchMachine(id: string, patch: MachinePatch, actor: string): Promise<MachineRecord> {
    await this.db.transaction(async (tx) => {
      const [m] = await tx.query<{state: MachineState; tags: string[]; attributes: Record<string, unknown>; desired: unknown; hostname: string | null}>('SELECT state, tags, attributes, desired, hostname FROM machines WHERE id = $1 FOR UPDATE', [id]);
      if (!m) throw new RegistryError(404, `No machine ${id} in the registry.`);
      const audit = (action: string, detail: unknown) => tx.query('INSERT INTO audit (actor, machine_id, action, detail) VALUES ($1, $2, $3, $4)', [actor, id, action, json(detail)]);
      if (patch.state !== undefined && patch.state !== m.state) {
        if (!allowedTransition(m.state, patch.state)) {
          throw new RegistryError(409, `A machine in state ${m.state} cannot go to ${patch.state}; from ${m.state} it may go to: ${TRANSITIONS[m.state].join(', ') || 'nothing (retired is final)'}.`, {state: m.state, allowed: TRANSITIONS[m.state]});
        }
        await tx.query('UPDATE machines SET state = $2 WHERE id = $1', [id, patch.state]);
        await audit('state changed', {from: m.state, to: patch.state});
      }
      if (patch.tags !== undefined) {
        const tags = [...new Set(patch.tags)].sort();
        await tx.query('UPDATE machines SET tags = $2::text[] WHERE id = $1', [id, tags]);
        await audit('tags changed', {from: m.tags, to: tags});
      }
      if (patch.attributes !== undefined) {
        await tx.query('UPDATE machines SET attributes = $2 WHERE id = $1', [id, json(patch.attributes)]);
        await audit('attributes changed', {from: m.attributes, to: patch.attributes});
      }
      if (patch.desired !== undefined) {
        await tx.query('UPDATE machines SET desired = $2 WHERE id = $1', [id, patch.desired === null ? null : json(patch.desired)]);
        await audit('desired deployment changed', {from: m.desired, to: patch.desired});
      }
      if (patch.hostname !== undefined) {
        await tx.query('UPDATE machines SET hostname = $2 WHERE id = $1', [id, patch.hostname]);
        await audit('hostname changed', {from: m.hostname, to: patch.hostname});
      }
      await tx.query('UPDATE machines SET updated_at = now() WHERE id = $1', [id]);
    });
    return this.getMachine(id);
  }

  async deployments(id: string): Promise<Deployment[]> {
    await this.getMachine(id);
    const rows = await this.db.query(
      `SELECT d.*, (SELECT coalesce(json_agg(e.event ORDER BY e.seq), '[]') FROM deployment_events e WHERE e.deployment_id = d.id) AS events
         FROM deployments d WHERE d.machine_id = $1 ORDER BY d.started_at DESC`,
      [id],
    );
    return rows.map((r) => {
      const events = (r.events as Record<string, unknown>[]) ?? [];
      // The machine's own clock, where its events carry one: a deployment reported in one
      // batch after the fact (the registry was down) still shows how long it took.
      const stamp = (e: Record<string, unknown> | undefined) => (typeof e?.t === 'string' && !Number.isNaN(Date.parse(e.t)) ? new Date(e.t).toISOString() : null);
      const startedAt = stamp(events[0]) ?? iso(r.started_at)!;
      const finishedAt = r.outcome ? (stamp(events.find((e) => e.outcome === r.outcome)) ?? iso(r.finished_at)) : null;
      return {
        id: r.id as string,
        mode: r.mode as string,
        who: (r.who as string | null) ?? null,
        source: (r.source as string | null) ?? null,
        artifacts: (r.artifacts as Deployment['artifacts']) ?? [],
        startedAt,
        finishedAt,
        outcome: (r.outcome as string | null) ?? null,
        durationSeconds: finishedAt ? Math.round((Date.parse(finishedAt) - Date.parse(startedAt)) / 100) / 10 : null,
        events,
      };
    });
  }

  /** Every inventory report, newest first, with what changed since the one before. */
  async inventoryHistory(id: string): Promise<{receivedAt: string; changes: string[]}[]> {
    await this.getMachine(id);
    const rows = await this.db.query<{received_at: string; changes: string[]}>('SELECT received_at, changes FROM inventory_reports WHERE machine_id = $1 ORDER BY id DESC LIMIT 200', [id]);
    return rows.map((r) => ({receivedAt: iso(r.received_at)!, changes: r.changes}));
  }

  async audit(id?: string): Promise<{at: string; actor: string; machine: string | null; action: string; detail: unknown}[]> {
    const rows = await this.db.query<{at: string; actor: string; machine_id: string | null; action: string; detail: unknown}>(
      `SELECT at, actor, machine_id, action, detail FROM audit ${id ? 'WHERE machine_id = $1' : ''} ORDER BY id DESC LIMIT 500`,
      id ? [id] : [],
    );
    return rows.map((r) => ({at: iso(r.at)!, actor: r.actor, machine: r.machine_id, action: r.action, detail: r.detail}));
  }

  /** The desired deployment of the machine that has this MAC (how a machine asks what to run). */
  async desiredByMac(mac: string): Promise<{machine: string; state: MachineState; desired: DesiredDeployment | null}> {
    const [r] = await this.db.query<{id: string; state: MachineState; desired: DesiredDeployment | null}>('SELECT m.id, m.state, m.desired FROM machine_macs x JOIN machines m ON m.id = x.machine_id WHERE x.mac = $1', [mac.toLowerCase()]);
    if (!r) throw new RegistryError(404, `No machine in the registry has MAC ${mac.toLowerCase()}.`);
    return {machine: r.id, state: r.state, desired: r.desired ?? null};
  }

  async counts(): Promise<Record<MachineState, number>> {
    const rows = await this.db.query<{state: MachineState; n: number}>('SELECT state, count(*)::int AS n FROM machines GROUP BY state');
    return Object.fromEntries(MACHINE_STATES.map((s) => [s, Number(rows.find((r) => r.state === s)?.n ?? 0)])) as Record<MachineState, number>;
  }
}
