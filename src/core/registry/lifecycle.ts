// The registry's rules, pure: a machine's lifecycle and which transitions it allows, what
// each token role may do, and what a report from the deploy environment must look like.

import {validate, type Schema, type SchemaProblem} from '../json-schema.js';
import {INVENTORY_SCHEMA} from '../inventory.js';

export const MACHINE_STATES = ['new', 'ready', 'provisioning', 'deployed', 'failed', 'maintenance', 'retired'] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

/**
 * new → ready → provisioning → deployed | failed → maintenance → retired, and the ways back
 * an operator needs: a deployed or failed machine is deployed again or set aside; retired
 * is the end.
 */
export const TRANSITIONS: Record<MachineState, readonly MachineState[]> = {
  new: ['ready', 'provisioning', 'maintenance', 'retired'],
  ready: ['provisioning', 'maintenance', 'retired'],
  provisioning: ['deployed', 'failed', 'maintenance'],
  deployed: ['provisioning', 'ready', 'maintenance', 'retired'],
  failed: ['provisioning', 'ready', 'maintenance', 'retired'],
  maintenance: ['ready', 'provisioning', 'retired'],
  retired: [],
};

export function allowedTransition(from: MachineState, to: MachineState): boolean {
  return TRANSITIONS[from].includes(to);
}

export const ROLES = ['admin', 'reporter', 'reader'] as const;
export type Role = (typeof ROLES)[number];

/** What a request needs: read the registry, post reports, change records. */
export type Permission = 'read' | 'report' | 'write';

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['read', 'report', 'write'],
  // An agent's token: it reports, and reads only its own desired deployment (by MAC).
  reporter: ['report'],
  reader: ['read'],
};

export function roleMay(role: Role, p: Permission): boolean {
  return GRANTS[role].includes(p);
}

export const DEPLOY_OUTCOMES = ['succeeded', 'failed'] as const;

const MAC: Schema = {type: 'string', pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$'};

/**
 * POST /api/v1/reports: who reports (the machine's DMI UUID and MACs), and any of its
 * inventory, the deployment it runs and that deployment's events (events.jsonl lines,
 * numbered: the same event posted twice is stored once).
 */
export const REPORT_SCHEMA: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['machine'],
  properties: {
    machine: {
      type: 'object',
      additionalProperties: false,
      required: ['macs'],
      properties: {uuid: {type: 'string', pattern: '^[0-9a-f-]{36}$'}, macs: {type: 'array', items: MAC}, hostname: {type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$'}},
    },
    inventory: INVENTORY_SCHEMA,
    deployment: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'mode'],
      properties: {
        id: {type: 'string', pattern: '^[A-Za-z0-9._-]{8,64}$'},
        mode: {type: 'string', enum: ['deploy', 'test']},
        who: {type: 'string'},
        source: {type: 'string', enum: ['agent', 'cli']},
        artifacts: {type: 'array', items: {type: 'object', additionalProperties: false, required: ['name', 'sha256'], properties: {name: {type: 'string'}, url: {type: 'string'}, sha256: {type: 'string', pattern: '^[0-9a-f]{64}$'}}}},
      },
    },
    events: {
      type: 'array',
      items: {type: 'object', required: ['seq', 'msg'], properties: {seq: {type: 'integer', minimum: 0}, msg: {type: 'string'}, t: {type: 'string'}, level: {type: 'string'}, outcome: {type: 'string'}}},
    },
  },
};

export interface Report {
  machine: {uuid?: string; macs: string[]; hostname?: string};
  inventory?: import('../inventory.js').HardwareInventory;
  deployment?: {id: string; mode: 'deploy' | 'test'; who?: string; source?: 'agent' | 'cli'; artifacts?: {name: string; url?: string; sha256: string}[]};
  events?: ({seq: number; msg: string; t?: string; level?: string; outcome?: string} & Record<string, unknown>)[];
}

export function validateReport(value: unknown): SchemaProblem[] {
  const problems = validate(REPORT_SCHEMA, value);
  if (problems.length) return problems;
  const r = value as Report;
  if (!r.machine.uuid && !r.machine.macs.length) problems.push({path: 'machine', message: 'names neither a uuid nor a MAC: the registry cannot tell which machine reports'});
  if (r.events?.length && !r.deployment) problems.push({path: 'events', message: 'events belong to a deployment: the report has no deployment'});
  return problems;
}

/** What the lifecycle becomes when a report says a deployment started or ended; undefined: unchanged. */
export function stateAfterReport(current: MachineState, r: Report): MachineState | undefined {
  if (r.deployment?.mode !== 'deploy') return undefined;
  const outcome = [...(r.events ?? [])].reverse().find((e) => e.outcome === 'succeeded' || e.outcome === 'failed')?.outcome as 'succeeded' | 'failed' | undefined;
  const want: MachineState = outcome === 'succeeded' ? 'deployed' : outcome === 'failed' ? 'failed' : 'provisioning';
  if (want === current) return undefined;
  // A deployment that started and ended between two reports goes through provisioning.
  if (outcome && !allowedTransition(current, want) && allowedTransition(current, 'provisioning')) return want;
  return allowedTransition(current, want) ? want : undefined;
}

/** The machine's key: its DMI UUID, or its lowest MAC when the firmware gives no UUID. */
export function machineKey(m: Report['machine']): string {
  return m.uuid ?? `mac-${[...m.macs].sort()[0]!.replace(/:/g, '')}`;
}

/**
 * What `anemos deploy` tells the registry as it hands over: the deployment (the id the
 * agent reports under too), who started it, the artifacts it verified, and event 0. The
 * machine is named by its MACs (and its DMI UUID where the host could read it); the
 * registry joins it to the record the agent's reports make.
 */
export function planDeploymentReport(o: {
  deploymentId: string;
  mode: 'deploy' | 'test';
  who: string;
  at: string;
  hostname: string;
  macs: string[];
  uuid?: string;
  method: string;
  artifacts: {name: string; url: string; sha256: string}[];
}): Report {
  return {
    machine: {...(o.uuid ? {uuid: o.uuid} : {}), macs: [...new Set(o.macs.map((m) => m.toLowerCase()))].sort(), hostname: o.hostname},
    deployment: {id: o.deploymentId, mode: o.mode, who: o.who, source: 'cli', artifacts: o.artifacts.map((a) => ({name: a.name, url: a.url, sha256: a.sha256}))},
    events: [{seq: 0, t: o.at, level: 'info', msg: `anemos ${o.mode === 'test' ? 'test-boot' : 'deploy'} by ${o.who}: handing over to the deploy environment (${o.method})`}],
  };
}
