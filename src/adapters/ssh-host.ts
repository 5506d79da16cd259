// A host reached over SSH with the system's OpenSSH client: the same Host (a Runner and
// HostFiles) the deploy pipeline uses on the machine itself, so facts → plan → execute is
// one code path. The user's ~/.ssh/config, agent, ProxyJump and known_hosts apply; host
// keys are checked as the user's configuration says (we never turn checking off). One
// master connection (ControlMaster) carries the many short commands of the facts and
// load phases; it is closed before the machine reboots.

import {closeSync, openSync, readFileSync} from 'node:fs';
import {connectionError, destinationName, remoteLine, sshArgv, type SshDestination} from '../core/ssh-destination.js';
import {AnemosError, preconditionError} from '../shared/errors.js';
import type {FileStat, Host, HostFiles} from './host-files.js';
import {commandFailed, commandLine, pipeCommand, realRunner, toolMissing, type RunOptions, type RunResult, type Runner} from './process.js';

export const SSH_MISSING = 'Install the OpenSSH client (Debian: openssh-client).';

/** The host keys a server presents, as "TYPE SHA256:..." (for the host-key error); undefined if it cannot be asked. */
export async function presentedFingerprints(d: SshDestination): Promise<string | undefined> {
  const scan = await realRunner.run('ssh-keyscan', [...(d.port ? ['-p', String(d.port)] : []), '-T', '20', '-t', 'ed25519,ecdsa,rsa', d.host], {allowFail: true, timeoutMs: 90_000}).catch(() => undefined);
  if (!scan?.stdout.trim()) return undefined;
  const fp = await realRunner.run('ssh-keygen', ['-lf', '-'], {input: scan.stdout, allowFail: true});
  const list = fp.stdout.trim().split('\n').filter(Boolean).map((l) => `${/\((\w+)\)\s*$/.exec(l)?.[1] ?? ''} ${l.split(' ')[1]}`.trim());
  return list.length ? list.join(', ') : undefined;
}

export interface SshHost extends Host {
  destination: SshDestination;
  /** Open the master connection; the first place a wrong host key or address shows. */
  connect(): Promise<void>;
  /** Close the master connection (before the host reboots under it). */
  close(): Promise<void>;
  /** ssh's argv that runs argv as root on the host (for a caller that streams stdin). */
  command(cmd: string, args: readonly string[]): string[];
}

