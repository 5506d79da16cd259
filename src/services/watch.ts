// After the host reboots into the deploy environment, the workstation follows it: it
// reconnects (same address, same host key), tails events.jsonl from the last sequence
// number it saw, and once the agent states its outcome waits for whichever system
// must come next, checks it, and returns a verdict with a stable exit code (docs/guide.md,
// "When something fails"). Every connection is a fresh one: the machine reboots under them.
// The decisions are here; the SSH side is a small interface (WatchIO), faked in tests.

import type {LogEvent} from '../core/boot-contract.js';
import {AnemosError} from '../shared/errors.js';
import {terminalLine} from '../shared/terminal-text.js';

export interface Observation {
  bootId: string;
  /** /proc/cmdline carries anemos.mode=: the deploy environment, not an installed system. */
  deployEnv: boolean;
  hostname: string;
}

export interface WatchIO {
  /** One connection attempt: what answers now, or the connection error (undefined: nothing answered). */
  observe(): Promise<Observation | AnemosError | undefined>;
  /** Stream events after seq until the connection ends or stop() is called. */
  follow(afterSeq: number, onEvent: (e: LogEvent) => void, signal: AbortSignal): Promise<void>;
  /** Tell the deploy environment the outcome was read: it reboots without waiting longer. */
  ack(): Promise<void>;
  /** Copy what the deploy environment kept (IMGBUILD step scripts) into the logs directory; best effort. */
  collect(): Promise<string[]>;
  /** Run the operator's --check on the new system: its exit code and output. */
  check(command: string): Promise<{code: number; output: string}>;
  sleep(ms: number): Promise<void>;
  /** Call f after ms (on the same clock as now()); the returned function cancels it. */
  after(ms: number, f: () => void): () => void;
  now(): number;
}

export interface WatchOptions {
  mode: 'deploy' | 'test';
  /** boot_id of the system that scheduled the boot (undefined when attaching later). */
  bootIdBefore?: string;
  /** --attach: the driver was stopped; whatever answers now is where the deploy is. */
  attach?: boolean;
  /** The hostname the new system should have (the first label is compared); default: the deploy environment's. */
  hostname?: string;
  check?: string;
  deadline: number;
  /** How to reach the machine, for the messages (ssh root@ADDRESS -p N). */
  sshHint: string;
  logsDir: string;
  onEvent: (e: LogEvent) => void;
  say: (line: string) => void;
}

export interface Verdict {
  outcome: 'deployed' | 'test-ready';
  seconds: number;
  events: number;
  lastEvent?: LogEvent;
  checks: string[];
}

const POLL_MS = 3000;

/**
 * One event as the driver shows it and writes it to deploy.log: "12:04:05 ERROR: step: FAILED ...".
 * Its text came from the machine (payload output): no escape sequence of it reaches the terminal.
 */
export const eventLine = (e: LogEvent) => terminalLine(`${String(e.t).slice(11, 19)} ${e.level === 'info' ? '' : `${String(e.level).toUpperCase()}: `}${e.msg}`);

