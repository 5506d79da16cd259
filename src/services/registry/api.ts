// The registry's API as one table: each route's method, path, who may call it, its query
// parameters, its body's schema, what it answers and its handler. The server dispatches
// from this table, checks permissions and validates requests from it, and the OpenAPI
// document (openapi.ts) is generated from it, so the description cannot drift from the code.

import {bootDecision, installerRefused, type Idle} from '../../core/netboot/boot-decision.js';
import type {InstallerKind} from '../../core/netboot/installer-media.js';
import type {MediaItem} from '../netboot/media.js';

/** What GET /api/v1/boot/explain says of an installer boot. */
export interface InstallerExplained {
  media: string;
  distribution: string;
  release: string;
  arch: string;
  kind: InstallerKind;
  answer: string;
}
import {DESIRED_SCHEMA, validateDesired} from '../../core/config.js';
import {INVENTORY_SCHEMA} from '../../core/inventory.js';
import type {Schema} from '../../core/json-schema.js';
import {
  DEPLOYMENT_REQUEST_SCHEMA,
  ENROLL_SCHEMA,
  MACHINE_STATES,
  REPORT_SCHEMA,
  ROLES,
  TOKEN_KINDS,
  validateDeploymentRequest,
  validateEnroll,
  validateReport,
  type DeploymentRequest,
  type EnrollRequest,
  type Permission,
  type Report,
  type Role,
  type TokenKind,
} from '../../core/registry/lifecycle.js';
import {validate, type SchemaProblem} from '../../core/json-schema.js';
import {MACHINE_SORTS, MAX_LIMIT, Registry, RegistryError, type Caller, type MachineFilter, type DeploymentFilter, type DesiredDeployment} from './registry.js';
import type {Metrics} from './metrics.js';

export interface ApiRequest {
  params: Record<string, string>;
  query: Record<string, string | number | boolean>;
  body: unknown;
  caller: Caller | undefined;
}

export interface ApiEnv {
  registry: Registry;
  version: string;
  metrics: Metrics;
  connections: () => number;
  now: () => Date;
  /** Network boot, when this server runs it (anemos serve --boot): whether unknown machines are answered. */
  boot?: {discover: boolean; idle?: Idle; wake?: (macs: string[]) => Promise<number>; installer?: (mac: string) => Promise<InstallerExplained | {problem: string} | {pending: string}>; media?: () => MediaItem[]};
}

export interface QueryParam {
  schema: Schema;
  description: string;
}

export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI form: /api/v1/machines/{id}. */
  path: string;
  /** public: no token (read only, reveals nothing secret); any: any valid token. */
  permission: Permission | 'public' | 'any';
  /** A machine's credential (or deployment's token) may call it for its own machine; the handler checks which. */
  self?: boolean;
  summary: string;
  description?: string;
  query?: Record<string, QueryParam>;
  body?: {schema: Schema; name: string; validate?: (v: unknown) => SchemaProblem[]; mergePatch?: boolean};
  response: {description: string; schema: unknown; contentType?: string};
  /** Statuses other than 200 it answers with, for the description. */
  errors: number[];
  handle(r: ApiRequest, env: ApiEnv): Promise<unknown>;
}

/** A handler's answer that is not JSON (the metrics' text, a readiness that failed). */
export class RawAnswer {
  constructor(
    readonly status: number,
    readonly contentType: string,
    readonly body: string,
  ) {}
}

const str = (description: string, extra: Schema = {}): QueryParam => ({schema: {type: 'string', maxLength: 256, ...extra}, description});
const paging = {
  limit: {schema: {type: 'integer', minimum: 1, maximum: MAX_LIMIT}, description: `Items per page (1–${MAX_LIMIT}; default 100).`},
  cursor: str('The "next" value of the page before (opaque).', {maxLength: 1024}),
} satisfies Record<string, QueryParam>;

