// Where an SSH deploy goes and what goes over the wire: [USER@]HOST parsed, ssh's argv, the
// remote shell line that runs a command as root, and ssh's failures told apart. Pure: the
// connection itself is adapters/ssh-host.ts.

import {AnemosError, usageError} from '../shared/errors.js';
import {shellQuote} from '../shared/shell.js';

export interface SshDestination {
  user: string;
  host: string;
  port?: number;
  identity?: string;
  /** Passed as -o OPT, in order. */
  options: string[];
}

/** [USER@]HOST, HOST possibly an IPv6 address in brackets; the user defaults to root. */
export function parseDestination(spec: string): {user: string; host: string} {
  const m = /^(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^@\s[\]/]+)$/.exec(spec.trim());
  if (!m) throw usageError('bad-host', `"${spec}" is not a host to connect to.`, 'Pass --host HOST or --host USER@HOST (an IPv6 address in brackets: root@[2001:db8::5]).');
  return {user: m[1] ?? 'root', host: m[2].replace(/^\[(.*)\]$/, '$1')};
}

/** The destination the --host, --ssh-port, -i and --ssh-option flags name. */
export function destinationFromFlags(f: {host: string; 'ssh-port'?: number; identity?: string; 'ssh-option'?: string[]}): SshDestination {
  return {...parseDestination(f.host), ...(f['ssh-port'] ? {port: f['ssh-port']} : {}), ...(f.identity ? {identity: f.identity} : {}), options: f['ssh-option'] ?? []};
}

export const destinationName = (d: SshDestination) => `${d.user}@${d.host.includes(':') ? `[${d.host}]` : d.host}${d.port ? ` (port ${d.port})` : ''}`;

/** The PATH root has on a Debian or Ubuntu host; sshd and sudo may hand us a shorter one. */
const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** ssh's arguments up to and including the destination. */
export function sshArgv(d: SshDestination, extra: string[] = []): string[] {
  return [
    ...(d.port ? ['-p', String(d.port)] : []),
    ...(d.identity ? ['-i', d.identity] : []),
    ...d.options.flatMap((o) => ['-o', o]),
    // No questions: a password or passphrase prompt would hang a CI job. Keys come from the agent or -i.
    '-o', 'BatchMode=yes',
    ...extra,
    '--',
    `${d.user}@${d.host}`,
  ];
}

/** The remote shell line that runs argv as root (sudo -n for another user) with root's PATH. */
export function remoteLine(d: SshDestination, cmd: string, args: readonly string[], env: Record<string, string> = {}): string {
  const envArgs = [`PATH=${ROOT_PATH}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return [...(d.user === 'root' ? [] : ['sudo', '-n', '--']), 'env', ...envArgs, cmd, ...args].map(shellQuote).join(' ');
}

/** What a failed SSH connection means, as an error naming the fix; undefined when ssh connected (the command failed). */
export function connectionError(d: SshDestination, stderr: string, fingerprints?: string): AnemosError | undefined {
  const name = destinationName(d);
  const last = stderr.trim().split('\n').filter(Boolean).slice(-3);
  const err = (code: string, message: string, hint: string) => new AnemosError('connect', code, message, {hint, details: last.map((l) => `ssh: ${l}`)});
  const port = d.port ? `-p ${d.port} ` : '';
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key for .* has changed|No .* host key is known/i.test(stderr)) {
    return err(
      'ssh-host-key',
      `The host key of ${name} is not the one known_hosts expects, or known_hosts has none for it; nothing was changed.${fingerprints ? ` It presents: ${fingerprints}.` : ''}`,
      `Compare that fingerprint with the one your provider shows (its console, or the first boot's log). If it is right, pin it: ssh-keyscan ${port}${d.host} >> ~/.ssh/known_hosts (or into a file given with --ssh-option UserKnownHostsFile=FILE); if known_hosts holds an old key: ssh-keygen -R ${d.port ? `'[${d.host}]:${d.port}'` : d.host}.`,
    );
  }
  if (/Could not resolve hostname|Name or service not known|nodename nor servname/i.test(stderr)) {
    return err('ssh-unknown-host', `${d.host} is not a host name this machine can resolve.`, 'Check the spelling, or use its IP address.');
  }
  if (/Connection refused/i.test(stderr)) return err('ssh-refused', `${name} refused the SSH connection.`, `Check that sshd runs there and listens on ${d.port ?? 22} (--ssh-port N for another port).`);
  if (/timed out|No route to host|Network is unreachable|banner exchange|Connection reset|Connection closed by remote|kex_exchange_identification/i.test(stderr)) {
    return err('ssh-unreachable', `${name} did not answer over SSH.`, 'Check the address, the port and any firewall on the way; a host that is rebooting answers again in a minute.');
  }
  if (/Permission denied|Too many authentication failures/i.test(stderr)) {
    return err('ssh-permission', `${name} refused our keys (permission denied).`, `Load the key into ssh-agent or pass -i FILE; it must be in ${d.user === 'root' ? '/root' : `~${d.user}`}/.ssh/authorized_keys there.`);
  }
  return undefined;
}
