// Dropbear for the operator, with the host's own SSH host keys when the CLI carried
// them (converted from OpenSSH format), so known_hosts stays valid.

import {chmodSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync} from './runtime.js';
import type {Runner} from '../shared/command.js';
import {CONTRACT} from '../core/boot-contract.js';

export interface SshStart {
  convertedKeys: string[];
}

export async function startDropbear(runner: Runner, root = '/'): Promise<SshStart> {
  mkdirSync('/root/.ssh', {recursive: true, mode: 0o700});
  chmodSync('/root', 0o700);
  const keys = `${root}${CONTRACT.authorizedKeys}`;
  if (existsSync(keys)) {
    copyFileSync(keys, '/root/.ssh/authorized_keys');
    chmodSync('/root/.ssh/authorized_keys', 0o600);
  }
  mkdirSync('/etc/dropbear', {recursive: true});
  const converted: string[] = [];
  const dir = `${root}${CONTRACT.hostKeysDir}`;
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      const m = /^ssh_host_(ed25519|ecdsa|rsa)_key$/.exec(f);
      if (!m) continue;
      const r = await runner.run('dropbearconvert', ['openssh', 'dropbear', `${dir}/${f}`, `/etc/dropbear/dropbear_${m[1]}_host_key`], {allowFail: true});
      if (r.exitCode === 0) converted.push(m[1]);
    }
  }
  const out = openSync('/run/anemos/dropbear.log', 'a');
  // -R: make any missing host key; -s: keys only, no passwords; -F -E: foreground, log to stderr.
  runner.detach('dropbear', ['-R', '-s', '-F', '-E', '-p', '22'], {stdio: out});
  return {convertedKeys: converted};
}
