// Verify, unpack and run the payload. The sha256 is checked again here: the bytes in
// RAM are what runs, whatever happened on the way.

import type {Runner} from '../shared/command.js';
import {existsSync, mkdirSync, readFileSync, statSync} from './runtime.js';
import {AgentError} from './errors.js';
import {oomVictims, outOfMemoryMessage, parseMemTotalMiB, parseOomKills} from './memory.js';

export async function verifyPayload(runner: Runner, path: string, expected: string): Promise<void> {
  if (!existsSync(path)) throw new AgentError('payload-missing', `The payload ${path} is not in the initramfs.`);
  // sha256sum (coreutils/busybox, in C): hashing in JS on QuickJS would take minutes.
  const r = await runner.run('sha256sum', [path], {allowFail: true});
  if (r.exitCode !== 0) throw new AgentError('payload-missing', `The payload ${path} cannot be read: ${r.stderr.trim()}`);
  const actual = r.stdout.split(/\s/)[0]!;
  if (actual !== expected.toLowerCase()) {
    throw new AgentError('payload-sha256', `The payload does not match its sha256 (expected ${expected}, got ${actual}).`);
  }
}

export type PayloadKind = 'deploy' | 'IMGBUILD';

export async function unpackPayload(runner: Runner, archive: string, dir: string): Promise<PayloadKind> {
  mkdirSync(dir, {recursive: true});
  // GNU tar refuses absolute names and ".." members by default.
  const r = await runner.run('tar', ['-xf', archive, '-C', dir, '--no-same-owner'], {allowFail: true});
  if (r.exitCode !== 0) throw new AgentError('payload-not-tar', `The payload is not a readable tar archive: ${r.stderr.trim().split('\n')[0]}`);
  const deploy = `${dir}/deploy`;
  if (existsSync(deploy)) {
    if (!(statSync(deploy).mode & 0o111)) throw new AgentError('payload-not-executable', 'The payload\'s "deploy" is not executable (chmod +x deploy, then pack again).');
    return 'deploy';
  }
  if (existsSync(`${dir}/IMGBUILD`)) return 'IMGBUILD';
  throw new AgentError('payload-no-entry', 'The payload has neither "deploy" nor "IMGBUILD" at its root.');
}

export interface RunScriptOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutSeconds: number;
  onLine: (line: string) => void;
}

/** Run ./deploy in its own process group; the group is killed on timeout. */
export function runDeployScript(runner: Runner, o: RunScriptOptions): Promise<void> {
  return runInGroup(runner, {...o, command: './deploy', args: [], name: './deploy', timeoutHint: `deploy.timeout (${o.timeoutSeconds} s)`});
}

export interface RunInGroupOptions extends RunScriptOptions {
  command: string;
  args: string[];
  /** How messages name the process. */
  name: string;
  /** What the timeout is, for the message ("deploy.timeout (3600 s)"). */
  timeoutHint: string;
}

const oomKills = () => (existsSync('/proc/vmstat') ? parseOomKills(readFileSync('/proc/vmstat', 'utf8')) : 0);

/**
 * Run a command in its own process group (Runner.stream), lines to onLine; the failure as
 * the agent says it. The agent keeps itself out of the OOM killer's reach (main.ts); the
 * payload gets the default back, so that the kernel stops it, not the agent or dropbear.
 */
export async function runInGroup(runner: Runner, o: RunInGroupOptions): Promise<void> {
  let r;
  const killsBefore = oomKills();
  try {
    const reset = 'echo 0 > /proc/self/oom_score_adj 2>/dev/null; exec "$0" "$@"';
    r = await runner.stream('/bin/sh', ['-c', reset, o.command, ...o.args], {cwd: o.cwd, env: o.env, onLine: o.onLine, timeoutSeconds: o.timeoutSeconds});
  } catch (err) {
    throw new AgentError('payload-run', `${o.name} could not start: ${(err as Error).message}`);
  }
  if (oomKills() > killsBefore) {
    const message = outOfMemoryMessage(o.name, oomVictims((await runner.run('dmesg', [], {allowFail: true})).stdout), parseMemTotalMiB(readFileSync('/proc/meminfo', 'utf8')));
    if (r.exitCode !== 0 || r.timedOut) throw new AgentError('payload-oom', message);
    o.onLine(`(warning) ${message} It went on and succeeded.`);
  }
  if (r.timedOut) throw new AgentError('payload-timeout', `${o.name} ran longer than ${o.timeoutHint} and was stopped.`);
  if (r.exitCode !== 0) throw new AgentError('payload-failed', `${o.name} exited with ${r.exitCode !== null ? `code ${r.exitCode}` : `signal ${r.signal}`}.`);
}
