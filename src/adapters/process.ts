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
    try {
      const r = await execa(cmd, [...args], {
        input: opts.input as string | undefined,
        env: opts.env,
        cwd: opts.cwd,
        reject: false,
        timeout: opts.timeoutMs,
        encoding: opts.binary ? 'buffer' : 'utf8',
        stdout: opts.inherit ? 'inherit' : 'pipe',
        stderr: opts.inherit ? 'inherit' : 'pipe',
        stripFinalNewline: false,
        maxBuffer: 1024 * 1024 * 1024,
      });
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
      if (r.timedOut) throw commandFailed(cmd, args, -1, `timed out after ${opts.timeoutMs} ms\n${result.stderr}`);
      if (result.exitCode !== 0 && !opts.allowFail) throw commandFailed(cmd, args, result.exitCode, result.stderr);
      return result;
    } catch (err) {
      if (err instanceof AnemosError) throw err;
      throw new AnemosError('command', 'command-failed', `${cmd} could not run.`, {cause: err, details: [`command: ${commandLine(cmd, args)}`]});
    }
  },
};
