// SSH host keys made for a machine by ssh-keygen (OpenSSH's own format, which the deploy
// environment's dropbearconvert and the image's sshd read): ed25519 and ECDSA P-256.

import {mkdtemp, readFile, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {Runner} from '../shared/command.js';
import {commandFailed} from '../shared/command.js';

export interface HostKeys {
  /** By file name (ssh_host_ed25519_key, ...): the private keys, as CONTRACT.hostKeysDir carries them. */
  private: Record<string, string>;
  /** authorized_keys-style lines (type, base64), for known_hosts. */
  public: string[];
}

export async function makeHostKeys(runner: Runner): Promise<HostKeys> {
  const dir = await mkdtemp(join(tmpdir(), 'anemos-host-keys-'));
  try {
    const keys: HostKeys = {private: {}, public: []};
    for (const [type, bits] of [['ed25519', []], ['ecdsa', ['-b', '256']]] as const) {
      const file = join(dir, `ssh_host_${type}_key`);
      const args = ['-q', '-t', type, ...bits, '-N', '', '-C', '', '-f', file];
      const r = await runner.run('ssh-keygen', args, {allowFail: true});
      if (r.exitCode !== 0) throw commandFailed('ssh-keygen', args, r.exitCode, r.stderr, 'Install openssh-client (ssh-keygen) on the machine that runs anemos serve.');
      keys.private[`ssh_host_${type}_key`] = await readFile(file, 'utf8');
      keys.public.push((await readFile(`${file}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' '));
    }
    return keys;
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}
