// config check: the file read and validated as a deploy would read it, and what it leaves unverified.

import {loadConfig} from '../adapters/config-file.js';
import {type Config, missingChecksums} from '../core/config.js';

export interface ConfigCheck {
  config: Config;
  /** Artifacts accepted without a sha256 (only with allowUnverified). */
  unverified: string[];
  /** Artifacts read from a path on this machine. */
  localFiles: string[];
}

export async function checkConfigFile(path: string, opts: {allowUnverified?: boolean} = {}): Promise<ConfigCheck> {
  const config = await loadConfig(path, {allowUnverified: opts.allowUnverified});
  const localFiles = [config.kernel, config.initramfs, config.payload].flatMap((a) => (a?.url.startsWith('/') ? [a.url] : []));
  return {config, unverified: missingChecksums(config), localFiles};
}