const ref = (name: string) => ({$ref: `#/components/schemas/${name}`});
const list = (key: string, item: string, total = true) => ({
  type: 'object',
  required: [key, 'next'],
  properties: {[key]: {type: 'array', items: ref(item)}, next: {type: ['string', 'null'], description: 'The cursor of the next page; null on the last'}, ...(total ? {total: {type: 'integer'}} : {})},
});

/** Shapes the answers have, for the description (components.schemas). */
export const API_SCHEMAS: Record<string, unknown> = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {error: {type: 'object', required: ['code', 'message'], properties: {code: {type: 'string'}, message: {type: 'string'}, hint: {type: 'string'}, problems: {type: 'array'}, allowed: {type: 'array', items: {type: 'string'}}}}},
  },
  State: {type: 'string', enum: MACHINE_STATES},
  Inventory: INVENTORY_SCHEMA,
  Report: REPORT_SCHEMA,
  Enroll: ENROLL_SCHEMA,
  DeploymentRequest: DEPLOYMENT_REQUEST_SCHEMA,
  Desired: {...DESIRED_SCHEMA, type: ['object', 'null']},
  Machine: {
    type: 'object',
    properties: {
      id: {type: 'string'},
      uuid: {type: ['string', 'null']},
      hostname: {type: ['string', 'null']},
      state: ref('State'),
      tags: {type: 'array', items: {type: 'string'}},
      macs: {type: 'array', items: {type: 'string'}},
      addresses: {type: 'array', items: {type: 'string'}},
      lastSeen: {type: ['string', 'null'], description: "The registry's clock"},
      hardware: {type: ['string', 'null']},
      attributes: {type: 'object'},
      desired: ref('Desired'),
      inventory: ref('Inventory'),
      enrolled: {type: 'boolean'},
    },
  },
  Deployment: {
    type: 'object',
    properties: {
      id: {type: 'string'},
      machine: {type: 'string'},
      mode: {type: 'string'},
      who: {type: ['string', 'null']},
      outcome: {type: ['string', 'null'], enum: ['succeeded', 'failed', 'aborted', null]},
      recordedAt: {type: 'string', description: "The registry's clock: when it was recorded"},
      outcomeAt: {type: ['string', 'null'], description: "The registry's clock: when the outcome arrived"},
      machineClock: {type: 'object', description: "The machine's clock, from its events", properties: {startedAt: {type: ['string', 'null']}, finishedAt: {type: ['string', 'null']}}},
      durationSeconds: {type: ['number', 'null']},
      events: {type: 'integer'},
      artifacts: {type: 'array'},
    },
  },
  Event: {type: 'object', required: ['seq', 'msg', 'receivedAt'], properties: {seq: {type: 'integer'}, msg: {type: 'string'}, t: {type: 'string', description: "The machine's clock"}, level: {type: 'string'}, outcome: {type: 'string'}, receivedAt: {type: 'string', description: "The registry's clock"}}},
  AuditEntry: {type: 'object', properties: {id: {type: 'integer'}, at: {type: 'string'}, actor: {type: 'string'}, machine: {type: ['string', 'null']}, action: {type: 'string'}, detail: {}}},
  Token: {type: 'object', properties: {id: {type: 'string'}, kind: {type: 'string', enum: TOKEN_KINDS}, note: {type: ['string', 'null']}, machine: {type: ['string', 'null']}, deployment: {type: ['string', 'null']}, createdAt: {type: 'string'}, expiresAt: {type: ['string', 'null']}, usesLeft: {type: ['integer', 'null']}, revokedAt: {type: ['string', 'null']}, lastUsedAt: {type: ['string', 'null']}}},
  NewToken: {type: 'object', required: ['id', 'token', 'kind'], properties: {id: {type: 'string'}, token: {type: 'string', description: 'Shown once; only its hash is kept'}, kind: {type: 'string'}, expiresAt: {type: ['string', 'null']}}},
};

