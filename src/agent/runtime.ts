// The one module of the agent that knows what it runs on: QuickJS (`qjs --std`, Debian 13's
// quickjs), whose `std` and `os` modules are globals then. Files, directories, processes
// (a timeout that kills the whole process group, exit codes, output line by line, children
// reaped on SIGCHLD), timers, the environment. Everything else in the agent is the same code the host CLI
// runs on Node. Tested under the real qjs (test/integration/qjs-runtime.test.ts).
//
// Named like Node's fs where it does the same, so the agent reads as it always did.

import type {Runner, RunOptions, RunResult, StreamOptions, StreamResult} from '../shared/command.js';
import {commandFailed, commandLine, toolMissing} from '../shared/command.js';
import {AnemosError} from '../shared/errors.js';
import {utf8Decode, utf8Encode} from '../shared/bytes.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
interface QjsFile {
  puts(s: string): void;
  write(buf: ArrayBuffer, pos: number, len: number): number;
  read(buf: ArrayBuffer, pos: number, len: number): number;
  flush(): void;
  close(): number;
}
const g = globalThis as any;
const std = g.std as {
  loadFile(path: string): string | null;
  open(path: string, mode: string, err?: {errno: number}): QjsFile | null;
  getenviron(): Record<string, string>;
  strerror(errno: number): string;
  exit(code: number): never;
  out: QjsFile;
  err: QjsFile;
};
const os = g.os as {
  open(path: string, flags: number, mode?: number): number;
  close(fd: number): number;
  read(fd: number, buf: ArrayBuffer, pos: number, len: number): number;
  write(fd: number, buf: ArrayBuffer, pos: number, len: number): number;
  stat(path: string): [{mode: number; size: number}, number];
  lstat(path: string): [{mode: number; size: number}, number];
  readdir(path: string): [string[], number];
  readlink(path: string): [string, number];
  mkdir(path: string, mode?: number): number;
  remove(path: string): number;
  exec(argv: string[], o: Record<string, unknown>): number;
  waitpid(pid: number, options: number): [number, number];
  kill(pid: number, sig: number): number;
  pipe(): [number, number] | null;
  setReadHandler(fd: number, f: (() => void) | null): void;
  setTimeout(f: () => void, ms: number): unknown;
  clearTimeout(t: unknown): void;
  signal(sig: number, f: (() => void) | null): void;
  getpid(): number;
  O_RDONLY: number;
  O_WRONLY: number;
  O_RDWR: number;
  O_CREAT: number;
  O_TRUNC: number;
  O_APPEND: number;
  S_IFMT: number;
  S_IFDIR: number;
  S_IFLNK: number;
  WNOHANG: number;
  SIGTERM: number;
  SIGCHLD: number;
};
/** Not among QuickJS' os constants (Linux: 9). */
const SIGKILL = 9;

// QuickJS' console has log only; a library's console.warn (yaml's) must not throw.
if (g.console && !g.console.warn) g.console.warn = g.console.error = (...a: unknown[]) => g.std?.err.puts(`${a.join(' ')}\n`);

// --- files -------------------------------------------------------------------------

function fail(op: string, path: string, errno: number): never {
  const err = new Error(`${op} ${path}: ${std.strerror(errno)}`) as Error & {code?: string};
  err.code = errno === 2 ? 'ENOENT' : errno === 17 ? 'EEXIST' : `E${errno}`;
  throw err;
}
const check = (op: string, path: string, r: number) => (r < 0 ? fail(op, path, -r) : r);

export interface Stat {
  mode: number;
  size: number;
  isDirectory(): boolean;
}

export function statSync(path: string): Stat {
  const [st, errno] = os.stat(path);
  if (errno) fail('stat', path, errno);
  return {mode: st.mode, size: st.size, isDirectory: () => (st.mode & os.S_IFMT) === os.S_IFDIR};
}

/** The entry itself, a link not followed. */
export function lstatSync(path: string): Stat & {isSymbolicLink(): boolean} {
  const [st, errno] = os.lstat(path);
  if (errno) fail('lstat', path, errno);
  const type = st.mode & os.S_IFMT;
  return {mode: st.mode, size: st.size, isDirectory: () => type === os.S_IFDIR, isSymbolicLink: () => type === os.S_IFLNK};
}

export function existsSync(path: string): boolean {
  return os.stat(path)[1] === 0;
}

export function readFileSync(path: string, _encoding: 'utf8'): string {
  const f = std.open(path, 'rb');
  if (!f) fail('read', path, errnoOf(path));
  try {
    return utf8Decode(readAll(f));
  } finally {
    f.close();
  }
}

