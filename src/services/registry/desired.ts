// anemos deploy --from-registry: the machine's record in the registry, found by the host's
// MACs (read on the host, or over SSH with --host), laid over the local config file if any.
// The registry is asked with the operator's token or the machine's own credential.

import {loadConfig} from '../../adapters/config-file.js';
import {registryRequest, registryError} from '../../adapters/registry-client.js';
import {applyDesired, type Config, type DesiredConfig} from '../../core/config.js';
import {configError} from '../../shared/errors.js';
import type {RegistryAccess} from './access.js';

/** The desired deployment of the machine with one of these MACs. */
export async function fetchDesired(access: RegistryAccess, macs: string[]): Promise<{machine: string; state: string; desired: DesiredConfig | null}> {
  const t = access.target;
  for (const mac of macs) {
    const a = await registryRequest(t, 'GET', `/api/v1/machines/by-mac/${encodeURIComponent(mac)}/desired`, undefined, {timeoutMs: 10_000});
    if (a.status === 404) continue;
    if (a.status === 200) return a.body as {machine: string; state: string; desired: DesiredConfig | null};
    const err = registryError(t, a);
    throw Object.assign(err, {message: `${err.message} Nothing was changed.`});
  }
  throw configError('registry-unknown-machine', `No machine in the registry at ${t.url} has any of this host's MACs (${macs.join(', ') || 'none found'}). Nothing was changed.`, 'Enroll it first (anemos inventory --report URL with an enroll token), or check the URL.');
}

export async function loadFromRegistry(configPath: string, access: RegistryAccess | undefined, url: string, trust: {fingerprint?: string; ca?: string; insecure?: boolean}, macs: string[], o: {allowUnverified: boolean; log: (line: string) => void}): Promise<Config> {
  if (!access) {
    throw configError(
      'registry-token-missing',
      `--from-registry ${url} needs a credential: none was found. Nothing was changed.`,
      "Enroll this machine once (anemos inventory --report URL --enroll-token T), which keeps its own credential; or set ANEMOS_REGISTRY_TOKEN (or --token-file) to an operator's token.",
    );
  }
  const record = await fetchDesired(access, macs);
  if (record.state === 'retired') throw configError('registry-retired', `Machine ${record.machine} is retired in the registry at ${url}. Nothing was changed.`, 'Change its state first (anemos machines set ID --state ready), if it is to be deployed again.');
  if (!record.desired) throw configError('registry-no-desired', `Machine ${record.machine} has no desired deployment in the registry at ${url}. Nothing was changed.`, `Set one: anemos machines set ${record.machine} --desired-config FILE (or PUT /api/v1/machines/${record.machine}/desired).`);
  o.log(`registry: machine ${record.machine} (${record.state}), its desired deployment from ${url} (asked with ${access.via})`);
  return loadConfig(configPath, {allowUnverified: o.allowUnverified}, {text: (local) => applyDesired(local, record.desired!, {url, ...trust}), source: `machine ${record.machine}'s desired deployment from ${url}`});
}