const PATCH_SCHEMA: Schema = {
  type: 'object',
  additionalProperties: false,
  description: 'A JSON Merge Patch (RFC 7396): members given replace, null removes, objects (attributes, desired) merge member by member.',
  properties: {
    state: {type: 'string', enum: MACHINE_STATES},
    tags: {type: 'array', maxItems: 64, items: {type: 'string', pattern: '^[A-Za-z0-9._:/-]{1,64}$'}},
    attributes: {type: 'object'},
    desired: {type: 'object'},
    hostname: {type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$'},
  },
};

const TOKEN_REQUEST_SCHEMA: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['role'],
  properties: {
    role: {type: 'string', enum: ROLES},
    note: {type: 'string', maxLength: 200, description: 'What it is for: the audit log names the token by it'},
    expiresInSeconds: {type: 'integer', minimum: 60, maximum: 10 * 365 * 86400},
    uses: {type: 'integer', minimum: 1, maximum: 100000, description: 'Enroll tokens: how many machines it may register'},
  },
};

/** A machine's credential or deployment's token acts on its own machine only. */
function own(r: ApiRequest, machineId: string): void {
  if (r.caller && !Registry.mayActOn(r.caller, machineId)) throw new RegistryError(403, 'not-your-machine', `This token speaks for machine ${r.caller.machineId} only.`, {hint: 'Read other machines with a reader, operator or admin token.'});
}

const machinePath = {name: 'id', description: "The machine's id (its DMI UUID, or mac-<lowest MAC>), its UUID or one of its MACs"};

