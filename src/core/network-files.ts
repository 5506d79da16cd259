// Render network.json into a root directory (CLI "network render", agent "anemos-netconf").
// No runtime of its own: the CLI hands in Node's fs, the agent (QuickJS) its runtime.

import {renderNetwork, type RenderedFile, type RenderFormat} from './network-render.js';
import {normalizeNetwork, validateNetwork} from './network-schema.js';
import type {NetworkConfig} from './network.js';
import {AnemosError, pathMissing, usageError} from '../shared/errors.js';

/** The file calls this module makes: Node's fs and the agent's runtime both have them. */
export interface RenderFs {
  readFileSync(path: string, encoding: 'utf8'): string;
  mkdirSync(path: string, o: {recursive: true}): unknown;
  rmSync(path: string, o: {force: true}): void;
  writeFileSync(path: string, data: string, o: {mode: number}): void;
  chmodSync(path: string, mode: number): void;
}

/** Read and validate a network.json against the one schema (schema/network.schema.json). */
export function readNetworkJson(fsys: RenderFs, path: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fsys.readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as {code?: string}).code === 'ENOENT') throw pathMissing(path, 'The network.json', 'Create it with "anemos network detect --json > network.json".');
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

export function writeRendered(fsys: RenderFs, root: string, files: RenderedFile[]): void {
  for (const f of files) {
    const path = `${root.replace(/\/+$/, '')}/${f.path}`;
    fsys.mkdirSync(path.slice(0, path.lastIndexOf('/')) || '/', {recursive: true});
    // A link (resolv.conf -> resolved's stub in /run) would send the content outside the root.
    fsys.rmSync(path, {force: true});
    fsys.writeFileSync(path, f.content, {mode: f.mode});
    fsys.chmodSync(path, f.mode);
  }
}

export function renderNetworkFromFile(fsys: RenderFs, opts: {network: string; format: RenderFormat; names: string[]; root?: string}): RenderedFile[] {
  const net = readNetworkJson(fsys, opts.network);
  const files = renderNetwork(net, opts.format, {names: parseNames(opts.names)});
  if (opts.root) writeRendered(fsys, opts.root, files);
  return files;
}
