// The registry's CLI client: anemos machines list|show|set|retire|watch, anemos tokens
// create|list|revoke and anemos inventory --report, each one call (or a few) of the API
// through adapters/registry-client.ts. A desired deployment given as a file is validated
// here first, with the same rules and words as the registry (and anemos config check).

import {readFileSync} from 'node:fs';
import {dirname, resolve} from 'node:path';
import {parseDocument} from 'yaml';
import {hostname} from 'node:os';
import {hostFiles} from '../../adapters/host-files.js';
import {gatherHostHardware} from '../../adapters/hardware-sources.js';
import {registryCall, registryRequest, registryError, checkRegistryUrl, type RegistryTarget, type RegistryTrust} from '../../adapters/registry-client.js';
import {loadOperatorToken} from '../../adapters/registry-token.js';
import {DEFAULT_CREDENTIAL, validateDesired, type DesiredConfig} from '../../core/config.js';
import {MACHINE_STATES, type MachineState, type ReportEvent} from '../../core/registry/lifecycle.js';
import {configError, usageError} from '../../shared/errors.js';
import {enrollMachine, readCredential, type MachineCredential} from './access.js';
import type {Deployment, MachineRecord, MachineSummary, NewToken, TokenInfo} from './registry.js';

/** How the command reaches the registry: flags and environment, before anything is read. */
export interface RegistryFlags {
  url?: string;
  tokenEnv?: string;
  tokenFile?: string;
  caFile?: string;
  fingerprint?: string;
  insecure?: boolean;
}

export function readCaFile(path: string | undefined): string | undefined {
  if (!path) return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw usageError('registry-ca-file', `Cannot read the CA file ${path}: ${(err as Error).message}.`, 'Pass the PEM file of the CA that signed the registry\'s certificate (for anemos serve --tls auto: its tls-cert.pem), or --registry-fingerprint.');
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw usageError('registry-ca-file', `${path} holds no PEM certificate.`, 'Pass a PEM file (-----BEGIN CERTIFICATE-----).');
  return pem;
}

export function trustFromFlags(f: RegistryFlags): RegistryTrust {
  const ca = readCaFile(f.caFile);
  return {...(f.fingerprint ? {pin: f.fingerprint} : {}), ...(ca ? {ca} : {}), ...(f.insecure ? {insecure: true} : {})};
}

/** The operator's token when one is given (ANEMOS_REGISTRY_TOKEN or a token file), else undefined. */
export const loadRegistryToken = (f: RegistryFlags) => loadOperatorToken({envToken: f.tokenEnv, file: f.tokenFile});

/** The registry and the operator's token: --registry (ANEMOS_REGISTRY), ANEMOS_REGISTRY_TOKEN or a 0600 token file. */
export function connectRegistry(f: RegistryFlags, o: {needToken?: boolean} = {}): RegistryTarget {
  if (!f.url) throw usageError('registry-missing', 'No registry named.', 'Pass --registry https://HOST:PORT, or set ANEMOS_REGISTRY.');
  const trust = trustFromFlags(f);
  checkRegistryUrl(f.url, trust);
  const token = loadOperatorToken({envToken: f.tokenEnv, file: f.tokenFile});
  if (!token && o.needToken !== false) throw usageError('registry-token-missing', `No token for the registry at ${f.url}.`, 'Set ANEMOS_REGISTRY_TOKEN, or write the token to ~/.config/anemos/registry-token (chmod 600), or pass --token-file FILE.');
  return {url: f.url, ...(token ? {token: token.token} : {}), trust};
}

// ------------------------------------------------------------------ machines

export interface MachineListOptions {
  state?: string;
  tag?: string;
  q?: string;
  sort?: string;
  limit?: number;
  /** Every page, not just the first. */
  all?: boolean;
}

export async function listMachines(t: RegistryTarget, o: MachineListOptions): Promise<{machines: MachineSummary[]; total: number; next: string | null}> {
  const machines: MachineSummary[] = [];
  let cursor: string | undefined;
  let total = 0;
  for (;;) {
    const q = new URLSearchParams(Object.entries({state: o.state, tag: o.tag, q: o.q, sort: o.sort, limit: o.limit === undefined ? undefined : String(o.limit), cursor}).filter((kv): kv is [string, string] => kv[1] !== undefined));
    const page = await registryCall<{machines: MachineSummary[]; total: number; next: string | null}>(t, 'GET', `/api/v1/machines?${q}`);
    machines.push(...page.machines);
    total = page.total;
    if (!o.all || !page.next) return {machines, total, next: page.next};
    cursor = page.next;
  }
}

