// The agent's log: every line, timestamped, to each console from the command line,
// /dev/kmsg, /run/anemos/deploy.log, and as JSON lines to /run/anemos/events.jsonl so a
// tool (or the e2e test) can follow progress. A sink that fails is dropped, not fatal.
// /run is a tmpfs a payload can fill: a reserve file kept beside the log is given up the
// first time a line does not fit, so the failure and the outcome still reach the files a
// driver reads; past that, the consoles and the registry get every line.

import {appendFileSync, closeSync, mkdirSync, now, openSync, rmSync, writeFileSync, writeSync} from './runtime.js';

/** Bytes kept for the log's last lines while /run is full: hundreds of events. */
const RESERVE = 512 * 1024;
import type {LogEvent} from '../core/boot-contract.js';

export type {LogEvent};

export interface LogSinks {
  consoles: string[];
  kmsg: boolean;
  dir: string;
}

export class AgentLog {
  private fds: number[] = [];
  readonly steps: {step: string; seconds: number; ok: boolean}[] = [];

  private filesOk = true;
  private readonly reserve: string;

  constructor(private sinks: LogSinks, private now: () => Date = () => new Date()) {
    mkdirSync(sinks.dir, {recursive: true});
    this.reserve = `${sinks.dir}/.log-reserve`;
    try {
      writeFileSync(this.reserve, new Uint8Array(RESERVE));
    } catch {
      // no room even now: there is nothing to keep in reserve
    }
    const devices = sinks.consoles.length ? sinks.consoles : ['console'];
    for (const c of [...new Set(devices)]) {
      try {
        this.fds.push(openSync(`/dev/${c}`, 'w'));
      } catch {
        // a console named on the command line that this machine does not have
      }
    }
  }

  get logPath(): string {
    return `${this.sinks.dir}/deploy.log`;
  }

  private seq = 0;
  private listeners: ((e: LogEvent) => void)[] = [];

  /** Every event from now on, as it is logged (the registry's reporter queues them). */
  onEvent(f: (e: LogEvent) => void): void {
    this.listeners.push(f);
  }

  emit(e: Omit<LogEvent, 't' | 'seq'>): void {
    const t = this.now().toISOString();
    const seq = ++this.seq;
    const line = `[${t.slice(11, 19)}] anemos: ${e.level === 'info' ? '' : `${e.level.toUpperCase()}: `}${e.msg}`;
    for (const fd of this.fds) {
      try {
        writeSync(fd, line.replace(/\n/g, '\r\n') + '\r\n');
      } catch {
        // a console that went away (serial unplugged): keep the others
      }
    }
    if (this.sinks.kmsg) {
      try {
        const fd = openSync('/dev/kmsg', 'w');
        // Priority 7 (debug): kept in the kernel log without echoing to the consoles we already wrote.
        writeSync(fd, `<7>anemos: ${e.msg.slice(0, 900)}\n`);
        closeSync(fd);
      } catch {
        // kmsg is a courtesy copy
      }
    }
    const event = {seq, t, ...e};
    this.append(this.logPath, line + '\n');
    this.append(`${this.sinks.dir}/events.jsonl`, JSON.stringify(event) + '\n');
    for (const f of this.listeners) f(event);
  }

  /** A line to a file in /run: if it does not fit, the reserve is given up once and it is tried again. */
  private append(path: string, text: string): void {
    if (!this.filesOk) return;
    try {
      appendFileSync(path, text);
      return;
    } catch (err) {
      try {
        rmSync(this.reserve);
        appendFileSync(path, text);
        this.console(`anemos: WARN: ${this.sinks.dir} is full (${(err as Error).message}): the log's reserve was given up to keep writing ${path} and events.jsonl.`);
        return;
      } catch {
        this.filesOk = false;
        this.console(`anemos: WARN: ${this.sinks.dir} is full: ${path} and events.jsonl stop here; every line still goes to the console and the registry.`);
      }
    }
  }

  private console(line: string): void {
    for (const fd of this.fds) {
      try {
        writeSync(fd, `${line}\r\n`);
      } catch {
        // a console that went away
      }
    }
  }

  /** One line into the kernel's log only (ramoops keeps its tail across a reboot). */
  toKernelLog(line: string): boolean {
    if (!this.sinks.kmsg) return false;
    try {
      const fd = openSync('/dev/kmsg', 'w');
      writeSync(fd, `<5>${line}\n`);
      closeSync(fd);
      return true;
    } catch {
      return false;
    }
  }

  info(msg: string): void {
    this.emit({level: 'info', msg});
  }
  warn(msg: string): void {
    this.emit({level: 'warn', msg});
  }
  error(msg: string): void {
    this.emit({level: 'error', msg});
  }

  /** Run one named step, logging its start, end and duration. */
  async step<T>(step: string, f: () => Promise<T>): Promise<T> {
    const t0 = now();
    this.emit({level: 'info', step, status: 'start', msg: `${step}: start`});
    try {
      const r = await f();
      const seconds = Number(((now() - t0) / 1000).toFixed(2));
      this.steps.push({step, seconds, ok: true});
      this.emit({level: 'info', step, status: 'ok', seconds, msg: `${step}: ok (${seconds} s)`});
      return r;
    } catch (err) {
      const seconds = Number(((now() - t0) / 1000).toFixed(2));
      this.steps.push({step, seconds, ok: false});
      this.emit({level: 'error', step, status: 'fail', seconds, msg: `${step}: FAILED after ${seconds} s: ${(err as Error).message}`});
      throw err;
    }
  }
}
