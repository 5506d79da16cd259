// The one place external commands run: short ones (run), long ones whose output is shown
// as it comes and whose whole process group is killed on timeout (stream), ones that
// must outlive us (detach), and ones whose input and output are byte streams (pipe:
// compression, SSH transfers, a remote log followed). Everything else receives a Runner;
// tests hand in fakes. --dry-run needs no recording runner: it prints the commands planned
// from the plan itself (core/boot-methods/), the same list the executor runs. With --debug
// (ANEMOS_DEBUG) every command is printed to stderr first, as a line to paste in a shell.

import {spawn} from 'node:child_process';
import {Readable} from 'node:stream';
import {onLines} from '../shared/line-splitter.js';
import {execa} from 'execa';
import {AnemosError} from '../shared/errors.js';
import {commandFailed, commandLine, toolMissing, type Runner, type RunResult} from '../shared/command.js';

export type {RunOptions, RunResult, StreamOptions, StreamResult, Runner} from '../shared/command.js';
export {commandFailed, commandLine, shellQuote, toolMissing} from '../shared/command.js';

/** --debug: each command as a shell line, before it runs. */
function trace(cmd: string, args: readonly string[]): void {
  if (/^(1|true)$/.test(process.env.ANEMOS_DEBUG ?? '')) process.stderr.write(`+ ${commandLine(cmd, args)}\n`);
}

export const realRunner: Runner = {
  stream(cmd, args, o) {
    trace(cmd, args);
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, [...args], {cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe']});
      for (const s of [child.stdout, child.stderr]) onLines(s, o.onLine);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child.pid, 'SIGTERM');
        setTimeout(() => killGroup(child.pid, 'SIGKILL'), 10_000).unref();
      }, Math.max(1, o.timeoutSeconds) * 1000);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new AnemosError('command', 'command-failed', `${cmd} could not start: ${err.message}`, {details: [`command: ${commandLine(cmd, args)}`]}));
      });
      child.on('close', (exitCode, signal) => {
        clearTimeout(timer);
        resolve({exitCode, signal, timedOut});
      });
    });
  },
  detach(cmd, args, o = {}) {
    const out = o.stdio ?? 'ignore';
    trace(cmd, args);
    spawn(cmd, [...args], {detached: true, stdio: ['ignore', out, out]}).unref();
  },
  async run(cmd, args, opts = {}) {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    trace(cmd, args);
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
        // Inherited output is a terminal's: its input too (a VM's serial console), unless input is given.
        ...(opts.inherit && opts.input === undefined ? {stdin: 'inherit' as const} : {}),
        stdout: opts.inherit ? 'inherit' : 'pipe',
        stderr: opts.inherit ? 'inherit' : 'pipe',
        stripFinalNewline: false,
        maxBuffer: opts.maxOutputBytes ?? 1024 * 1024 * 1024,
      });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          timedOut = true;
          killGroup(sub.pid, 'SIGKILL');
        }, opts.timeoutMs);
      }
      const r = await sub;
      if (timedOut) throw commandFailed(cmd, args, -1, `timed out after ${opts.timeoutMs} ms (the command and everything it started were killed)\n${r.stderr ?? ''}`);
      // Ended by a signal (a VM stopped with Ctrl-C or kill): an exit, not a failure to start.
      if (r.failed && r.exitCode === undefined && r.signal) {
        if (!opts.allowFail) throw commandFailed(cmd, args, -1, `killed by ${r.signal}\n${r.stderr ?? ''}`);
        return {stdout: '', stderr: typeof r.stderr === 'string' ? r.stderr : '', exitCode: -1};
      }
      if (r.failed && r.exitCode === undefined) {
        if ((r.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw toolMissing(cmd, args);
        throw new AnemosError('command', 'command-failed', `${cmd} could not run: ${r.shortMessage}`, {details: [`command: ${commandLine(cmd, args)}`]});
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

export interface PipeOptions {
  /** Bytes for its stdin, which is closed after them; absent: no stdin. */
  input?: AsyncIterable<Uint8Array>;
  /** Its stdout: read through `output` (default), or not connected. */
  stdout?: 'pipe' | 'ignore';
  /** Its stderr into this file descriptor instead of kept for the error (a daemon keeps what it is given: ssh -f). */
  stderrFd?: number;
  /** Stops it (SIGTERM); `done` then resolves as for any end. */
  signal?: AbortSignal;
  /** For a missing program: the package that provides it. */
  missingHint?: string;
}

export interface Piped {
  /** Its stdout as it comes (empty with stdout: 'ignore'). */
  output: AsyncIterable<Uint8Array>;
  /** Its end: the exit code (null after a signal) and the last 64 KiB of its stderr. Rejects only when it could not start. */
  done: Promise<{exitCode: number | null; signal: string | null; stderr: string}>;
}

/** A command whose input and output are streams of bytes. */
export function pipeCommand(cmd: string, args: readonly string[], o: PipeOptions = {}): Piped {
  trace(cmd, args);
  const child = spawn(cmd, [...args], {stdio: [o.input ? 'pipe' : 'ignore', o.stdout ?? 'pipe', o.stderrFd ?? 'pipe']});
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-65536)));
  const done = new Promise<{exitCode: number | null; signal: string | null; stderr: string}>((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? toolMissing(cmd, args, o.missingHint ? {hint: o.missingHint} : {}) : new AnemosError('command', 'command-failed', `${cmd} could not start: ${err.message}`, {details: [`command: ${commandLine(cmd, args)}`]})));
    child.on('close', (exitCode, signal) => resolve({exitCode, signal, stderr}));
  });
  // Handled here too: a consumer awaits it only after reading the output, ticks later.
  done.catch(() => undefined);
  if (o.signal) {
    if (o.signal.aborted) child.kill('SIGTERM');
    else o.signal.addEventListener('abort', () => child.kill('SIGTERM'), {once: true});
  }
  if (o.input && child.stdin) {
    // A tool that ends early breaks the pipe (EPIPE): its exit status, in `done`, says why.
    child.stdin.on('error', () => undefined);
    Readable.from(o.input).pipe(child.stdin);
  }
  const stdout = child.stdout;
  return {
    output: stdout ? (stdout as AsyncIterable<Uint8Array>) : (async function* () {})(),
    done,
  };
}

/** Signal a process group (a child started detached leads its own). */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone: nothing left to stop
  }
}