export const showMachine = (t: RegistryTarget, ref: string) => registryCall<MachineRecord>(t, 'GET', `/api/v1/machines/${encodeURIComponent(ref)}`);

export interface BootExplanation {
  mac: string;
  served: boolean;
  discover: boolean;
  machine: {id: string; state: string; desired: boolean; discovered: boolean} | null;
  boot: 'environment' | 'installer' | 'local-disk' | 'none';
  mode?: string;
  rule: string;
  /** An installer boot: its media, kind and the answer file rendered now. */
  installer?: {media: string; distribution: string; release: string; arch: string; kind: string; answer: string} | {pending: string};
  lastBoot: {at: string; client: string; firmware: string; boot: string; rule: string} | null;
}

export const wakeMachine = (t: RegistryTarget, ref: string) => registryCall<{machine: string; macs: string[]; packets: number}>(t, 'POST', `/api/v1/machines/${encodeURIComponent(ref)}/wake`);

export const explainBoot = (t: RegistryTarget, mac: string) => registryCall<BootExplanation>(t, 'GET', `/api/v1/boot/explain?mac=${encodeURIComponent(mac)}`);

export async function machineDeployments(t: RegistryTarget, ref: string, limit = 10): Promise<Deployment[]> {
  return (await registryCall<{deployments: Deployment[]}>(t, 'GET', `/api/v1/deployments?machine=${encodeURIComponent(ref)}&limit=${limit}`)).deployments;
}

/** A desired deployment from a file in anemos.conf's words: kernel, initramfs, payload, and any other key as an override. */
export function desiredFromConfigFile(path: string): DesiredConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw usageError('path-missing', `Cannot read ${path}: ${(err as Error).message}.`, 'Name a YAML file with kernel, initramfs, payload (each with url and sha256) and any anemos.conf keys to override.');
  }
  const doc = parseDocument(text, {prettyErrors: true, uniqueKeys: true});
  if (doc.errors.length) throw configError('config-yaml', `${path} is not valid YAML.`, 'Fix the YAML syntax at the line shown.', doc.errors.map((e) => e.message.trimEnd()));
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw configError('config-invalid', `${path} is not a mapping of anemos.conf keys.`, 'Write kernel:, initramfs:, payload: and any other anemos.conf key.');
  const {kernel, initramfs, payload, installer, ...config} = raw;
  const desired = {...(kernel !== undefined ? {kernel} : {}), ...(initramfs !== undefined ? {initramfs} : {}), ...(payload !== undefined ? {payload} : {}), ...(installer !== undefined ? {installer: installerOf(installer, dirname(path))} : {}), ...(Object.keys(config).length ? {config} : {})} as DesiredConfig;
  const problems = validateDesired(desired).map((p) => p.replace(/^desired\.(config\.)?/, ''));
  if (problems.length) throw configError('desired-invalid', `${path} has ${problems.length} problem${problems.length > 1 ? 's' : ''} as a desired deployment: nothing was sent to the registry.`, 'Fix each key listed: the keys and rules of anemos.conf, and each artifact with its sha256 ("anemos config check" reads the same words).', problems);
  return desired;
}

/** installer: as a file writes it: template_file: PATH (from DIR, the file's own) is read into template:. */
function installerOf(v: unknown, dir: string): unknown {
  if (!v || typeof v !== 'object' || Array.isArray(v) || !('template_file' in v)) return v;
  const {template_file: file, ...rest} = v as Record<string, unknown>;
  const at = resolve(dir, String(file));
  try {
    return {...rest, template: readFileSync(at, 'utf8')};
  } catch (err) {
    throw usageError('path-missing', `installer.template_file: cannot read ${at}: ${(err as Error).message}.`, 'Name the answer file template beside the desired deployment file, or leave it out for the built-in one.');
  }
}

export interface MachineChange {
  state?: string;
  tags?: string[];
  addTags?: string[];
  removeTags?: string[];
  attributes?: Record<string, unknown>;
  hostname?: string;
  desiredFile?: string;
  clearDesired?: boolean;
  /** --installer MEDIA: the desired deployment becomes that ISO's installer (its config overrides kept; a payload removed). */
  installer?: string;
  /** --answer-template FILE: with --installer, the answer file's template. */
  answerTemplate?: string;
}

/** --installer replaces the installer whole: what it does not give is removed (JSON Merge Patch's null). */
const INSTALLER_CLEARED = {kind: null, template: null, vars: null, disk: null, packages: null, cmdline: null};

