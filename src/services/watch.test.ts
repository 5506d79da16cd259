// The watcher's decisions, with a scripted machine: what answers each time it looks,
// what events each connection streams. Its verdict is the exit code a CI job acts on.

import {describe, expect, it} from 'vitest';
import type {LogEvent} from '../core/boot-contract.js';
import {AnemosError, EXIT} from '../shared/errors.js';
import {eventLine, watchDeploy, type Observation, type WatchIO, type WatchOptions} from './watch.js';

const OLD = {bootId: 'old', deployEnv: false, hostname: 'web1'};
const ENV = {bootId: 'env', deployEnv: true, hostname: 'web1'};
const NEW = {bootId: 'new', deployEnv: false, hostname: 'web1'};
const DOWN = undefined;

let n = 0;
const ev = (msg: string, extra: Partial<LogEvent> = {}): LogEvent => ({seq: ++n, t: '2026-11-23T10:00:00.000Z', level: 'info', msg, ...extra});

/** A machine that answers observe() from a script and streams one event list per follow(). */
function machine(answers: (Observation | AnemosError | undefined)[], streams: (LogEvent[] | 'hang')[], check = {code: 0, output: ''}) {
  let clock = 0;
  const timers: {at: number; f: () => void}[] = [];
  const calls = {follow: [] as number[], collect: 0, check: [] as string[], ack: 0};
  const io: WatchIO = {
    observe: async () => (answers.length > 1 ? answers.shift() : answers[0]),
    async follow(after, onEvent, signal) {
      calls.follow.push(after);
      // Lines already on the way still arrive after stop(): the agent's "rebooting in N s" does.
      const stream = streams.shift() ?? [];
      if (stream === 'hang') {
        // A step that outlasts --timeout: an hour passes on a connection that stays open.
        clock += 3_600_001;
        for (const t of timers.filter((t) => t.at <= clock)) t.f();
        return new Promise<void>((res) => (signal.aborted ? res() : signal.addEventListener('abort', () => res())));
      }
      for (const e of stream) onEvent(e);
      if (stream.some((e) => e.outcome)) expect(signal.aborted).toBe(true);
    },
    ack: async () => void calls.ack++,
    collect: async () => (calls.collect++, ['imgbuild/steps']),
    check: async (c) => (calls.check.push(c), check),
    sleep: async (ms) => void (clock += ms),
    after: (ms, f) => {
      const t = {at: clock + ms, f};
      timers.push(t);
      return () => void timers.splice(timers.indexOf(t), 1);
    },
    now: () => clock,
  };
  return {io, calls};
}

const opts = (o: Partial<WatchOptions> = {}): WatchOptions => ({mode: 'deploy', bootIdBefore: 'old', hostname: 'web1.example.org', deadline: 3_600_000, sshHint: 'ssh root@web1', logsDir: '/logs', onEvent: () => {}, say: () => {}, ...o});

async function failure(p: Promise<unknown>): Promise<AnemosError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof AnemosError)) throw new Error(`expected an AnemosError, got ${String(err)}`);
  return err;
}

