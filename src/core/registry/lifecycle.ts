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

/** The roles a person gives a token (anemos tokens create --role). */
export const ROLES = ['admin', 'operator', 'reader', 'enroll'] as const;
export type Role = (typeof ROLES)[number];
/**
 * Every kind of token: the roles, and the two the registry mints itself, each bound to one
 * record: a machine's credential (enrollment gives it to the machine) and a deployment's
 * token (recording a deployment gives it to the deploy environment; it expires with it).
 */
export const TOKEN_KINDS = [...ROLES, 'machine', 'deployment'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

/**
 * What a request needs. read: the registry's records; write: change machines (state, tags,
 * attributes, desired deployment); deploy: record a deployment and get its token; report:
 * post inventory and events; enroll: register a new machine; tokens: make and revoke tokens.
 */
export const PERMISSIONS = ['read', 'write', 'deploy', 'report', 'enroll', 'tokens'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Record<TokenKind, readonly Permission[]> = {
  admin: PERMISSIONS,
  operator: ['read', 'write', 'deploy'],
  reader: ['read'],
  // Registers a new machine once, which gets its own credential; it reads and changes nothing.
  enroll: ['enroll'],
  // Bound to their machine (and deployment): the registry checks every report's identity against it.
  machine: ['report', 'deploy'],
  deployment: ['report'],
};

export function roleMay(kind: TokenKind, p: Permission): boolean {
  return GRANTS[kind].includes(p);
}

/** Who may, in words, for a 403: "an admin or operator token". */
export function whoMay(p: Permission): string {
  const kinds = TOKEN_KINDS.filter((k) => roleMay(k, p)).map((k) => (k === 'machine' ? "a machine's credential" : k === 'deployment' ? "a deployment's token" : `${k === 'admin' || k === 'operator' || k === 'enroll' ? 'an' : 'a'} ${k} token`));
  return kinds.length > 1 ? `${kinds.slice(0, -1).join(', ')} or ${kinds.at(-1)}` : kinds[0]!;
}

export const DEPLOY_OUTCOMES = ['succeeded', 'failed'] as const;
/** A deployment recorded but never handed over (the deploy stopped on the host): nothing changed on the machine. */
export const ABORTED = 'aborted';
/** The largest sequence number (the database's integer). */
export const MAX_SEQ = 2147483647;
/** Characters of one event's message the registry keeps; the agent cuts longer ones before sending. */
export const MAX_EVENT_MESSAGE = 16384;

const MAC: Schema = {type: 'string', pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$'};
export const DEPLOYMENT_ID_PATTERN = '^[A-Za-z0-9._-]{8,64}$';
const SHA256: Schema = {type: 'string', pattern: '^[0-9a-f]{64}$'};

/** Who a machine says it is: its DMI UUID and its NICs' own MACs (at least one of the two). */
const IDENTITY: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['macs'],
  properties: {uuid: {type: 'string', pattern: '^[0-9a-f-]{36}$'}, macs: {type: 'array', items: MAC, maxItems: 64}, hostname: {type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$'}},
};

const EVENT: Schema = {
  type: 'object',
  required: ['seq', 'msg'],
  properties: {
    seq: {type: 'integer', minimum: 0, maximum: MAX_SEQ},
    msg: {type: 'string', maxLength: MAX_EVENT_MESSAGE},
    t: {type: 'string', maxLength: 64},
    level: {type: 'string', maxLength: 16},
    outcome: {type: 'string', enum: [...DEPLOY_OUTCOMES, ABORTED, 'test-ready']},
    action: {type: 'string', enum: ['reboot', 'stay']},
  },
};

/**
 * POST /api/v1/reports: who reports (the machine's DMI UUID and MACs), and any of its
 * inventory and the events of its deployment (events.jsonl lines, numbered: the same event
 * posted twice is stored once). The token says which machine (and deployment) may report.
 */
export const REPORT_SCHEMA: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['machine'],
  properties: {
    machine: IDENTITY,
    inventory: INVENTORY_SCHEMA,
    deployment: {
      type: 'object',
      additionalProperties: false,
      required: ['id'],
      properties: {id: {type: 'string', pattern: DEPLOYMENT_ID_PATTERN}, mode: {type: 'string', enum: ['deploy', 'test']}, source: {type: 'string', enum: ['agent', 'cli']}},
    },
    events: {type: 'array', items: EVENT, maxItems: 1000},
  },
};

export interface MachineIdentity {
  uuid?: string;
  macs: string[];
  hostname?: string;
}

export interface ReportEvent extends Record<string, unknown> {
  seq: number;
  msg: string;
  t?: string;
  level?: string;
  outcome?: string;
}

export interface Report {
  machine: MachineIdentity;
  inventory?: import('../inventory.js').HardwareInventory;
  deployment?: {id: string; mode?: 'deploy' | 'test'; source?: 'agent' | 'cli'};
  events?: ReportEvent[];
}

export function validateReport(value: unknown): SchemaProblem[] {
  const problems = validate(REPORT_SCHEMA, value);
  if (problems.length) return problems;
  const r = value as Report;
  problems.push(...identityProblems(r.machine));
  if (r.events?.length && !r.deployment) problems.push({path: 'events', message: 'events belong to a deployment: the report has no deployment'});
  return problems;
}

function identityProblems(m: MachineIdentity, path = 'machine'): SchemaProblem[] {
  return !m.uuid && !m.macs.length ? [{path, message: 'names neither a uuid nor a MAC: the registry cannot tell which machine this is'}] : [];
}

/** POST /api/v1/enroll: a new machine registers (an enroll token), and gets its own credential. */
export const ENROLL_SCHEMA: Schema = {type: 'object', additionalProperties: false, required: ['machine'], properties: {machine: IDENTITY, inventory: INVENTORY_SCHEMA}};

export interface EnrollRequest {
  machine: MachineIdentity;
  inventory?: import('../inventory.js').HardwareInventory;
}

export const validateEnroll = (value: unknown): SchemaProblem[] => {
  const problems = validate(ENROLL_SCHEMA, value);
  return problems.length ? problems : identityProblems((value as EnrollRequest).machine);
};

/**
 * POST /api/v1/deployments: a deploy is about to start on a machine (anemos deploy on the
 * host, or from a workstation); the registry records it and answers with the token the
 * deploy environment reports with, bound to this machine and deployment.
 */
export const DEPLOYMENT_REQUEST_SCHEMA: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['machine', 'id', 'mode'],
  properties: {
    machine: IDENTITY,
    id: {type: 'string', pattern: DEPLOYMENT_ID_PATTERN},
    mode: {type: 'string', enum: ['deploy', 'test']},
    who: {type: 'string', maxLength: 256},
    artifacts: {type: 'array', maxItems: 16, items: {type: 'object', additionalProperties: false, required: ['name', 'sha256'], properties: {name: {type: 'string', maxLength: 64}, url: {type: 'string', maxLength: 4096}, sha256: SHA256}}},
    timeoutSeconds: {type: 'integer', minimum: 60, maximum: 7 * 86400},
  },
};

export interface DeploymentRequest {
  machine: MachineIdentity;
  id: string;
  mode: 'deploy' | 'test';
  who?: string;
  artifacts?: {name: string; url?: string; sha256: string}[];
  /** How long the deploy may run; its token expires this long after it is made (plus an hour), or soon after the outcome. */
  timeoutSeconds?: number;
}

export const validateDeploymentRequest = (value: unknown): SchemaProblem[] => {
  const problems = validate(DEPLOYMENT_REQUEST_SCHEMA, value);
  return problems.length ? problems : identityProblems((value as DeploymentRequest).machine);
};

/** The last outcome a batch of events states, if any. */
export function outcomeOf(events: readonly ReportEvent[] | undefined): 'succeeded' | 'failed' | 'aborted' | undefined {
  return [...(events ?? [])].reverse().find((e) => e.outcome === 'succeeded' || e.outcome === 'failed' || e.outcome === ABORTED)?.outcome as 'succeeded' | 'failed' | 'aborted' | undefined;
}

/** What the lifecycle becomes when a deployment's events say it started or ended; undefined: unchanged. */
export function stateAfterEvents(current: MachineState, mode: 'deploy' | 'test', events: readonly ReportEvent[] | undefined): MachineState | undefined {
  if (mode !== 'deploy' || !events?.length) return undefined;
  const outcome = outcomeOf(events);
  // Recorded but never handed over: the machine was not touched.
  if (outcome === ABORTED) return undefined;
  const want: MachineState = outcome === 'succeeded' ? 'deployed' : outcome === 'failed' ? 'failed' : 'provisioning';
  if (want === current) return undefined;
  // A deployment that started and ended between two reports goes through provisioning.
  if (outcome && !allowedTransition(current, want) && allowedTransition(current, 'provisioning')) return want;
  return allowedTransition(current, want) ? want : undefined;
}

/** The machine's key: its DMI UUID, or its lowest MAC when the firmware gives no UUID. */
export function machineKey(m: MachineIdentity): string {
  return m.uuid ?? `mac-${[...m.macs].sort()[0]!.replace(/:/g, '')}`;
}

/** The identity as the registry keeps it: MACs lower case, once each, sorted. */
export function normalizeIdentity(m: MachineIdentity): MachineIdentity {
  return {...(m.uuid ? {uuid: m.uuid.toLowerCase()} : {}), macs: [...new Set(m.macs.map((x) => x.toLowerCase()))].sort(), ...(m.hostname ? {hostname: m.hostname} : {})};
}

/**
 * What `anemos deploy` asks the registry before it composes the deploy environment: record
 * this deployment (the id the agent reports under), who starts it, the artifacts it
 * verified. The machine is named by its MACs (and its DMI UUID where the host could read it).
 */
export function planDeploymentRequest(o: {deploymentId: string; mode: 'deploy' | 'test'; who: string; hostname: string; macs: string[]; uuid?: string; artifacts: {name: string; url: string; sha256: string}[]; timeoutSeconds: number}): DeploymentRequest {
  return {
    machine: normalizeIdentity({...(o.uuid ? {uuid: o.uuid} : {}), macs: o.macs, hostname: o.hostname}),
    id: o.deploymentId,
    mode: o.mode,
    who: o.who,
    artifacts: o.artifacts.map((a) => ({name: a.name, url: a.url, sha256: a.sha256})),
    timeoutSeconds: Math.min(7 * 86400, Math.max(60, o.timeoutSeconds)),
  };
}

/** Event 0, as the host hands over (after the load, before the exec). */
export function handoverEvent(o: {mode: 'deploy' | 'test'; who: string; at: string; method: string}): ReportEvent {
  return {seq: 0, t: o.at, level: 'info', msg: `anemos ${o.mode === 'test' ? 'test-boot' : 'deploy'} by ${o.who}: handing over to the deploy environment (${o.method})`};
}

/** Event 0 of a deploy that stopped on the host before the hand-over: nothing changed on the machine. */
export function abortEvent(o: {at: string; reason: string}): ReportEvent {
  return {seq: 0, t: o.at, level: 'error', msg: `stopped on the host before the hand-over, nothing changed: ${o.reason}`, outcome: ABORTED};
}