/** Apply an operator's change: the desired deployment (validated here first) by PUT, the rest as one merge patch. */
export async function setMachine(t: RegistryTarget, ref: string, c: MachineChange): Promise<MachineRecord> {
  if (c.state && !MACHINE_STATES.includes(c.state as MachineState)) throw usageError('bad-state', `There is no state ${c.state}.`, `States: ${MACHINE_STATES.join(', ')}.`);
  const desired = c.desiredFile ? desiredFromConfigFile(c.desiredFile) : undefined;
  const current = c.addTags?.length || c.removeTags?.length ? await showMachine(t, ref) : undefined;
  const tags = c.tags ?? (current ? [...new Set([...current.tags.filter((x) => !c.removeTags?.includes(x)), ...(c.addTags ?? [])])] : undefined);
  if (c.answerTemplate && !c.installer) throw usageError('answer-template-alone', '--answer-template goes with --installer MEDIA.', 'Name the ISO too: --installer debian-12.8.0-amd64-netinst --answer-template web.preseed.');
  const installer = c.installer ? (installerOf({media: c.installer, ...(c.answerTemplate ? {template_file: c.answerTemplate} : {})}, process.cwd()) as Record<string, unknown>) : undefined;
  if (installer) {
    const problems = validateDesired({installer}).map((p) => p.replace(/^desired\./, ''));
    if (problems.length) throw configError('desired-invalid', `--installer ${c.installer}: ${problems.join('; ')}. Nothing was sent to the registry.`, 'Name an ISO of the server\'s --media DIR by its file name without .iso (anemos serve media list).');
  }
  // JSON Merge Patch: the installer replaces a payload and its deploy environment; config overrides stay.
  const patch = {...(c.state ? {state: c.state} : {}), ...(tags ? {tags} : {}), ...(c.attributes ? {attributes: c.attributes} : {}), ...(c.hostname ? {hostname: c.hostname} : {}), ...(installer ? {desired: {installer: {...INSTALLER_CLEARED, ...installer}, payload: null, kernel: null, initramfs: null}} : {})};
  let machine: MachineRecord | undefined;
  if (desired) machine = await registryCall<MachineRecord>(t, 'PUT', `/api/v1/machines/${encodeURIComponent(ref)}/desired`, desired);
  if (c.clearDesired) machine = await registryCall<MachineRecord>(t, 'DELETE', `/api/v1/machines/${encodeURIComponent(ref)}/desired`);
  if (Object.keys(patch).length) machine = await registryCall<MachineRecord>(t, 'PATCH', `/api/v1/machines/${encodeURIComponent(ref)}`, patch, {contentType: 'application/merge-patch+json'});
  if (!machine) throw usageError('nothing-to-change', 'Nothing to change.', 'Pass --state, --tag, --add-tag, --remove-tag, --attribute, --hostname, --desired-config, --installer or --clear-desired.');
  return machine;
}

// ------------------------------------------------------------------ watching a deployment

/** How a watched deployment ended: the same verdicts (and exit codes) as anemos deploy --host. */
export interface WatchEnd {
  deployment: Deployment;
  outcome: 'succeeded' | 'failed' | 'aborted';
  /** The outcome event itself: after a failure, whether the machine reboots (nothing written) or stays. */
  event?: ReportEvent & {action?: string; written?: string[]};
}

/**
 * Follow a machine's deployment through the registry: the current one (or the next to
 * start, up to the deadline), every event once in order, until its outcome.
 */