/** The first `length` bytes of a file (a disk's partition table), or all of it. */
export function readBytes(path: string, length?: number): Uint8Array {
  const f = std.open(path, 'rb');
  if (!f) fail('read', path, errnoOf(path));
  try {
    return readAll(f, length);
  } finally {
    f.close();
  }
}

function readAll(f: QjsFile, limit = Infinity): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const want = Math.min(65536, limit - total);
    if (want <= 0) break;
    const buf = new ArrayBuffer(want);
    const n = f.read(buf, 0, want);
    if (n <= 0) break;
    chunks.push(new Uint8Array(buf, 0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) (out.set(c, at), (at += c.length));
  return out;
}

function errnoOf(path: string): number {
  const [, errno] = os.stat(path);
  return errno || 13;
}

const CREATE = () => os.O_WRONLY | os.O_CREAT | os.O_TRUNC;

/** Write text (as UTF-8) or bytes in one write(2): efivarfs and sysfs take a file in one piece. */
export function writeFileSync(path: string, data: string | Uint8Array, o: {mode?: number; flag?: 'w' | 'a'} = {}): void {
  const fd = check('open', path, os.open(path, o.flag === 'a' ? os.O_WRONLY | os.O_CREAT | os.O_APPEND : CREATE(), o.mode ?? 0o644));
  try {
    writeAllFd(fd, path, data);
  } finally {
    os.close(fd);
  }
}

export function appendFileSync(path: string, data: string): void {
  writeFileSync(path, data, {flag: 'a'});
}

function writeAllFd(fd: number, path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? utf8Encode(data) : data;
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let at = 0;
  while (at < buf.byteLength) at += check('write', path, os.write(fd, buf, at, buf.byteLength - at));
}

/** A console or a device kept open: lines written as they come, errors swallowed by the caller. */
export function openSync(path: string, flags: 'w' | 'a' = 'w'): number {
  return check('open', path, os.open(path, flags === 'a' ? os.O_WRONLY | os.O_CREAT | os.O_APPEND : os.O_WRONLY, 0o644));
}
export function writeSync(fd: number, data: string): void {
  writeAllFd(fd, `fd ${fd}`, data);
}
export function closeSync(fd: number): void {
  os.close(fd);
}

export function mkdirSync(path: string, o: {recursive?: boolean; mode?: number} = {}): void {
  const mode = o.mode ?? 0o755;
  if (!o.recursive) return void check('mkdir', path, os.mkdir(path, mode));
  let at = '';
  for (const part of path.split('/')) {
    at = at ? `${at}/${part}` : part || '/';
    if (!part || existsSync(at)) continue;
    const r = os.mkdir(at, mode);
    if (r < 0 && -r !== 17) fail('mkdir', at, -r);
  }
}

export function readdirSync(path: string): string[] {
  const [names, errno] = os.readdir(path);
  if (errno) fail('readdir', path, errno);
  return names.filter((n) => n !== '.' && n !== '..').sort();
}

export function readlinkSync(path: string): string {
  const [target, errno] = os.readlink(path);
  if (errno) fail('readlink', path, errno);
  return target;
}

export function rmSync(path: string, o: {recursive?: boolean; force?: boolean} = {}): void {
  const [st, errno] = os.lstat(path);
  if (errno) return o.force ? undefined : fail('rm', path, errno);
  if (o.recursive && (st.mode & os.S_IFMT) === os.S_IFDIR) for (const n of readdirSync(path)) rmSync(`${path}/${n}`, o);
  check('rm', path, os.remove(path));
}

export function copyFileSync(from: string, to: string): void {
  writeFileSync(to, readBytes(from), {mode: statSync(from).mode & 0o777});
}

/** chmod(2) is not in QuickJS' os module: busybox's chmod does it. */
export function chmodSync(path: string, mode: number): void {
  const argv = ['chmod', mode.toString(8), path];
  const status = os.exec(argv, {block: true, usePath: true});
  if (status !== 0) throw new Error(`${commandLine('chmod', argv.slice(1))} failed (exit ${status})`);
}

