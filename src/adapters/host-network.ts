// Probe the host's live network with iproute2 and read the resolver configuration,
// following systemd-resolved's stub to the file that names the real upstream servers.

import {readFile} from 'node:fs/promises';
import {hostname} from 'node:os';
import {isResolvedStub, parseResolvConf, type IpCaptures} from '../core/network.js';
import type {Runner} from './process.js';

export const RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return fallback; // a missing resolver file means "no DNS servers", reported by the plan
  }
}

export async function gatherNetworkCaptures(runner: Runner, paths = {resolvConf: '/etc/resolv.conf', resolvedUpstream: RESOLVED_UPSTREAM}): Promise<IpCaptures> {
  const [addr, route4, route6] = await Promise.all([
    runner.run('ip', ['-j', '-d', 'addr', 'show']),
    runner.run('ip', ['-j', 'route', 'show', 'table', 'main']),
    runner.run('ip', ['-j', '-6', 'route', 'show', 'table', 'main']),
  ]);
  let resolvConf = await readOr(paths.resolvConf, '');
  if (isResolvedStub(parseResolvConf(resolvConf).servers)) resolvConf = await readOr(paths.resolvedUpstream, '');
  return {addr: addr.stdout, route4: route4.stdout, route6: route6.stdout, resolvConf, hostname: hostname()};
}
