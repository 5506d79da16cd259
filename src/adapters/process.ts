// The one place external commands run. Everything else receives a Runner. --dry-run
// needs no recording runner: it prints the commands planned from the plan itself
// (core/boot-commands.ts), the same list the executor runs.

import {execa} from 'execa';
import {AnemosError} from '../shared/errors.js';
import {shellQuote} from '../shared/shell.js';

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
}

export interface RunResult {
  stdout: string;
  stdoutBytes?: Uint8Array;
  stderr: string;
  exitCode: number;
}

export interface Runner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export {shellQuote};

export const commandLine = (cmd: string, args: readonly string[]) => [cmd, ...args].map(shellQuote).join(' ');

export function commandFailed(cmd: string, args: readonly string[], exitCode: number, stderr: string, hint?: string): AnemosError {
  const tail = stderr.trim().split('\n').slice(-5);
  return new AnemosError('command', 'command-failed', `${cmd} failed${exitCode >= 0 ? ` with exit code ${exitCode}` : ''}.`, {
    hint: hint ?? 'The command and its last output lines are shown above; run it by hand to see more.',
    details: [`command: ${commandLine(cmd, args)}`, ...tail.filter(Boolean).map((l) => `stderr: ${l}`)],
  });
}

export const realRunner: Runner = {
  async run(cmd, args, opts = {}) {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const sub = execa(cmd, [...args], {
        input: opts.input as string | undefined,
        env: opts.env,
        extendEnv: opts.extendEnv ?? true,
        ...(opts.uid !== undefined ? {uid: opts.uid} : {}),
        ...(opts.gid !== undefined ? {gid: opts.gid} : {}),
        cwd: opts.cwd,
        reject: false,
        // With a timeout the command gets a process group of its own, and the whole group is
        // killed: a grandchild (sleep in a sourced script) would otherwise keep the pipes open.
        detached: opts.timeoutMs !== undefined,
        encoding: opts.binary ? 'buffer' : 'utf8',
        stdout: opts.inherit ? 'inherit' : 'pipe',
        stderr: opts.inherit ? 'inherit' : 'pipe',
        stripFinalNewline: false,
        maxBuffer: 1024 * 1024 * 1024,
      });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          timedOut = true;
          killGroup(sub.pid, 'SIGKILL');
        }, opts.timeoutMs);
      }
      const r = await sub;
      if (timedOut) throw commandFailed(cmd, args, -1, `timed out after ${opts.timeoutMs} ms (the command and everything it started were killed)\n${r.stderr ?? ''}`);
      if (r.failed && r.exitCode === undefined) {
        const missing = (r.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
        throw new AnemosError('precondition', missing ? 'tool-missing' : 'command-failed', missing ? `The command "${cmd}" is not installed.` : `${cmd} could not run: ${r.shortMessage}`, {
          hint: missing ? `Install the package that provides ${cmd} (see README, "Host requirements").` : undefined,
          details: [`command: ${commandLine(cmd, args)}`],
        });
      }
      const stdoutBytes = opts.binary ? (r.stdout as unknown as Uint8Array) : undefined;
      const result: RunResult = {
        stdout: opts.binary ? '' : ((r.stdout as string | undefined) ?? ''),
        ...(stdoutBytes ? {stdoutBytes} : {}),
        stderr: opts.binary ? Buffer.from((r.stderr as unknown as Uint8Array) ?? []).toString() : ((r.stderr as string | undefined) ?? ''),
        exitCode: r.exitCode ?? -1,
      };
      if (result.exitCode !== 0 && !opts.allowFail) throw commandFailed(cmd, args, result.exitCode, result.stderr);
      return result;
    } catch (err) {
      if (err instanceof AnemosError) throw err;
      throw new AnemosError('command', 'command-failed', `${cmd} could not run.`, {cause: err, details: [`command: ${commandLine(cmd, args)}`]});
    } finally {
      clearTimeout(timer);
    }
  },
};

/** Signal a process group (a child started detached leads its own). */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone: nothing left to stop
  }
}