export const join = (...parts: string[]) => parts.filter(Boolean).join('/').replace(/\/+/g, '/');
export const dirname = (path: string) => path.replace(/\/+[^/]*\/*$/, '') || (path.startsWith('/') ? '/' : '.');

// --- process, environment, timers ---------------------------------------------------

export const env = (): Record<string, string> => std.getenviron();
/** The script's arguments after its own name (qjs puts the script first). */
export const args = (): string[] => ((g.scriptArgs as string[]) ?? []).slice(1);
export const exit = (code: number): never => std.exit(code);
export const stdout = (text: string) => (std.out.puts(text), std.out.flush());
export const stderr = (text: string) => (std.err.puts(text), std.err.flush());
export const sleep = (ms: number) => new Promise<void>((resolve) => os.setTimeout(resolve, ms));
/** Milliseconds, monotonic. */
export const now = (): number => (g.performance as {now(): number}).now();

// --- processes ----------------------------------------------------------------------

/** Children we wait for: SIGCHLD wakes the check, a slow poll catches what a signal missed. */
const children = new Map<number, (status: number) => void>();
let pollTimer: unknown;
function reap(): void {
  for (const [pid, done] of children) {
    const [ret, status] = os.waitpid(pid, os.WNOHANG);
    if (ret === pid || ret < 0) {
      children.delete(pid);
      done(ret < 0 ? 255 << 8 : status);
    }
  }
  if (pollTimer !== undefined) os.clearTimeout(pollTimer);
  pollTimer = children.size ? os.setTimeout(reap, 100) : undefined;
}
let sigchldSet = false;
function waitFor(pid: number): Promise<number> {
  if (!sigchldSet) {
    os.signal(os.SIGCHLD, reap);
    sigchldSet = true;
  }
  return new Promise((resolve) => {
    children.set(pid, resolve);
    reap();
  });
}

const exitCodeOf = (status: number) => ((status & 0x7f) === 0 ? (status >> 8) & 0xff : null);
const signalOf = (status: number) => ((status & 0x7f) === 0 ? null : SIGNAL_NAMES[status & 0x7f] ?? `signal ${status & 0x7f}`);
const SIGNAL_NAMES: Record<number, string> = {1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM'};

/** The program's path along PATH (a relative one from cwd), or undefined: QuickJS' exec says only "127" for a missing one. */
function which(cmd: string, path: string, cwd?: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd.startsWith('/') || !cwd ? cmd : `${cwd}/${cmd}`) ? cmd : undefined;
  for (const dir of path.split(':')) if (dir && existsSync(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  return undefined;
}

const toolMissingHere = (cmd: string, args: readonly string[]) =>
  toolMissing(cmd, args, {hint: `The deploy environment has no ${cmd}; a payload brings its own tools or installs them into the new system.`});

interface Spawn {
  cwd?: string;
  env?: Record<string, string>;
  /** Leads a process group of its own (started through setsid): killGroup reaches what it starts. */
  group?: boolean;
  stdin: number;
  stdout: number;
  stderr: number;
  /** Run as this user and group: through chroot --userspec (QuickJS' own uid/gid drops the user first, then cannot change the group). */
  uid?: number;
  gid?: number;
}

function spawn(cmd: string, args: readonly string[], o: Spawn): number {
  const environment = o.env ?? env();
  const path = environment.PATH ?? env().PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';
  const program = which(cmd, path, o.cwd);
  if (!program) throw toolMissingHere(cmd, args);
  // Debian's busybox runs its own applet for a bare name it knows: its setsid would start
  // busybox's chroot, sh or tar, not the real ones. Programs go by their full path.
  const tool = (name: string) => which(name, path) ?? name;
  // A child of qjs is not a group leader, so setsid(1) makes it one without forking: its pid is the group's.
  const as = o.uid !== undefined ? [tool('chroot'), `--userspec=${o.uid}:${o.gid ?? o.uid}`, '--groups=', '--skip-chdir', '/'] : [];
  const argv = [...(o.group ? [tool('setsid')] : []), ...as, program, ...args];
  const pid = os.exec(argv, {
    block: false,
    usePath: true,
    env: environment,
    stdin: o.stdin,
    stdout: o.stdout,
    stderr: o.stderr,
    ...(o.cwd ? {cwd: o.cwd} : {}),
  });
  if (pid < 0) throw new AnemosError('command', 'command-failed', `${cmd} could not start.`, {details: [`command: ${commandLine(cmd, args)}`]});
  return pid;
}

export function killGroup(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
  os.kill(-pid, signal === 'SIGTERM' ? os.SIGTERM : SIGKILL);
}

let scratchSeq = 0;
const scratch = (what: string) => `/tmp/.anemos-${os.getpid()}-${++scratchSeq}.${what}`;

/** Lines from a pipe as they come; resolves at its end of file. */
function readLines(fd: number, onLine: (line: string) => void): {done: Promise<void>; stop(): void} {
  let pending = new Uint8Array(0);
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const buf = new ArrayBuffer(65536);
  const flushLines = (last: boolean) => {
    let start = 0;
    for (let i = 0; i < pending.length; i++) {
      if (pending[i] !== 10) continue;
      onLine(utf8Decode(pending, start, i).replace(/\r$/, ''));
      start = i + 1;
    }
    if (last && start < pending.length) {
      onLine(utf8Decode(pending, start).replace(/\r$/, ''));
      start = pending.length;
    }
    pending = pending.slice(start);
  };
  let open = true;
  const stop = () => {
    if (!open) return;
    open = false;
    os.setReadHandler(fd, null);
    os.close(fd);
    flushLines(true);
    finish();
  };
  os.setReadHandler(fd, () => {
    const n = os.read(fd, buf, 0, buf.byteLength);
    if (n <= 0) return stop();
    const next = new Uint8Array(pending.length + n);
    next.set(pending);
    next.set(new Uint8Array(buf, 0, n), pending.length);
    pending = next;
    flushLines(false);
  });
  return {done, stop};
}

export const runner: Runner = {
  async run(cmd, args, o: RunOptions = {}): Promise<RunResult> {
    const environment = o.extendEnv === false ? {...(o.env ?? {})} : {...env(), ...(o.env ?? {})};
    const files = {out: scratch('out'), err: scratch('err'), in: scratch('in')};
    if (o.input !== undefined) writeFileSync(files.in, o.input, {mode: 0o600});
    const stdin = o.input !== undefined ? os.open(files.in, os.O_RDONLY) : o.inherit ? 0 : os.open('/dev/null', os.O_RDONLY);
    const out = o.inherit ? 1 : os.open(files.out, CREATE(), 0o600);
    const err = o.inherit ? 2 : os.open(files.err, CREATE(), 0o600);
    let pid: number;
    try {
      pid = spawn(cmd, args, {cwd: o.cwd, env: environment, group: o.timeoutMs !== undefined, stdin, stdout: out, stderr: err, uid: o.uid, gid: o.gid});
    } finally {
      for (const fd of [stdin, out, err]) if (fd > 2) os.close(fd);
    }
    let timedOut = false;
    const timer = o.timeoutMs !== undefined ? os.setTimeout(() => ((timedOut = true), killGroup(pid, 'SIGKILL')), o.timeoutMs) : undefined;
    const status = await waitFor(pid);
    if (timer !== undefined) os.clearTimeout(timer);
    const text = (p: string) => (o.inherit ? '' : (std.loadFile(p) ?? ''));
    const result: RunResult = {stdout: text(files.out), stderr: text(files.err), exitCode: exitCodeOf(status) ?? -1};
    for (const p of Object.values(files)) rmSync(p, {force: true});
    if (timedOut) throw commandFailed(cmd, args, -1, `timed out after ${o.timeoutMs} ms (the command and everything it started were killed)\n${result.stderr}`);
    const signal = signalOf(status);
    if (signal && !o.allowFail) throw commandFailed(cmd, args, -1, `killed by ${signal}\n${result.stderr}`);
    if (result.exitCode !== 0 && !o.allowFail) throw commandFailed(cmd, args, result.exitCode, result.stderr);
    return result;
  },

  async stream(cmd, args, o: StreamOptions): Promise<StreamResult> {
    const p = os.pipe();
    if (!p) throw new AnemosError('command', 'command-failed', `${cmd} could not start: no pipe.`, {details: [`command: ${commandLine(cmd, args)}`]});
    const [r, w] = p;
    const devnull = os.open('/dev/null', os.O_RDONLY);
    let pid: number;
    try {
      pid = spawn(cmd, args, {cwd: o.cwd, env: o.env, group: true, stdin: devnull, stdout: w, stderr: w});
    } catch (err) {
      os.close(r);
      throw err;
    } finally {
      os.close(w);
      os.close(devnull);
    }
    const lines = readLines(r, o.onLine);
    let timedOut = false;
    let killTimer: unknown;
    const timer = os.setTimeout(() => {
      timedOut = true;
      killGroup(pid, 'SIGTERM');
      killTimer = os.setTimeout(() => killGroup(pid, 'SIGKILL'), 10_000);
    }, Math.max(1, o.timeoutSeconds) * 1000);
    const status = await waitFor(pid);
    os.clearTimeout(timer);
    if (killTimer !== undefined) os.clearTimeout(killTimer);
    // What it printed last; a daemon it left behind may hold the pipe open for ever.
    const grace = os.setTimeout(() => lines.stop(), 500);
    await lines.done;
    os.clearTimeout(grace);
    return {exitCode: exitCodeOf(status), signal: signalOf(status) as StreamResult['signal'], timedOut};
  },

  detach(cmd, args, o = {}) {
    const devnull = os.open('/dev/null', os.O_RDWR);
    const out = o.stdio ?? devnull;
    try {
      const pid = spawn(cmd, args, {group: true, stdin: devnull, stdout: out, stderr: out});
      // Reaped when it ends (no zombie), never awaited.
      void waitFor(pid);
    } finally {
      os.close(devnull);
    }
  },
};