/** A host over SSH. controlDir: a private directory for the master connection's socket. */
export function sshHost(d: SshDestination, controlDir: string): SshHost {
  const control = ['-o', `ControlPath=${controlDir}/%C`];
  const argv = (line: string) => [...sshArgv(d, [...control, '-o', 'ControlMaster=no', '-o', 'ConnectTimeout=20', '-o', 'ServerAliveInterval=10', '-o', 'ServerAliveCountMax=3']), line];
  const name = destinationName(d);

  /** ssh's own failure (exit 255 with a connection message) as a connect error; anything else is the command's. */
  async function checked(r: RunResult): Promise<RunResult> {
    if (r.exitCode === 255) {
      const err = connectionError(d, r.stderr, /host key/i.test(r.stderr) ? await presentedFingerprints(d) : undefined);
      if (err) throw err;
    }
    if (d.user !== 'root' && r.exitCode === 1 && /^sudo: /m.test(r.stderr)) {
      throw preconditionError(
        'ssh-no-root',
        `${d.user} on ${d.host} cannot run commands as root without a password (sudo -n said: ${r.stderr.trim().split('\n')[0]}); nothing was changed.`,
        `Connect as root, or give ${d.user} passwordless sudo there (a file in /etc/sudoers.d/ with "${d.user} ALL=(ALL) NOPASSWD: ALL").`,
      );
    }
    return r;
  }

  const runner: Runner = {
    async run(cmd, args, opts: RunOptions = {}) {
      if (opts.cwd !== undefined || opts.uid !== undefined || opts.inherit) throw new Error(`bug: ${cmd} cannot run over SSH with cwd, uid or inherited output`);
      const r = await checked(await realRunner.run('ssh', argv(remoteLine(d, cmd, args, opts.env)), {...opts, env: undefined, allowFail: true}));
      if (r.exitCode === 127 && /not found|No such file/.test(r.stderr)) throw toolMissing(cmd, args, {where: name});
      if (r.exitCode !== 0 && !opts.allowFail) {
        const f = commandFailed(cmd, args, r.exitCode, r.stderr);
        throw new AnemosError(f.kind, f.code, `${f.message.replace(/\.$/, '')} on ${name}.`, {hint: f.hint, details: f.details});
      }
      return r;
    },
    stream(cmd, args, opts) {
      return realRunner.stream('ssh', argv(remoteLine(d, cmd, args, opts.env)), {...opts, env: undefined});
    },
    async detach(cmd, args) {
      // setsid: a session of its own that outlives sshd's session; the redirections let ssh return at once.
      const line = `${remoteLine(d, 'setsid', [cmd, ...args])} </dev/null >/dev/null 2>&1 &`;
      await checked(await realRunner.run('ssh', argv(line), {allowFail: true}));
    },
  };

  const notFound = (r: RunResult) => /No such file or directory/.test(r.stderr);
  const files: HostFiles = {
    async read(path) {
      const r = await runner.run('cat', [path], {allowFail: true});
      if (r.exitCode === 0) return r.stdout;
      if (notFound(r)) return undefined;
      throw commandFailed('cat', [path], r.exitCode, r.stderr);
    },
    readBytes: async (path) => (await runner.run('cat', [path], {binary: true})).stdoutBytes ?? new Uint8Array(),
    readRange: async (path, offset, length) =>
      (await runner.run('sh', ['-c', 'tail -c +"$2" "$1" | head -c "$3"', 'sh', path, String(offset + 1), String(length)], {binary: true})).stdoutBytes ?? new Uint8Array(),
    async *openRead(path) {
      const p = pipeCommand('ssh', argv(remoteLine(d, 'cat', [path])), {missingHint: SSH_MISSING});
      for await (const chunk of p.output) yield chunk;
      const end = await p.done;
      // A short read would put a truncated file into the image: fail instead.
      if (end.exitCode !== 0) throw commandFailed('cat', [path], end.exitCode ?? -1, end.stderr);
    },
    write: async (path, content) => void (await runner.run('sh', ['-c', 'cat > "$1"', 'sh', path], {input: content})),
    writePrivate: async (path, content) => void (await runner.run('sh', ['-c', 'umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1" && chmod 0600 "$1"', 'sh', path], {input: content})),
    mkdirPrivate: async (path) => void (await runner.run('sh', ['-c', 'mkdir -p "$1" && chmod 0700 "$1"', 'sh', path])),
    async stat(path) {
      const r = await runner.run('stat', ['-L', '-c', '%s %d %F', path], {allowFail: true});
      if (r.exitCode !== 0) return undefined;
      const [size, dev, ...type] = r.stdout.trim().split(' ');
      const kind = type.join(' ');
      return {size: Number(size), dev: Number(dev), isFile: /regular/.test(kind), isDirectory: kind === 'directory'} satisfies FileStat;
    },
    async list(path) {
      const r = await runner.run('ls', ['-1A', path], {allowFail: true});
      return r.exitCode === 0 ? r.stdout.split('\n').filter(Boolean) : [];
    },
    async freeBytes(path) {
      const r = await runner.run('stat', ['-f', '-c', '%a %S', path], {allowFail: true});
      const [avail, size] = r.stdout.trim().split(' ').map(Number);
      return r.exitCode === 0 && Number.isFinite(avail * size) ? avail * size : undefined;
    },
  };

  return {
    name,
    destination: d,
    command: (cmd, args) => argv(remoteLine(d, cmd, args)),
    runner,
    files,
    async which(cmd) {
      const r = await runner.run('sh', ['-c', 'command -v "$1"', 'sh', cmd], {allowFail: true});
      return r.exitCode === 0 && r.stdout.trim().startsWith('/') ? r.stdout.trim() : undefined;
    },
    hostname: async () => (await runner.run('cat', ['/proc/sys/kernel/hostname'])).stdout.trim(),
    isRoot: async () => (await runner.run('id', ['-u'])).stdout.trim() === '0',
    async connect() {
      // -f: background once authenticated; its stderr goes to a file, since the master keeps
      // the descriptors it was given and a pipe would never reach end of file.
      const log = `${controlDir}/master.log`;
      const fd = openSync(log, 'w', 0o600);
      const code = await pipeCommand('ssh', sshArgv(d, [...control, '-o', 'ControlMaster=yes', '-o', 'ControlPersist=600', '-o', 'ConnectTimeout=20', '-f', '-N']), {stdout: 'ignore', stderrFd: fd, missingHint: SSH_MISSING})
        .done.then((end) => end.exitCode)
        .finally(() => closeSync(fd));
      if (code === 0) return;
      const stderr = readFileSync(log, 'utf8');
      throw (
        connectionError(d, stderr, /host key/i.test(stderr) ? await presentedFingerprints(d) : undefined) ??
        new AnemosError('connect', 'ssh-failed', `ssh to ${name} failed (exit ${code}).`, {hint: `Try it by hand: ${commandLine('ssh', sshArgv(d))} true`, details: stderr.trim().split('\n').slice(-3)})
      );
    },
    async close() {
      await realRunner.run('ssh', [...sshArgv(d, [...control, '-O', 'exit'])], {allowFail: true, timeoutMs: 10_000}).catch(() => undefined);
    },
  };
}
