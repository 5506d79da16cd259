// The operator's registry token, for the CLI: ANEMOS_REGISTRY_TOKEN, or a file only its
// owner reads (--token-file, default ~/.config/anemos/registry-token), never a flag's
// value (a command line is visible to every user of the machine in /proc).

import {readFileSync, statSync} from 'node:fs';
import {homedir} from 'node:os';
import {join} from 'node:path';
import {preconditionError, usageError} from '../shared/errors.js';

export const defaultTokenFile = (env: NodeJS.ProcessEnv = process.env) => join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'anemos', 'registry-token');

export function loadOperatorToken(o: {envToken?: string; file?: string}): {token: string; source: string} | undefined {
  if (o.envToken?.trim()) return {token: o.envToken.trim(), source: 'the token in ANEMOS_REGISTRY_TOKEN'};
  const file = o.file ?? defaultTokenFile();
  let st;
  try {
    st = statSync(file);
  } catch {
    if (o.file) throw usageError('token-file-missing', `The token file ${file} does not exist.`, 'Write the token there (umask 077; echo TOKEN > FILE), or set ANEMOS_REGISTRY_TOKEN.');
    return undefined;
  }
  if (st.mode & 0o077) throw preconditionError('token-file-open', `The token file ${file} can be read by others (mode ${(st.mode & 0o777).toString(8)}): it is not used.`, `chmod 600 ${file}`);
  const token = readFileSync(file, 'utf8').trim();
  if (!token) throw usageError('token-file-empty', `The token file ${file} is empty.`, 'Put the token there, on one line.');
  return {token, source: `the token in ${file}`};
}
