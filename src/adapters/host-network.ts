// Probe the host's live network with iproute2 and read the resolver configuration,
// following systemd-resolved's stub to the file that names the real upstream servers.

import {networkInterfaces} from 'node:os';
import {usageError} from '../shared/errors.js';
import {isResolvedStub, parseResolvConf, type IpCaptures} from '../core/network.js';
import {localHost, type Host} from './host-files.js';

export const RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';

export async function gatherNetworkCaptures(host: Host = localHost, paths = {resolvConf: '/etc/resolv.conf', resolvedUpstream: RESOLVED_UPSTREAM}): Promise<IpCaptures> {
  const {runner} = host;
  // A missing resolver file means "no DNS servers", reported by the plan.
  const readOr = (path: string, fallback: string) => host.files.read(path).then((t) => t ?? fallback, () => fallback);
  const [addr, route4, route6] = await Promise.all([
    runner.run('ip', ['-j', '-d', 'addr', 'show']),
    runner.run('ip', ['-j', 'route', 'show', 'table', 'main']),
    runner.run('ip', ['-j', '-6', 'route', 'show', 'table', 'main']),
  ]);
  let resolvConf = await readOr(paths.resolvConf, '');
  if (isResolvedStub(parseResolvConf(resolvConf).servers)) resolvConf = await readOr(paths.resolvedUpstream, '');
  return {addr: addr.stdout, route4: route4.stdout, route6: route6.stdout, resolvConf, hostname: await host.hostname()};
}

/** The IPv4 address of one of this machine's interfaces (the boot services listen there), and its prefix length. */
export function interfaceAddress(name: string): {address: string; prefix: number} {
  const all = networkInterfaces();
  const v4 = all[name]?.find((a) => a.family === 'IPv4');
  if (!v4) {
    const here = Object.entries(all).map(([n, as]) => `${n} ${as?.find((a) => a.family === 'IPv4')?.address ?? '(no IPv4)'}`).join(', ');
    throw usageError('boot-interface', all[name] ? `Interface ${name} has no IPv4 address: the boot services need one to answer from.` : `There is no interface ${name} here.`, `Interfaces here: ${here}. Pass --boot-interface with the one on the boot network.`);
  }
  return {address: v4.address, prefix: Number(v4.cidr?.split('/')[1] ?? 32)};
}