export async function watchDeploy(io: WatchIO, o: WatchOptions): Promise<Verdict> {
  const t0 = io.now();
  let seq = 0;
  /** The agent's outcome event; lines after it (its "rebooting in N s") do not replace it. */
  let outcome: LogEvent | undefined;
  const recent: LogEvent[] = [];
  const seen = (e: LogEvent) => {
    if (e.seq <= seq) return; // replayed after a reconnect
    seq = e.seq;
    if (e.outcome) outcome = e;
    recent.push(e);
    if (recent.length > 12) recent.shift();
    o.onEvent(e);
  };
  const failingStep = () => [...recent].reverse().find((e) => e.status === 'fail')?.step;
  const tail = () => recent.filter((e) => !e.outcome).slice(-8).map(eventLine);
  const timeout = (what: string) =>
    new AnemosError('timeout', 'deploy-timeout', `No verdict within --timeout: ${what}.`, {
      hint: `Look at the machine's console, or try: ${o.sshHint}. The events received so far are in ${o.logsDir}.`,
      details: tail(),
    });

  /** Poll until something other than `unless` answers; host-key errors are final. */
  async function next(unless: (ob: Observation) => boolean, what: string): Promise<Observation> {
    let lastError: AnemosError | undefined;
    for (;;) {
      if (io.now() > o.deadline) throw timeout(`${what}${lastError ? ` (last attempt: ${lastError.message})` : ''}`);
      const ob = await io.observe();
      if (ob instanceof AnemosError) {
        if (ob.code === 'ssh-host-key' || ob.code === 'ssh-permission') throw new AnemosError('stranded', ob.code, `${what}, but: ${ob.message}`, {hint: ob.hint, details: ob.details});
        lastError = ob;
      } else if (ob && !unless(ob)) return ob;
      await io.sleep(POLL_MS);
    }
  }

  // 1. The deploy environment: the old system is still up until the scheduled boot happens.
  let env = await next((ob) => ob.bootId === o.bootIdBefore && !ob.deployEnv, 'the deploy environment never answered');
  if (!env.deployEnv && o.attach) {
    throw new AnemosError('precondition', 'attach-no-deploy', `There is no deploy to attach to: the machine answers as a normal system (hostname ${env.hostname}, not in the deploy environment).`, {
      hint: `A deploy that ended while nobody followed it left the system that answers now: check it (${o.sshHint}), or deploy again.`,
    });
  }
  if (!env.deployEnv) {
    // A normal system answered with a new boot id: the deploy environment came and went
    // without letting us in (its network check failed, or a kernel panic rebooted it).
    throw new AnemosError('rolledBack', 'deploy-env-unseen', `The machine rebooted into a normal system (hostname ${env.hostname}) without the deploy environment answering over SSH; nothing was written by it that we know of.`, {
      hint: `The deploy environment's own log was in its RAM; look at the console (serial log) to see why it stopped. ${o.sshHint} reaches the system now.`,
    });
  }
  o.say(`The deploy environment answers (boot ${env.bootId.slice(0, 8)}); following its events.`);

  // 2. Its events, until it states the outcome; a dropped connection is picked up again.
  for (;;) {
    const stop = new AbortController();
    // --timeout holds while a step runs too: the stream is cut at the deadline.
    let late = false;
    const cancel = io.after(Math.max(0, o.deadline - io.now()), () => {
      late = true;
      stop.abort();
    });
    await io.follow(seq, (e) => {
      seen(e);
      if (e.outcome) stop.abort();
    }, stop.signal);
    cancel();
    if (outcome) break;
    if (late && io.now() >= o.deadline) throw timeout(`the deploy environment gave no outcome (last event ${seq})`);
    const ob = await next(() => false, 'the deploy environment stopped answering');
    if (ob.bootId === env.bootId && ob.deployEnv) continue; // the same run: go on from seq
    if (!ob.deployEnv) {
      throw new AnemosError('rolledBack', 'deploy-env-stopped', `The deploy environment stopped without an outcome (after event ${seq}${failingStep() ? `, step "${failingStep()}"` : ''}) and a normal system (hostname ${ob.hostname}) answers now.`, {
        hint: `A kernel panic reboots into the old system (panic=10); the console shows why. Events so far: ${o.logsDir}.`,
        details: tail(),
      });
    }
    env = ob; // a second deploy environment boot: follow it from its start
    seq = 0;
  }
  await io.ack();

  if (outcome.outcome === 'test-ready') {
    return {outcome: 'test-ready', seconds: (io.now() - t0) / 1000, events: seq, lastEvent: outcome, checks: []};
  }
  if (outcome.outcome === 'failed' && outcome.action === 'stay') {
    const kept = await io.collect();
    throw new AnemosError('stranded', 'deploy-failed-after-write', `The deploy failed after writing to ${outcome.written?.join(', ') || 'a disk'}${failingStep() ? ` (step "${failingStep()}")` : ''}; the machine stays in the deploy environment.`, {
      hint: `Repair or retry there: ${o.sshHint} (the step scripts and the log are in /run/anemos). Logs copied to ${o.logsDir}${kept.length ? `, with ${kept.join(', ')}` : ''}.`,
      details: tail(),
    });
  }

  // 3. The next system: the old one after a failure before writing, the new one after success.
  const back = await next((ob) => ob.bootId === env.bootId || ob.deployEnv, outcome.outcome === 'failed' ? 'the old system did not come back' : 'the new system never answered');
  if (outcome.outcome === 'failed') {
    throw new AnemosError('rolledBack', 'deploy-failed-rolled-back', `The deploy failed before writing to any disk${failingStep() ? ` (step "${failingStep()}")` : ''}; the old system is back and answers (hostname ${back.hostname}).`, {
      hint: `Fix the cause and deploy again. Logs: ${o.logsDir}.`,
      details: tail(),
    });
  }
  const checks: string[] = [];
  const want = (o.hostname ?? env.hostname).split('.')[0];
  if (back.hostname.split('.')[0] !== want) {
    throw new AnemosError('checkFailed', 'check-hostname', `The new system answers, but its hostname is "${back.hostname}", not "${want}".`, {hint: `Check what the payload configures; ${o.sshHint} reaches it.`});
  }
  checks.push(`hostname ${back.hostname}`, 'SSH host key as known_hosts expects');
  if (o.check) {
    const r = await io.check(o.check);
    if (r.code !== 0) {
      throw new AnemosError('checkFailed', 'check-command', `The new system answers, but --check "${o.check}" exited ${r.code}.`, {
        hint: `${o.sshHint} reaches it.`,
        details: r.output.trim().split('\n').filter(Boolean).slice(-5),
      });
    }
    checks.push(`--check ${o.check}`);
  }
  return {outcome: 'deployed', seconds: (io.now() - t0) / 1000, events: seq, lastEvent: outcome, checks};
}
