// The contract between the host CLI and the agent in the initramfs: which files the
// appended segments carry and what config.json holds (DESIGN.md §3). Shared by both sides.

import type {FailurePolicy} from './config.js';

export const CONTRACT = {
  dir: 'anemos',
  config: 'anemos/config.json',
  network: 'anemos/network.json',
  authorizedKeys: 'anemos/ssh/authorized_keys',
  hostKeysDir: 'anemos/ssh/host_keys',
  payloadPrefix: 'anemos/payload',
  firmwareDir: 'lib/firmware',
} as const;

export const BOOT_MODES = ['deploy', 'test'] as const;
export type BootMode = (typeof BOOT_MODES)[number];

export interface BootConfig {
  version: 1;
  mode: BootMode;
  cli_version: string;
  hostname: string;
  /** File name under /anemos and its sha256, checked again by the agent before use. */
  payload?: {file: string; sha256: string};
  disk?: string;
  on_failure: FailurePolicy;
  /** Seconds. */
  timeout: number;
  network_timeout: number;
  check_url?: string;
}

/** Payload file name inside the initramfs, keeping the compression suffix the agent needs. */
export function payloadFileName(url: string): string {
  const m = /\.(tar\.gz|tgz|tar\.zst|tar\.xz|tar)$/.exec(url.split('?')[0]);
  const ext = m ? (m[1] === 'tgz' ? 'tar.gz' : m[1]) : 'tar.gz';
  return `payload.${ext}`;
}