export async function watchMachine(
  t: RegistryTarget,
  ref: string,
  o: {deployment?: string; deadline: number; onEvent: (e: ReportEvent & {receivedAt: string}) => void; say: (line: string) => void; sleep: (ms: number) => Promise<void>; now: () => number; pollMs?: number},
): Promise<WatchEnd | undefined> {
  const poll = o.pollMs ?? 1000;
  const machine = await showMachine(t, ref);
  let id = o.deployment;
  // A deploy, not a test boot (test-boot, a failed machine looked at, a discovered one waiting): those end when it reboots.
  const lastDeploy = async () => (await registryCall<{deployments: Deployment[]}>(t, 'GET', `/api/v1/deployments?machine=${encodeURIComponent(machine.id)}&mode=deploy&limit=1`)).deployments[0];
  if (!id) {
    const last = await lastDeploy();
    if (last && last.outcome === null) id = last.id;
    else {
      o.say(`Waiting for a deployment of ${machine.hostname ?? machine.id} to start${last ? ` (the last one, ${last.id}, ${last.outcome})` : ''}.`);
      while (!id) {
        if (o.now() > o.deadline) return undefined;
        await o.sleep(poll);
        const d = await lastDeploy();
        if (d && d.id !== last?.id) id = d.id;
      }
    }
  }
  o.say(`Following deployment ${id} of ${machine.hostname ?? machine.id}.`);
  let after = -1;
  let outcomeEvent: WatchEnd['event'];
  /** Every event after the last one shown, page by page, shown in order. */
  const readEvents = async () => {
    for (;;) {
      const a = await registryRequest(t, 'GET', `/api/v1/deployments/${encodeURIComponent(id)}/events?after=${after}&limit=500`);
      if (a.status !== 200) throw registryError(t, a);
      const page = a.body as {events: (ReportEvent & {receivedAt: string})[]; next: number | null};
      for (const e of page.events) {
        after = e.seq;
        if (e.outcome === 'succeeded' || e.outcome === 'failed' || e.outcome === 'aborted') outcomeEvent = e;
        o.onEvent(e);
      }
      if (page.next === null) return;
    }
  };
  for (;;) {
    await readEvents();
    const d = await registryCall<Deployment>(t, 'GET', `/api/v1/deployments/${encodeURIComponent(id)}`);
    if (d.outcome === 'succeeded' || d.outcome === 'failed' || d.outcome === 'aborted') {
      // The outcome may have come in after the events were read (between the two requests):
      // what came with it is read now, so the verdict follows every event, the outcome's too.
      await readEvents();
      return {deployment: d, outcome: d.outcome, ...(outcomeEvent ? {event: outcomeEvent} : {})};
    }
    if (o.now() > o.deadline) return undefined;
    await o.sleep(poll);
  }
}

// ------------------------------------------------------------------ tokens

export const createToken = (t: RegistryTarget, o: {role: string; note?: string; expiresInSeconds?: number; uses?: number}) => registryCall<NewToken>(t, 'POST', '/api/v1/tokens', o);

export async function listTokens(t: RegistryTarget, o: {kind?: string; live?: boolean}): Promise<TokenInfo[]> {
  const out: TokenInfo[] = [];
  let cursor: string | undefined;
  for (;;) {
    const q = new URLSearchParams(Object.entries({kind: o.kind, live: o.live ? 'true' : undefined, limit: '500', cursor}).filter((kv): kv is [string, string] => kv[1] !== undefined));
    const page = await registryCall<{tokens: TokenInfo[]; next: string | null}>(t, 'GET', `/api/v1/tokens?${q}`);
    out.push(...page.tokens);
    if (!page.next) return out;
    cursor = page.next;
  }
}

export const revokeToken = (t: RegistryTarget, id: string) => registryCall<TokenInfo>(t, 'DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);

// ------------------------------------------------------------------ a running host reports itself

/**
 * anemos inventory --report URL: this host's inventory to the registry. The first time,
 * with an enroll token, the host enrolls and keeps its credential (0600); after that its
 * credential reports.
 */
export async function reportThisHost(f: RegistryFlags & {enrollToken?: string; credentialPath?: string}): Promise<{machine: string; enrolled: boolean; created: boolean; changes: string[]; credentialPath: string}> {
  if (!f.url) throw usageError('registry-missing', 'No registry named.', 'Pass --report https://HOST:PORT.');
  const trust = trustFromFlags(f);
  checkRegistryUrl(f.url, trust);
  const credentialPath = f.credentialPath ?? DEFAULT_CREDENTIAL;
  const inventory = gatherHostHardware();
  const identity = {...(inventory.system.uuid ? {uuid: inventory.system.uuid} : {}), macs: inventory.nics.map((n) => n.mac), hostname: hostname()};
  let credential: MachineCredential | undefined = await readCredential(hostFiles, credentialPath);
  if (credential && credential.registry.replace(/\/+$/, '') !== f.url.replace(/\/+$/, '')) credential = undefined;
  if (!credential) {
    if (!f.enrollToken) throw usageError('enroll-token-missing', `This host has no credential for ${f.url} (${credentialPath}): it must enroll first.`, 'Pass --enroll-token TOKEN (or ANEMOS_ENROLL_TOKEN) with an enroll token: anemos tokens create --role enroll.');
    const enrolled = await enrollMachine({url: f.url, trust, enrollToken: f.enrollToken, identity, inventory, credentialPath}, hostFiles);
    return {machine: enrolled.machine, enrolled: true, created: enrolled.created, changes: [], credentialPath};
  }
  const out = await registryCall<{machine: string; changes: string[]}>({url: f.url, token: credential.token, trust}, 'POST', '/api/v1/reports', {machine: identity, inventory});
  return {machine: out.machine, enrolled: false, created: false, changes: out.changes, credentialPath};
}
