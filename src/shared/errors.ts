// Typed errors with a stable code and exit status. Reported once, at the top
// (the CLI's base command, the agent's main); never caught and silenced below.

import {terminalLines} from './terminal-text.js';

export const EXIT = {
  bug: 1,
  usage: 2,
  config: 3,
  precondition: 4,
  fetch: 5,
  artifact: 6,
  command: 7,
  /** SSH to the host failed (address, host key, keys, sudo): nothing was changed. */
  connect: 8,
  // The verdicts of a deploy driven from a workstation (anemos deploy --host), docs/guide.md "When something fails":
  /** The deploy environment failed before writing to a disk; the old system is back and answers. */
  rolledBack: 10,
  /** The deploy environment failed after writing; the machine stays in it, reachable over SSH. */
  stranded: 11,
  /** No verdict within --timeout: the machine never came back, or never finished. */
  timeout: 12,
  /** The new system is up but failed a check (host key, hostname, --check). */
  checkFailed: 13,
  interrupted: 130,
} as const;

export type ErrorKind = keyof typeof EXIT;

/** What each exit status tells a script (docs/commands.md is generated from this). */
export const EXIT_MEANING: Record<ErrorKind, string> = {
  bug: 'a bug in anemos (the message says where to report it)',
  usage: 'usage: an unknown command or flag, a flag without the flag it needs, a path that does not exist; nothing was changed',
  config: 'the config file is missing or has problems (each named with its YAML path); nothing was changed',
  precondition: 'the host cannot take this deploy (root, kexec, network, disks, RAM, the payload); the plan lists every problem; nothing was changed',
  fetch: 'a download failed or did not match its sha256; nothing was changed',
  artifact: 'an artifact is not what it must be (a kernel that is not a bzImage, a payload that is not valid); nothing was changed',
  command: 'a command on the host failed; nothing was changed',
  connect: 'SSH failed: unknown host, refused, host key mismatch, keys refused, no sudo; nothing was changed',
  rolledBack: 'the deploy environment failed before writing to a disk; the old system is back and answered',
  stranded: 'the deploy environment failed after writing; the machine stays in it, reachable over SSH',
  timeout: 'no verdict within --timeout: the machine never came back, or never finished',
  checkFailed: 'the new system answers but failed a check (host key, hostname, --check)',
  interrupted: 'interrupted (Ctrl-C, SIGTERM)',
};

export class AnemosError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly hint?: string;
  readonly details: string[];

  constructor(kind: ErrorKind, code: string, message: string, opts: {hint?: string; details?: string[]; cause?: unknown} = {}) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause});
    this.name = 'AnemosError';
    this.kind = kind;
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details ?? [];
  }

  get exitCode(): number {
    return EXIT[this.kind];
  }

  toJSON(): {code: string; message: string; hint?: string; details?: string[]} {
    return {code: this.code, message: this.message, ...(this.hint ? {hint: this.hint} : {}), ...(this.details.length ? {details: this.details} : {})};
  }
}

export const usageError = (code: string, message: string, hint?: string) => new AnemosError('usage', code, message, {hint});
export const configError = (code: string, message: string, hint?: string, details?: string[]) =>
  new AnemosError('config', code, message, {hint, details});
export const preconditionError = (code: string, message: string, hint?: string) => new AnemosError('precondition', code, message, {hint});
export const fetchError = (code: string, message: string, hint?: string, cause?: unknown) =>
  new AnemosError('fetch', code, message, {hint, cause});
export const artifactError = (code: string, message: string, hint?: string) => new AnemosError('artifact', code, message, {hint});
/** A path named on the command line that is not there: the same mistake, the same code, everywhere (exit 2). */
export const pathMissing = (path: string, what: string, hint: string) => new AnemosError('usage', 'path-missing', `${what} ${path} does not exist.`, {hint});

const WRITE_FAILURES: Record<string, string> = {ENOSPC: 'no space left on the file system', EDQUOT: 'disk quota exceeded', EROFS: 'the file system is read-only'};

/**
 * A failed write to a local file (full disk, quota, read-only), as an error that names the
 * file and what to do; undefined for any other error, which the caller handles as before.
 */
export function writeFailure(err: unknown, path: string, what: string, elsewhere = 'point cache_dir in anemos.conf at one'): AnemosError | undefined {
  const code = (err as {code?: string} | undefined)?.code;
  if (!code || !(code in WRITE_FAILURES)) return undefined;
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  const hint = code === 'EROFS' ? `${elsewhere[0].toUpperCase()}${elsewhere.slice(1)} that is writable.` : `Free space on the file system that holds ${dir} (df -h ${dir}), or ${elsewhere} with room; then rerun.`;
  return preconditionError(`write-${code.toLowerCase()}`, `Writing ${what} to ${path} failed: ${WRITE_FAILURES[code]} (${code}).`, hint);
}

/** Stop before writing `bytes` under `dir` when its file system has less room, with the same advice. */
export function noRoom(dir: string, bytes: number, free: number, what: string, elsewhere = 'point cache_dir in anemos.conf at one'): AnemosError | undefined {
  if (free >= bytes) return undefined;
  const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  return preconditionError('write-no-room', `${what[0].toUpperCase()}${what.slice(1)} needs ${mib(bytes)} in ${dir}, and its file system has ${mib(free)} free.`, `Free space there (df -h ${dir}), or ${elsewhere} with room; then rerun.`);
}

/**
 * Render an error for a human: message, details, hint; stack and causes only with debug.
 * An error can carry what another machine said (a --check's output, a registry's message):
 * none of it reaches the terminal as an escape sequence.
 */
export function formatError(err: unknown, debug = false): string {
  const lines: string[] = [];
  if (err instanceof AnemosError) {
    lines.push(`Error [${err.code}]: ${terminalLines(err.message, 50, 16384)}`);
    for (const d of err.details) lines.push(`  - ${terminalLines(d, 50)}`);
    if (err.hint) lines.push(`Hint: ${terminalLines(err.hint, 50, 16384)}`);
  } else if (err instanceof Error) {
    lines.push(`Internal error: ${err.message}`, 'Hint: this is a bug in anemos; rerun with --debug and report the output.');
  } else {
    lines.push(`Internal error: ${String(err)}`);
  }
  if (debug && err instanceof Error) {
    lines.push(err.stack ?? '');
    let cause = err.cause;
    while (cause) {
      lines.push(`Caused by: ${cause instanceof Error ? cause.stack ?? cause.message : String(cause)}`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
  return lines.join('\n');
}

export function exitCodeOf(err: unknown): number {
  return err instanceof AnemosError ? err.exitCode : EXIT.bug;
}