export const ROUTES: ApiRoute[] = [
  {
    method: 'GET',
    path: '/healthz',
    permission: 'public',
    summary: 'The process is up',
    response: {description: 'Up', schema: {type: 'object', properties: {status: {const: 'ok'}, version: {type: 'string'}}}},
    errors: [],
    handle: async (_r, env) => ({status: 'ok', version: env.version}),
  },
  {
    method: 'GET',
    path: '/readyz',
    permission: 'public',
    summary: 'The database answers (503 when it does not)',
    response: {description: 'Ready', schema: {type: 'object', properties: {status: {const: 'ready'}, databaseMs: {type: 'number'}}}},
    errors: [503],
    handle: async (_r, env) => {
      try {
        return {status: 'ready', databaseMs: Math.round((await env.registry.ping()) * 10) / 10};
      } catch (err) {
        throw new RegistryError(503, 'database-down', `The database does not answer: ${(err as Error).message}.`, {hint: "Look at the database server (or the data directory's disk)."});
      }
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    permission: 'read',
    summary: 'Prometheus metrics: requests by route and status, reports, events, deployments by outcome, database latency',
    response: {description: 'Prometheus text format 0.0.4', schema: {type: 'string'}, contentType: 'text/plain; version=0.0.4'},
    errors: [401, 403],
    handle: async (_r, env) => new RawAnswer(200, 'text/plain; version=0.0.4; charset=utf-8', env.metrics.render({deployments: await env.registry.deploymentCounts(), machines: await env.registry.counts(), connections: env.connections()})),
  },
  {
    method: 'GET',
    path: '/api/v1/openapi.json',
    permission: 'public',
    summary: 'This description',
    response: {description: 'OpenAPI 3.1', schema: {type: 'object'}},
    errors: [],
    // Filled in by openapi.ts (it imports this table).
    handle: async () => undefined,
  },
  {
    method: 'GET',
    path: '/api/v1/whoami',
    permission: 'any',
    summary: 'Who the token is: its kind, note and what it is bound to',
    response: {description: 'The token', schema: {type: 'object', properties: {token: {type: 'string'}, kind: {type: 'string'}, note: {type: ['string', 'null']}, machine: {type: ['string', 'null']}, deployment: {type: ['string', 'null']}, actor: {type: 'string'}}}},
    errors: [401],
    handle: async (r) => ({token: r.caller!.tokenId, kind: r.caller!.kind, note: r.caller!.note, machine: r.caller!.machineId, deployment: r.caller!.deploymentId, actor: r.caller!.actor}),
  },
  {
    method: 'GET',
    path: '/api/v1/machines',
    permission: 'read',
    summary: 'Machines, filtered and sorted, a page at a time',
    query: {
      state: {schema: {type: 'string', enum: MACHINE_STATES}, description: 'Only machines in this state'},
      tag: str('Only machines with this tag'),
      q: str('Text in the id, hostname, serial, product, a MAC, an address or a tag'),
      sort: {schema: {type: 'string', enum: MACHINE_SORTS}, description: 'hostname (default), state, seen (newest first) or id'},
      ...paging,
    },
    response: {description: 'A page of machines', schema: list('machines', 'Machine')},
    errors: [400, 401, 403],
    handle: async (r, env) => {
      const q = r.query as MachineFilter & {limit?: number; cursor?: string};
      const p = await env.registry.listMachines({state: q.state, tag: q.tag, q: q.q, sort: q.sort}, {limit: q.limit, cursor: q.cursor});
      return {machines: p.items, next: p.next, total: p.total};
    },
  },
  {
    method: 'GET',
    path: '/api/v1/machines/{id}',
    permission: 'read',
    self: true,
    summary: 'One machine with its last inventory and desired deployment',
    response: {description: 'The machine', schema: ref('Machine')},
    errors: [401, 403, 404],
    handle: async (r, env) => {
      const m = await env.registry.getMachine(r.params.id!);
      own(r, m.id);
      return m;
    },
  },
  {
    method: 'PATCH',
    path: '/api/v1/machines/{id}',
    permission: 'write',
    summary: 'Change state (as the lifecycle allows), tags, attributes, hostname, desired deployment',
    description: 'A JSON Merge Patch (RFC 7396): given members replace, null removes, attributes and desired merge member by member. The desired deployment is validated like anemos.conf (every problem with its path; 400 and nothing stored).',
    body: {schema: PATCH_SCHEMA, name: 'Patch', mergePatch: true},
    response: {description: 'The machine as it is now', schema: ref('Machine')},
    errors: [400, 401, 403, 404, 409, 415],
    handle: async (r, env) => env.registry.patchMachine(r.params.id!, r.body as Record<string, unknown>, r.caller!.actor),
  },
  {
    method: 'PUT',
    path: '/api/v1/machines/{id}/desired',
    permission: 'write',
    summary: 'Replace the desired deployment whole',
    description: 'The body is the desired deployment ({kernel, initramfs, payload, config}), validated like anemos.conf: every problem with its path, 400 and nothing stored.',
    body: {schema: DESIRED_SCHEMA, name: 'DesiredBody', validate: (v) => validateDesired(v).map((p) => ({path: p.split(':')[0]!, message: p.slice(p.indexOf(':') + 2)}))},
    response: {description: 'The machine as it is now', schema: ref('Machine')},
    errors: [400, 401, 403, 404, 415],
    handle: async (r, env) => env.registry.setDesired(r.params.id!, r.body as DesiredDeployment, r.caller!.actor),
  },
  {
    method: 'DELETE',
    path: '/api/v1/machines/{id}/desired',
    permission: 'write',
    summary: 'Remove the desired deployment',
    response: {description: 'The machine as it is now', schema: ref('Machine')},
    errors: [401, 403, 404],
    handle: async (r, env) => env.registry.setDesired(r.params.id!, null, r.caller!.actor),
  },
  {
    method: 'GET',
    path: '/api/v1/machines/{id}/inventory-history',
    permission: 'read',
    summary: 'Inventory reports, newest first, each with what changed since the one before',
    query: paging,
    response: {description: 'A page of reports', schema: {type: 'object', properties: {reports: {type: 'array'}, next: {type: ['string', 'null']}}}},
    errors: [400, 401, 403, 404],
    handle: async (r, env) => {
      const p = await env.registry.inventoryHistory(r.params.id!, {limit: r.query.limit as number | undefined, cursor: r.query.cursor as string | undefined});
      return {reports: p.items, next: p.next};
    },
  },
  {
    method: 'GET',
    path: '/api/v1/machines/by-mac/{mac}/desired',
    permission: 'read',
    self: true,
    summary: 'The desired deployment of the machine with this MAC (how anemos deploy --from-registry asks)',
    response: {description: 'Machine, state, desired', schema: {type: 'object', properties: {machine: {type: 'string'}, state: ref('State'), desired: ref('Desired')}}},
    errors: [400, 401, 403, 404],
    handle: async (r, env) => {
      if (!/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(r.params.mac!)) throw new RegistryError(400, 'bad-mac', `${r.params.mac} is not a MAC address.`, {hint: 'Write it as 52:54:00:12:34:56.'});
      const d = await env.registry.desiredByMac(r.params.mac!);
      own(r, d.machine);
      return d;
    },
  },
  {
    method: 'POST',
    path: '/api/v1/machines/{id}/wake',
    permission: 'write',
    summary: "Wake a machine: Wake-on-LAN magic packets for each of its MACs, broadcast on the boot segment (anemos serve --boot)",
    response: {description: 'What was sent', schema: {type: 'object', properties: {machine: {type: 'string'}, macs: {type: 'array', items: {type: 'string'}}, packets: {type: 'integer'}}}},
    errors: [401, 403, 404, 409],
    handle: async (r, env) => {
      const m = await env.registry.getMachine(r.params.id!);
      if (!env.boot?.wake) throw new RegistryError(409, 'boot-off', 'This registry does not run network boot: it has no boot segment to send Wake-on-LAN on.', {hint: 'Run anemos serve with --boot --boot-interface IF (the segment the machine is on).'});
      if (!m.macs.length) throw new RegistryError(409, 'no-mac', `Machine ${m.id} has no MAC on record to wake.`);
      const packets = await env.boot.wake(m.macs);
      await env.registry.auditEntry(r.caller!.actor, m.id, 'machine woken', {macs: m.macs, packets});
      return {machine: m.id, macs: m.macs, packets};
    },
  },
  {
    method: 'GET',
    path: '/api/v1/boot/media',
    permission: 'read',
    summary: 'The installation media this server boots installers from (serve --media DIR, and ISOs fetched for records): what was found in each, or why it is not offered',
    response: {description: 'The media', schema: {type: 'object', properties: {served: {type: 'boolean'}, media: {type: 'array', items: {type: 'object', properties: {id: {type: 'string'}, size: {type: 'integer'}, volume: {type: 'string'}, names: {type: 'string'}, media: {type: 'object'}, problem: {type: 'string'}}}}}}},
    errors: [401, 403],
    handle: async (_r, env) => ({served: Boolean(env.boot?.media), media: (env.boot?.media?.() ?? []).map(({file: _file, ...m}) => m)}),
  },
  {
    method: 'GET',
    path: '/api/v1/boot/explain',
    permission: 'read',
    summary: 'What a machine would boot from the network now, and why: the record, its state and the rule that decided',
    query: {mac: str('The MAC the machine boots with', {pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$'})},
    response: {description: 'The decision', schema: {type: 'object', properties: {mac: {type: 'string'}, served: {type: 'boolean'}, discover: {type: 'boolean'}, machine: {type: ['object', 'null']}, boot: {type: 'string'}, mode: {type: 'string'}, rule: {type: 'string'}, installer: {type: 'object', description: 'An installer boot: the media, the kind, and the answer file rendered from the record now (its report command with placeholders for the boot\'s deployment and token)'}, lastBoot: {type: ['object', 'null']}}}},
    errors: [400, 401, 403],
    handle: async (r, env) => {
      const mac = (r.query as {mac?: string}).mac?.toLowerCase();
      if (!mac) throw new RegistryError(400, 'bad-query', 'mac= is required: the MAC the machine boots with.', {hint: 'GET /api/v1/boot/explain?mac=52:54:00:12:34:56'});
      const record = await env.registry.bootRecord(mac);
      const discover = env.boot?.discover ?? false;
      let d = bootDecision({mac}, record, {discover, idle: env.boot?.idle});
      // An installer: the answer file it would get now, rendered from the record (or what stops it), as the boot service decides.
      let installer: InstallerExplained | {pending: string} | undefined;
      if (d.boot === 'installer' && env.boot?.installer) {
        const i = await env.boot.installer(mac);
        if ('problem' in i) d = installerRefused(d, i.problem);
        else installer = i;
      }
      const lastBoot = record ? (await env.registry.getMachine(record.id)).lastBoot : null;
      return {mac, served: Boolean(env.boot), discover, machine: record ?? null, boot: d.boot, ...(d.boot === 'environment' ? {mode: d.mode} : {}), rule: env.boot ? d.rule : `${d.rule} (if this server booted machines: network boot is off here, anemos serve --boot)`, ...(installer ? {installer} : {}), lastBoot};
    },
  },
  {
    method: 'POST',
    path: '/api/v1/enroll',
    permission: 'enroll',
    summary: "Register a new machine (an enroll token) and get the machine's own credential",
    description: 'The machine is named by its DMI UUID and MACs; a MAC or UUID bound to another machine is refused (409, audited), and so is a machine that has a credential already. The credential is shown once: the machine keeps it (0600) and reports and records its deployments with it.',
    body: {schema: ENROLL_SCHEMA, name: 'Enroll', validate: validateEnroll},
    response: {description: 'The machine and its credential', schema: {type: 'object', properties: {machine: {type: 'string'}, created: {type: 'boolean'}, credential: ref('NewToken')}}},
    errors: [400, 401, 403, 409, 413, 415],
    handle: async (r, env) => env.registry.enroll(r.body as EnrollRequest, r.caller!),
  },
  {
    method: 'POST',
    path: '/api/v1/reports',
    permission: 'report',
    summary: "A machine's inventory and its deployment's events; stored whole or not at all, the same event twice once",
    description: "With a machine's credential or a deployment's token, for that machine (and deployment) only: a report naming another is refused (403, audited).",
    body: {schema: REPORT_SCHEMA, name: 'Report', validate: validateReport},
    response: {description: 'Stored', schema: {type: 'object', properties: {machine: {type: 'string'}, changes: {type: 'array'}, events: {type: 'integer'}, state: ref('State')}}},
    errors: [400, 401, 403, 404, 409, 413, 415],
    handle: async (r, env) => {
      const out = await env.registry.report(r.body as Report, r.caller!);
      env.metrics.count('events_stored', out.events);
      return out;
    },
  },
  {
    method: 'POST',
    path: '/api/v1/drift',
    permission: 'report',
    summary: "A live machine's drift: what differs from the image it booted, kept on its record (the last report only)",
    description: "With the token a live network boot gave the machine for this (it lasts until the machine's next boot): the listing of core/live/drift.ts' script, as anemos live diff reads it. The live system sends it every 5 minutes (anemos-drift.timer).",
    body: {schema: {type: 'object', additionalProperties: false, required: ['listing'], properties: {listing: {type: 'string', maxLength: 1_000_000}}}, name: 'DriftReport'},
    response: {description: 'Kept', schema: {type: 'object', properties: {machine: {type: 'string'}, summary: {type: 'object'}}}},
    errors: [400, 401, 403, 413, 415],
    handle: async (r, env) => env.registry.reportDrift((r.body as {listing: string}).listing, r.caller!),
  },
  {
    method: 'POST',
    path: '/api/v1/deployments',
    permission: 'deploy',
    summary: "Record a deployment about to start and get the token its deploy environment reports with",
    description: "An operator or admin for any machine (one the registry does not know is registered), a machine's credential for its own. The token is bound to this machine and deployment and expires with it.",
    body: {schema: DEPLOYMENT_REQUEST_SCHEMA, name: 'DeploymentRequest', validate: validateDeploymentRequest},
    response: {description: 'The deployment and its token', schema: {type: 'object', properties: {deployment: {type: 'string'}, machine: {type: 'string'}, token: ref('NewToken')}}},
    errors: [400, 401, 403, 409, 413, 415],
    handle: async (r, env) => env.registry.createDeployment(r.body as DeploymentRequest, r.caller!, env.now()),
  },
  {
    method: 'GET',
    path: '/api/v1/deployments',
    permission: 'read',
    summary: 'Deployments of every machine, newest first, filtered',
    query: {
      machine: str('Only this machine (id, UUID or MAC)'),
      outcome: {schema: {type: 'string', enum: ['succeeded', 'failed', 'aborted', 'running']}, description: 'Only deployments with this outcome (running: none yet)'},
      mode: {schema: {type: 'string', enum: ['deploy', 'test']}, description: 'Only deploys, or only test boots'},
      ...paging,
    },
    response: {description: 'A page of deployments', schema: list('deployments', 'Deployment')},
    errors: [400, 401, 403, 404],
    handle: async (r, env) => {
      const q = r.query as DeploymentFilter & {limit?: number; cursor?: string};
      const p = await env.registry.deployments({machine: q.machine, outcome: q.outcome, mode: q.mode}, {limit: q.limit, cursor: q.cursor});
      return {deployments: p.items, next: p.next, total: p.total};
    },
  },
  {
    method: 'GET',
    path: '/api/v1/deployments/{id}',
    permission: 'read',
    self: true,
    summary: 'One deployment',
    response: {description: 'The deployment', schema: ref('Deployment')},
    errors: [401, 403, 404],
    handle: async (r, env) => {
      const d = await env.registry.deployment(r.params.id!);
      own(r, d.machine);
      return d;
    },
  },
  {
    method: 'GET',
    path: '/api/v1/deployments/{id}/events',
    permission: 'read',
    self: true,
    summary: "A deployment's events after a sequence number, in order (how anemos machines watch follows one)",
    query: {after: {schema: {type: 'integer', minimum: -1, maximum: 2147483647}, description: 'Only events with a higher sequence number (default -1: all)'}, limit: paging.limit},
    response: {description: 'Events', schema: {type: 'object', properties: {events: {type: 'array', items: ref('Event')}, next: {type: ['integer', 'null'], description: 'Pass as after= for the rest; null when there is no more now'}}}},
    errors: [400, 401, 403, 404],
    handle: async (r, env) => {
      own(r, (await env.registry.deployment(r.params.id!)).machine);
      return env.registry.events(r.params.id!, (r.query.after as number | undefined) ?? -1, r.query.limit as number | undefined);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/machines/{id}/audit',
    permission: 'read',
    summary: "The machine's audit log, newest first",
    query: paging,
    response: {description: 'A page of entries', schema: list('audit', 'AuditEntry', false)},
    errors: [400, 401, 403, 404],
    handle: async (r, env) => {
      const m = await env.registry.getMachine(r.params.id!);
      const p = await env.registry.audit({machine: m.id}, {limit: r.query.limit as number | undefined, cursor: r.query.cursor as string | undefined});
      return {audit: p.items, next: p.next};
    },
  },
  {
    method: 'GET',
    path: '/api/v1/audit',
    permission: 'read',
    summary: 'The audit log, newest first, a page at a time',
    query: {machine: str('Only this machine'), action: str('Only this action ("state changed", "identity refused", ...)'), actor: str('Text in the actor (a token\'s note)'), ...paging},
    response: {description: 'A page of entries', schema: list('audit', 'AuditEntry', false)},
    errors: [400, 401, 403],
    handle: async (r, env) => {
      const q = r.query as {machine?: string; action?: string; actor?: string; limit?: number; cursor?: string};
      const p = await env.registry.audit({machine: q.machine, action: q.action, actor: q.actor}, {limit: q.limit, cursor: q.cursor});
      return {audit: p.items, next: p.next};
    },
  },
  {
    method: 'POST',
    path: '/api/v1/tokens',
    permission: 'tokens',
    summary: 'A new token; shown once, only its hash is kept',
    body: {schema: TOKEN_REQUEST_SCHEMA, name: 'TokenRequest'},
    response: {description: 'The token', schema: ref('NewToken')},
    errors: [400, 401, 403, 413, 415],
    handle: async (r, env) => {
      const b = r.body as {role: Role; note?: string; expiresInSeconds?: number; uses?: number};
      return env.registry.createToken({role: b.role, note: b.note, ...(b.expiresInSeconds ? {expiresAt: new Date(env.now().getTime() + b.expiresInSeconds * 1000)} : {}), ...(b.uses ? {uses: b.uses} : {})}, r.caller!.actor);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/tokens',
    permission: 'tokens',
    summary: 'Tokens (never their secrets), newest first',
    query: {kind: {schema: {type: 'string', enum: TOKEN_KINDS}, description: 'Only this kind'}, live: {schema: {type: 'boolean'}, description: 'Only tokens that still work'}, ...paging},
    response: {description: 'A page of tokens', schema: list('tokens', 'Token')},
    errors: [400, 401, 403],
    handle: async (r, env) => {
      const q = r.query as {kind?: TokenKind; live?: boolean; limit?: number; cursor?: string};
      const p = await env.registry.listTokens({kind: q.kind, live: q.live}, {limit: q.limit, cursor: q.cursor});
      return {tokens: p.items, next: p.next, total: p.total};
    },
  },
  {
    method: 'DELETE',
    path: '/api/v1/tokens/{id}',
    permission: 'tokens',
    summary: 'Revoke a token: it stops working at once',
    response: {description: 'The token as it is now', schema: ref('Token')},
    errors: [401, 403, 404],
    handle: async (r, env) => env.registry.revokeToken(r.params.id!, r.caller!.actor),
  },
];

export const PATH_PARAMS: Record<string, {description: string}> = {id: machinePath, mac: {description: 'A MAC address, 52:54:00:12:34:56'}};

/** Query values as the route declares them: strings, integers, booleans; unknown names and bad values are refused. */
export function parseQuery(route: ApiRoute, params: URLSearchParams): Record<string, string | number | boolean> {
  const declared = route.query ?? {};
  const out: Record<string, string | number | boolean> = {};
  const problems: SchemaProblem[] = [];
  for (const [name, raw] of params) {
    const p = declared[name];
    if (!p) {
      problems.push({path: name, message: 'is not a parameter of this route', hint: Object.keys(declared).length ? `Its parameters: ${Object.keys(declared).join(', ')}.` : 'It takes none.'});
      continue;
    }
    if (name in out) {
      problems.push({path: name, message: 'is given more than once'});
      continue;
    }
    const value = p.schema.type === 'integer' ? (/^-?\d{1,12}$/.test(raw) ? Number(raw) : raw) : p.schema.type === 'boolean' ? (raw === 'true' ? true : raw === 'false' ? false : raw) : raw;
    const bad = validate(p.schema, value, name);
    if (bad.length) problems.push(...bad);
    else out[name] = value;
  }
  if (problems.length) throw new RegistryError(400, 'bad-query', `The query has ${problems.length} problem${problems.length > 1 ? 's' : ''}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}.`, {problems, hint: problems.find((p) => p.hint)?.hint});
  return out;
}
