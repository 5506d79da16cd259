// Read anemos.conf from disk; the parsing and validation are pure (core/config).

import {statSync} from 'node:fs';
import {readFile} from 'node:fs/promises';
import {dirname, resolve} from 'node:path';
import {type Config, DEFAULT_CONFIG_PATH, parseConfig, type ParseConfigOptions} from '../core/config.js';
import {configError} from '../shared/errors.js';

/**
 * Read and validate a config file; relative artifact paths in it are read from its directory.
 * `over`: turns the file's text (empty when there is none) into the config to validate
 * (anemos deploy --from-registry lays the machine's desired deployment over it).
 */
export async function loadConfig(path: string, opts: Omit<ParseConfigOptions, 'baseDir'> = {}, over?: {text: (local: string) => string; source: string}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || !over) {
      if (code === 'ENOENT') {
        throw configError(
          'config-missing',
          `No config file at ${path}.`,
          path === DEFAULT_CONFIG_PATH
            ? `Copy anemos.conf.example to ${DEFAULT_CONFIG_PATH} and fill in the URLs and sha256 sums, or pass --config FILE.`
            : `Check the path given with --config (or ANEMOS_CONFIG); to start one, copy anemos.conf.example there and fill in the URLs and sha256 sums.`,
        );
      }
      if (code === 'EISDIR') throw configError('config-is-directory', `${path} is a directory, not a config file.`, `Pass the file itself, e.g. --config ${path.replace(/\/$/, '')}/anemos.conf.`);
      if (code === 'EACCES') throw configError('config-unreadable', `Cannot read ${path}: permission denied.`, 'Check the file permissions (anemos deploy runs as root on the host).');
      throw configError('config-unreadable', `Cannot read ${path}: ${(err as Error).message}.`, 'Check that the path names a readable file.');
    }
    text = ''; // --from-registry: the record is the whole config
  }
  // A payload directory (not an archive) is packed when a deploy starts (services/payload.ts).
  const isDirectory = (p: string) => statSync(p, {throwIfNoEntry: false})?.isDirectory() ?? false;
  const exists = (p: string) => statSync(p, {throwIfNoEntry: false}) !== undefined;
  return parseConfig(over ? over.text(text) : text, over ? `${path} with ${over.source}` : path, {...opts, baseDir: dirname(resolve(path)), isDirectory, exists});
}