describe('watchDeploy', () => {
  it('deployed: the old system, a gap, the deploy environment with its events, then the new system passes --check', async () => {
    const seen: number[] = [];
    const {io, calls} = machine([OLD, DOWN, ENV, ENV, DOWN, NEW], [[ev('agent started'), ev('payload run: start', {step: 'payload run', status: 'start'}), ev('DEPLOY SUCCEEDED', {outcome: 'succeeded'}), ev('rebooting in 2 s')]]);
    const v = await watchDeploy(io, opts({check: 'test -e /etc/ok', onEvent: (e) => seen.push(e.seq)}));
    expect(v.outcome).toBe('deployed');
    expect(v.checks).toEqual(['hostname web1', 'SSH host key as known_hosts expects', '--check test -e /etc/ok']);
    expect(calls.check).toEqual(['test -e /etc/ok']);
    expect(seen).toHaveLength(4);
    // The agent waits for this before it reboots: the outcome cannot be lost to the reboot.
    expect(calls.ack).toBe(1);
  });

  it('a dropped connection is followed again from the last event, and nothing is shown twice', async () => {
    const a = ev('one');
    const b = ev('two');
    const c = ev('DEPLOY SUCCEEDED', {outcome: 'succeeded'});
    const seen: number[] = [];
    // The second connection replays b (tail from an older position): it must not be shown again.
    const {io, calls} = machine([ENV, DOWN, ENV, DOWN, NEW], [[a, b], [b, c]]);
    const v = await watchDeploy(io, opts({onEvent: (e) => seen.push(e.seq)}));
    expect(v.outcome).toBe('deployed');
    expect(calls.follow).toEqual([0, b.seq]);
    expect(seen).toEqual([a.seq, b.seq, c.seq]);
  });

  it('--timeout holds while a step runs: a stream that never states an outcome is cut at the deadline (exit 12), nothing acknowledged', async () => {
    const {io, calls} = machine([ENV], [[ev('agent started'), ev('payload run: start', {step: 'payload run', status: 'start'})], 'hang']);
    const err = await failure(watchDeploy(io, opts({attach: true})));
    expect(err.exitCode).toBe(EXIT.timeout);
    expect(err.message).toMatch(/No verdict within --timeout: the deploy environment gave no outcome \(last event \d+\)/);
    expect(calls.ack).toBe(0);
  });

  it('a failure before writing: waits for the old system and says so with exit 10', async () => {
    const {io} = machine([OLD, ENV, ENV, {...OLD, bootId: 'old-again'}], [[ev('payload run: FAILED', {level: 'error', step: 'payload run', status: 'fail'}), ev('DEPLOY FAILED: exit 4', {level: 'error', outcome: 'failed', action: 'reboot', written: []}), ev('rebooting in 10 s')]]);
    const err = await failure(watchDeploy(io, opts()));
    expect(err.exitCode).toBe(EXIT.rolledBack);
    expect(err.exitCode).toBe(10);
    expect(err.message).toMatch(/before writing to any disk \(step "payload run"\); the old system is back/);
  });

  it('a failure after writing: the step scripts are collected and the machine stays in the deploy environment (exit 11)', async () => {
    const {io, calls} = machine([ENV], [[ev('DEPLOY FAILED: grub-install', {level: 'error', outcome: 'failed', action: 'stay', written: ['vda']})]]);
    const err = await failure(watchDeploy(io, opts()));
    expect(err.exitCode).toBe(11);
    expect(err.message).toMatch(/after writing to vda/);
    expect(err.hint).toMatch(/ssh root@web1.*imgbuild\/steps/);
    expect(calls.collect).toBe(1);
  });

  it('the deploy environment never answers: exit 12 once --timeout has passed', async () => {
    const {io} = machine([OLD], []);
    const err = await failure(watchDeploy(io, opts({deadline: 60_000})));
    expect(err.exitCode).toBe(12);
    expect(err.message).toMatch(/never answered/);
  });

  it('the new system never answers: exit 12', async () => {
    const {io} = machine([ENV, DOWN], [[ev('DEPLOY SUCCEEDED', {outcome: 'succeeded'})]]);
    const err = await failure(watchDeploy(io, opts({deadline: 60_000})));
    expect(err.exitCode).toBe(12);
    expect(err.message).toMatch(/new system never answered/);
  });

  it('the new system answers under another hostname, or --check fails: exit 13', async () => {
    const other = machine([ENV, {...NEW, hostname: 'debian'}], [[ev('ok', {outcome: 'succeeded'})]]);
    expect((await failure(watchDeploy(other.io, opts()))).exitCode).toBe(13);
    const failing = machine([ENV, NEW], [[ev('ok', {outcome: 'succeeded'})]], {code: 1, output: 'nginx: inactive\n'});
    const err = await failure(watchDeploy(failing.io, opts({check: 'systemctl is-active nginx'})));
    expect(err.exitCode).toBe(13);
    expect(err.details).toEqual(['nginx: inactive']);
  });

  it('the machine comes back as a normal system without the deploy environment ever answering: exit 10, said plainly', async () => {
    const {io} = machine([OLD, DOWN, {...OLD, bootId: 'rebooted'}], []);
    const err = await failure(watchDeploy(io, opts()));
    expect(err.code).toBe('deploy-env-unseen');
    expect(err.exitCode).toBe(10);
  });

  it('--attach: a deploy under way is followed from its first event; a normal system is "nothing to attach to"', async () => {
    const seen: number[] = [];
    const under = machine([ENV, DOWN, NEW], [[ev('agent started'), ev('DEPLOY SUCCEEDED', {outcome: 'succeeded'})]]);
    const v = await watchDeploy(under.io, opts({attach: true, bootIdBefore: undefined, hostname: undefined, onEvent: (e) => seen.push(e.seq)}));
    expect(v.outcome).toBe('deployed');
    expect(seen).toHaveLength(2);
    expect(under.calls.follow).toEqual([0]);
    const idle = machine([OLD], []);
    expect((await failure(watchDeploy(idle.io, opts({attach: true, bootIdBefore: undefined})))).code).toBe('attach-no-deploy');
  });

  it('test mode: the verdict is the test environment being up', async () => {
    const {io} = machine([ENV], [[ev('TEST MODE READY', {outcome: 'test-ready'})]]);
    expect((await watchDeploy(io, opts({mode: 'test'}))).outcome).toBe('test-ready');
  });
});

describe('eventLine', () => {
  it('shows payload output as text: an OSC 52 clipboard write, a title change and a screen clear take no effect', () => {
    const e = (msg: string): LogEvent => ({seq: 3, t: '2026-12-06T12:04:05.000Z', level: 'warn', msg});
    expect(eventLine(e('deploy: \x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07done'))).toBe('12:04:05 WARN: deploy: \\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\\x07done');
    expect(eventLine(e('\x1b]0;owned\x07\x1b[2J\x1b[3Jafter'))).toBe('12:04:05 WARN: \\x1b]0;owned\\x07after');
    expect(eventLine(e('x'.repeat(10_000)))).toMatch(/^12:04:05 WARN: x+… \(\d+ more characters\)$/);
  });
});
