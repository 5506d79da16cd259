// Read anemos.conf from disk; the parsing and validation are pure (core/config).

import {readFile} from 'node:fs/promises';
import {type Config, parseConfig} from '../core/config.js';
import {configError} from '../shared/errors.js';

export const DEFAULT_CONFIG_PATH = '/etc/anemos.conf';

export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw configError('config-missing', `No config file at ${path}.`, `Copy anemos.conf.example to ${DEFAULT_CONFIG_PATH} and fill in the URLs and sha256 sums, or pass --config FILE.`);
    }
    throw configError('config-unreadable', `Cannot read ${path}: ${(err as Error).message}.`, 'Check the file permissions (anemos runs as root on the host).');
  }
  return parseConfig(text, path);
}
