// What the appended initramfs segments contain (DESIGN.md §3), as pure data: the
// caller supplies file contents or openers. The base is never touched here.

import type {BootConfig} from './boot-contract.js';
import {CONTRACT} from './boot-contract.js';
import type {CpioData, CpioEntry} from './cpio.js';
import type {Compression} from './initramfs-format.js';
import type {NetworkConfig} from './network.js';

export interface SegmentSpec {
  name: string;
  compression: Compression;
  entries: CpioEntry[];
}

export interface SegmentInputs {
  config: BootConfig;
  network: NetworkConfig;
  authorizedKeys: string[];
  /** SSH host keys to carry, by file name (ssh_host_ed25519_key, ...). */
  hostKeys?: Record<string, Uint8Array>;
  payload?: {file: string; data: CpioData};
  /** A live image's layers (squashfs, compressed already), by file name under CONTRACT.liveDir. */
  layers?: {file: string; data: CpioData}[];
  /** Paths under lib/firmware and their contents. */
  firmware?: {path: string; data: CpioData}[];
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v, null, 2) + '\n');

export function planSegments(inp: SegmentInputs): SegmentSpec[] {
  const config: CpioEntry[] = [
    {path: CONTRACT.config, type: 'file', mode: 0o600, data: json(inp.config)},
    {path: CONTRACT.network, type: 'file', mode: 0o644, data: json(inp.network)},
    {path: CONTRACT.authorizedKeys, type: 'file', mode: 0o600, data: Buffer.from(inp.authorizedKeys.map((k) => k.trim() + '\n').join(''))},
    ...Object.entries(inp.hostKeys ?? {}).map(([name, data]): CpioEntry => ({path: `${CONTRACT.hostKeysDir}/${name}`, type: 'file', mode: 0o600, data})),
  ];
  const segments: SegmentSpec[] = [{name: 'config', compression: 'none', entries: config}];
  // The payload is already compressed: compressing it again costs time and saves nothing.
  if (inp.payload) segments.push({name: 'payload', compression: 'none', entries: [{path: `${CONTRACT.dir}/${inp.payload.file}`, type: 'file', mode: 0o600, data: inp.payload.data}]});
  if (inp.layers?.length) segments.push({name: 'live', compression: 'none', entries: inp.layers.map((l) => ({path: `${CONTRACT.liveDir}/${l.file}`, type: 'file' as const, mode: 0o600, data: l.data}))});
  if (inp.firmware?.length) {
    segments.push({
      name: 'firmware',
      compression: 'gzip',
      entries: inp.firmware.map((f) => ({path: `${CONTRACT.firmwareDir}/${f.path}`, type: 'file' as const, mode: 0o644, data: f.data})),
    });
  }
  return segments;
}
