// anemos deploy --from-registry: the machine's record in the registry, found by the host's
// MACs (read on the host, or over SSH with --host), laid over the local config file if any.

import {loadConfig} from '../../adapters/config-file.js';
import {fetchDesired} from '../../adapters/registry-client.js';
import {applyDesired, type Config} from '../../core/config.js';
import {configError, usageError} from '../../shared/errors.js';

export async function loadFromRegistry(configPath: string, registry: {url: string; token: string}, macs: string[], o: {allowUnverified: boolean; log: (line: string) => void}): Promise<Config> {
  if (!registry.token) throw usageError('registry-token-missing', '--from-registry needs a token of the registry.', 'Pass --registry-token TOKEN or set ANEMOS_REGISTRY_TOKEN (a reporter token is enough).');
  const record = await fetchDesired(registry, macs);
  if (record.state === 'retired') throw configError('registry-retired', `Machine ${record.machine} is retired in the registry at ${registry.url}. Nothing was changed.`, 'Change its state first (the web UI, or PATCH /api/v1/machines/{id}), if it is to be deployed again.');
  if (!record.desired) throw configError('registry-no-desired', `Machine ${record.machine} has no desired deployment in the registry at ${registry.url}. Nothing was changed.`, `Set one: PATCH ${registry.url.replace(/\/+$/, '')}/api/v1/machines/${record.machine} with {"desired": {"kernel": …, "initramfs": …, "payload": …}}.`);
  o.log(`registry: machine ${record.machine} (${record.state}), its desired deployment from ${registry.url}`);
  return loadConfig(configPath, {allowUnverified: o.allowUnverified}, {text: (local) => applyDesired(local, record.desired!, registry), source: `machine ${record.machine}'s desired deployment from ${registry.url}`});
}
