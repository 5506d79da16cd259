// Render network.json into a root directory (CLI "network render", agent "anemos-netconf").

import {chmod, mkdir, readFile, rm, writeFile} from 'node:fs/promises';
import {dirname, join} from 'node:path';
import {renderNetwork, type RenderedFile, type RenderFormat} from '../core/network-render.js';
import {normalizeNetwork, validateNetwork} from '../core/network-schema.js';
import type {NetworkConfig} from '../core/network.js';
import {AnemosError, pathMissing, usageError} from '../shared/errors.js';

/** Read and validate a network.json against the one schema (schema/network.schema.json). */
export async function readNetworkJson(path: string): Promise<NetworkConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw pathMissing(path, 'The network.json', 'Create it with "anemos network detect --json > network.json".');
    throw usageError('network-json', `Cannot read ${path} as network.json: ${(err as Error).message}.`, 'Create it with "anemos network detect --json".');
  }
  const problems = validateNetwork(raw);
  if (problems.length) {
    throw new AnemosError('usage', 'network-json', `${path} is not a valid network.json (${problems.length} problem${problems.length > 1 ? 's' : ''}).`, {
      hint: 'Create it with "anemos network detect --json"; schema/network.schema.json describes it.',
      details: problems.map((p) => `${p.path}: ${p.message}`),
    });
  }
  return normalizeNetwork(raw);
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
