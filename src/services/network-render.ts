// Render network.json into a root directory (CLI "network render", agent "anemos-netconf").

import {chmod, mkdir, readFile, rm, writeFile} from 'node:fs/promises';
import {dirname, join} from 'node:path';
import {renderNetwork, type RenderedFile, type RenderFormat} from '../core/network-render.js';
import type {NetworkConfig} from '../core/network.js';
import {usageError} from '../shared/errors.js';

export async function readNetworkJson(path: string): Promise<NetworkConfig> {
  let net: NetworkConfig;
  try {
    net = JSON.parse(await readFile(path, 'utf8')) as NetworkConfig;
  } catch (err) {
    throw usageError('network-json', `Cannot read ${path} as network.json: ${(err as Error).message}.`, 'Create it with "anemos network detect --json".');
  }
  if (net?.version !== 1 || typeof net.interfaces !== 'object' || !net.dns) {
    throw usageError('network-json', `${path} is not a network.json (version 1 with interfaces and dns).`, 'Create it with "anemos network detect --json".');
  }
  return net;
}

export function parseNames(pairs: string[]): Record<string, string> {
  const names: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.lastIndexOf('=');
    if (i <= 0) throw usageError('network-bad-name', `--name "${p}" is not MAC=NAME.`, 'Example: --name 52:54:00:12:34:56=eth0');
    names[p.slice(0, i).toLowerCase()] = p.slice(i + 1);
  }
  return names;
}

export async function writeRendered(root: string, files: RenderedFile[]): Promise<void> {
  for (const f of files) {
    const path = join(root, f.path);
    await mkdir(dirname(path), {recursive: true});
    // A link (resolv.conf -> resolved's stub in /run) would send the content outside the root.
    await rm(path, {force: true});
    await writeFile(path, f.content, {mode: f.mode});
    await chmod(path, f.mode);
  }
}

export async function renderNetworkFromFile(opts: {network: string; format: RenderFormat; names: string[]; root?: string}): Promise<RenderedFile[]> {
  const net = await readNetworkJson(opts.network);
  const files = renderNetwork(net, opts.format, {names: parseNames(opts.names)});
  if (opts.root) await writeRendered(opts.root, files);
  return files;
}
