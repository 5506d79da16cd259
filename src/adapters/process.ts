// The one place external commands run: short ones (run), long ones whose output is shown
// as it comes and whose whole process group is killed on timeout (stream), and ones that
// must outlive us (detach). Everything else receives a Runner; tests hand in fakes.
// --dry-run needs no recording runner: it prints the commands planned from the plan
// itself (core/boot-methods/), the same list the executor runs. Compression streams
// through its own choke point (adapters/compress.ts).

import {spawn} from 'node:child_process';
import {onLines} from '../shared/line-splitter.js';
import {execa} from 'execa';
import {AnemosError} from '../shared/errors.js';
import {commandFailed, commandLine, type Runner, type RunResult} from '../shared/command.js';

export type {RunOptions, RunResult, StreamOptions, StreamResult, Runner} from '../shared/command.js';
export {commandFailed, commandLine, shellQuote} from '../shared/command.js';

export const realRunner: Runner = {
  stream(cmd, args, o) {
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
    spawn(cmd, [...args], {detached: true, stdio: ['ignore', out, out]}).unref();
  },
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
        const missing = (r.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
        throw new AnemosError('precondition', missing ? 'tool-missing' : 'command-failed', missing ? `The command "${cmd}" is not installed.` : `${cmd} could not run: ${r.shortMessage}`, {
          hint: missing ? `Install the package that provides ${cmd} (Debian: apt-file search bin/${cmd} names it).` : undefined,
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
