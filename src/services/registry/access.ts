// Which credential the CLI speaks to the registry with, for a machine it deploys or
// enrolls, and what it trusts the registry by. In order: a token the operator gave
// (ANEMOS_REGISTRY_TOKEN or a token file), the machine's own credential (kept on the
// machine, 0600, read over SSH with --host), or enrollment with an enroll token, which
// writes that credential. The operator's token never leaves the CLI: what the deploy
// environment gets is a token of its own deployment (record.ts).

import type {HostFiles} from '../../adapters/host-files.js';
import {registryCall, type RegistryTarget, type RegistryTrust} from '../../adapters/registry-client.js';
import type {HardwareInventory} from '../../core/inventory.js';
import {normalizeIdentity, type MachineIdentity} from '../../core/registry/lifecycle.js';
import {configError} from '../../shared/errors.js';

/** What a machine keeps after enrolling (JSON, 0600): which registry, which machine, its credential. */
export interface MachineCredential {
  registry: string;
  machine: string;
  id: string;
  token: string;
}

export function trustOf(r: {fingerprint?: string; ca?: string; insecure?: boolean}): RegistryTrust {
  return {...(r.fingerprint ? {pin: r.fingerprint} : {}), ...(r.ca ? {ca: r.ca} : {}), ...(r.insecure ? {insecure: true} : {})};
}

const sameRegistry = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export async function readCredential(files: Pick<HostFiles, 'read'>, path: string): Promise<MachineCredential | undefined> {
  const text = await files.read(path);
  if (text === undefined) return undefined;
  try {
    const c = JSON.parse(text) as MachineCredential;
    if (typeof c.registry === 'string' && typeof c.token === 'string' && typeof c.machine === 'string') return c;
  } catch {
    // said below, with the file's name
  }
  throw configError('registry-credential', `${path} is not a registry credential (JSON with registry, machine and token).`, `Remove it and enroll again (anemos inventory --report URL), or point report.credential at the right file.`);
}

/** Register this machine with an enroll token; its credential is written (0600) where it is kept. */
export async function enrollMachine(
  o: {url: string; trust: RegistryTrust; enrollToken: string; identity: MachineIdentity; inventory?: HardwareInventory; credentialPath: string},
  files: Pick<HostFiles, 'writePrivate'>,
): Promise<MachineCredential & {created: boolean}> {
  const target: RegistryTarget = {url: o.url, token: o.enrollToken, trust: o.trust};
  const r = await registryCall<{machine: string; created: boolean; credential: {id: string; token: string}}>(target, 'POST', '/api/v1/enroll', {machine: normalizeIdentity(o.identity), ...(o.inventory ? {inventory: o.inventory} : {})});
  const credential: MachineCredential = {registry: o.url, machine: r.machine, id: r.credential.id, token: r.credential.token};
  await files.writePrivate(o.credentialPath, JSON.stringify(credential, null, 2) + '\n');
  return {...credential, created: r.created};
}

export interface RegistryAccess {
  target: RegistryTarget;
  /** In words, for the log: "the credential of this machine (…)", "the token in ANEMOS_REGISTRY_TOKEN". */
  via: string;
}

/**
 * The credential for this registry and machine: the operator's token, the machine's own
 * credential, or one enrollment now; undefined when there is none of the three.
 */
export async function registryAccess(o: {
  url: string;
  trust: RegistryTrust;
  operatorToken?: {token: string; source: string};
  credentialPath: string;
  enrollToken?: string;
  files: Pick<HostFiles, 'read' | 'writePrivate'>;
  identity: () => Promise<{identity: MachineIdentity; inventory?: HardwareInventory}>;
  where: string;
  log: (line: string) => void;
}): Promise<RegistryAccess | undefined> {
  if (o.operatorToken) return {target: {url: o.url, token: o.operatorToken.token, trust: o.trust}, via: o.operatorToken.source};
  const own = await readCredential(o.files, o.credentialPath);
  if (own && sameRegistry(own.registry, o.url)) return {target: {url: o.url, token: own.token, trust: o.trust}, via: `the credential of ${o.where} (${o.credentialPath}, machine ${own.machine})`};
  if (own) o.log(`registry: ${o.credentialPath} is a credential of ${own.registry}, not ${o.url}: not used`);
  if (!o.enrollToken) return undefined;
  const {identity, inventory} = await o.identity();
  const enrolled = await enrollMachine({url: o.url, trust: o.trust, enrollToken: o.enrollToken, identity, inventory, credentialPath: o.credentialPath}, o.files);
  o.log(`registry: ${o.where} enrolled at ${o.url} as machine ${enrolled.machine}${enrolled.created ? ' (new)' : ''}; its credential is in ${o.credentialPath} (0600)`);
  return {target: {url: o.url, token: enrolled.token, trust: o.trust}, via: `the credential of ${o.where} (enrolled now, machine ${enrolled.machine})`};
}
