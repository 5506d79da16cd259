// What running a command means, for both runtimes: the Runner the host CLI implements on
// Node (adapters/process.ts) and the agent on QuickJS (agent/runtime.ts), and how a
// failed command is told.

import {AnemosError} from './errors.js';
import {shellQuote} from './shell.js';

export {shellQuote};

export interface RunOptions {
  input?: string | Uint8Array;
  env?: Record<string, string>;
  cwd?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFail?: boolean;
  /** Stream output to our stderr (long tools: debootstrap, zstd). */
  inherit?: boolean;
  timeoutMs?: number;
  /** stdout as bytes instead of text. */
  binary?: boolean;
  /** Run as this user and group (numeric; the caller must be root). */
  uid?: number;
  gid?: number;
  /** false: the command sees only `env`, nothing of ours. */
  extendEnv?: boolean;
  /** Output kept, at most (another machine's output: a bound on what it can make us hold); the command is stopped past it. */
  maxOutputBytes?: number;
}

export interface RunResult {
  stdout: string;
  stdoutBytes?: Uint8Array;
  stderr: string;
  exitCode: number;
}

export interface StreamOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Every line of stdout and stderr, as it comes. */
  onLine: (line: string) => void;
  /** Then the whole process group is killed: SIGTERM, SIGKILL 10 s later. */
  timeoutSeconds: number;
}

export interface StreamResult {
  /** null when a signal ended it. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
}

export interface Runner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** A long command in a process group of its own, its output line by line (payloads, step scripts). */
  stream(cmd: string, args: readonly string[], opts: StreamOptions): Promise<StreamResult>;
  /** Start a command that outlives us (a new session, no stdio); returns once it is started. */
  detach(cmd: string, args: readonly string[], opts?: {stdio?: number}): void | Promise<void>;
}

export const commandLine = (cmd: string, args: readonly string[]) => [cmd, ...args].map(shellQuote).join(' ');

export function commandFailed(cmd: string, args: readonly string[], exitCode: number, stderr: string, hint?: string): AnemosError {
  const tail = stderr.trim().split('\n').slice(-5);
  return new AnemosError('command', 'command-failed', `${cmd} failed${exitCode >= 0 ? ` with exit code ${exitCode}` : ''}.`, {
    hint: hint ?? 'The command and its last output lines are shown above; run it by hand to see more.',
    details: [`command: ${commandLine(cmd, args)}`, ...tail.filter(Boolean).map((l) => `stderr: ${l}`)],
  });
}


/**
 * A command that is not there, wherever it was looked for: the one way anemos says so.
 * `where` names another machine ("on root@web1"); `hint` replaces the default (the package to install).
 */
export function toolMissing(cmd: string, args: readonly string[], o: {where?: string; hint?: string} = {}): AnemosError {
  return new AnemosError('precondition', 'tool-missing', `The command "${cmd}" is not installed${o.where ? ` on ${o.where}` : ''}.`, {
    hint: o.hint ?? `Install the package that provides ${cmd}${o.where ? ' there' : ''} (Debian: apt-file search bin/${cmd} names it).`,
    details: [`command: ${commandLine(cmd, args)}`],
  });
}
