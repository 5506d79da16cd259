// The deploy environment's reporter (src/agent/report.ts) under the real qjs with the real
// wget it runs there, against a real registry over TLS: the registry's key pinned, the
// deployment's own token in a 0600 wgetrc, payload output that PostgreSQL cannot store as
// it is, an event the registry refuses, a registry that is not the pinned one, and one that
// answers too slowly.

import type {AddressInfo} from 'node:net';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs';
import {createServer as createHttpServer} from 'node:http';
import {createServer} from 'node:https';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openEmbedded} from '../../src/adapters/db.js';
import {autoServerTls} from '../../src/adapters/tls.js';
import type {LogEvent} from '../../src/core/boot-contract.js';
import {Registry} from '../../src/services/registry/registry.js';
import {callUnderQjsAsync} from '../helpers/qjs.js';
import {serveInProcess} from '../helpers/registry.js';

const UUID = '6a1d3c2e-5b4f-4e8a-9c7d-0123456789ab';
const MAC = '52:54:00:12:34:56';

describe("the agent's reporter under qjs, with wget, against the registry over TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-agent-report-'));
  let registry: Registry;
  let url: string;
  let pin: string;
  let close: () => Promise<void>;
  let n = 0;

  beforeAll(async () => {
    registry = await Registry.open(await openEmbedded(join(dir, 'registry')));
    const tls = autoServerTls(join(dir, 'registry'));
    pin = tls.pin;
    const served = await serveInProcess(registry, {tls: {key: tls.key, cert: tls.cert}});
    url = served.url;
    close = async () => {
      await served.close();
      rmSync(dir, {recursive: true, force: true});
    };
  }, 60_000);
  afterAll(async () => close?.());

  const deployment = async () => {
    const id = `dep-20261206T150000Z-qjs0000${++n}`;
    const operator = await registry.authenticate((await registry.createToken({role: 'operator'})).token);
    const d = await registry.createDeployment({machine: {uuid: UUID, macs: [MAC]}, id, mode: 'deploy'}, operator);
    const run = join(dir, `run-${n}`);
    mkdirSync(run);
    return {id, token: d.token.token, run};
  };
  const event = (seq: number, msg: string, extra: Partial<LogEvent> = {}): LogEvent => ({seq, t: `2026-12-06T15:00:${String(seq).padStart(2, '0')}.000Z`, level: 'info', msg, ...extra});
  const report = (target: object, run: string, events: LogEvent[], seconds: number) => callUnderQjsAsync<{delivered: boolean; log: string}>('report', target, run, {uuid: UUID, macs: [MAC]}, events, seconds);

  it('delivers every event once with the pinned key, output PostgreSQL cannot store as it is included; its token in a 0600 wgetrc', async () => {
    const d = await deployment();
    const events = [event(1, 'agent started'), event(2, 'deploy: a\u0000b'), event(3, 'deploy: lone \ud800 half'), event(4, 'x'.repeat(20_000)), event(5, 'DEPLOY SUCCEEDED', {outcome: 'succeeded'})];
    const r = await report({url, token: d.token, deployment: d.id, pin}, d.run, events, 20);
    expect(r.delivered, r.log).toBe(true);
    const stored = (await registry.events(d.id)).events;
    expect(stored.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(stored[1]!.msg).toBe('deploy: a\ufffdb');
    expect(stored[3]!.msg).toMatch(/^x{8192}… \(11808 more characters\)$/);
    expect((await registry.deployment(d.id)).outcome).toBe('succeeded');
    expect(statSync(join(d.run, 'registry.wgetrc')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(d.run, 'registry.wgetrc'), 'utf8')).toBe(`header = Authorization: Bearer ${d.token}\nheader = Content-Type: application/json\n`);
  }, 60_000);

  it('an event the registry refuses is dropped alone, with a warning; the others and the outcome still arrive', async () => {
    const d = await deployment();
    const events = [event(1, 'agent started'), event(2, 'a timestamp no one can read', {t: 'T'.repeat(100)}), event(3, 'after it'), event(4, 'DEPLOY FAILED: payload exited 3', {level: 'error', outcome: 'failed', action: 'reboot'})];
    const r = await report({url, token: d.token, deployment: d.id, pin}, d.run, events, 30);
    expect(r.delivered, r.log).toBe(true);
    expect(r.log).toMatch(/refused event 2 \(HTTP 400\): it is dropped there, kept here; reporting goes on/);
    expect((await registry.events(d.id)).events.map((e) => e.seq)).toEqual([1, 3, 4]);
    expect((await registry.deployment(d.id)).outcome).toBe('failed');
  }, 60_000);

  it('sends nothing to a registry whose key is not the pinned one, keeps its events, and says why', async () => {
    const other = autoServerTls(join(dir, 'impostor'));
    let requests = 0;
    const impostor = createServer({key: other.key, cert: other.cert}, (_q, res) => (requests++, res.end('{}')));
    await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
    try {
      const d = await deployment();
      const r = await report({url: `https://127.0.0.1:${(impostor.address() as AddressInfo).port}`, token: d.token, deployment: d.id, pin}, d.run, [event(1, 'agent started')], 3);
      expect(r.delivered).toBe(false);
      expect(r.log).toMatch(/unreachable \(its key is not the pinned one: something else answers at that address\)/);
      expect(requests).toBe(0);
    } finally {
      impostor.close();
    }
  }, 60_000);

  it('a registry that answers a byte at a time, never done, is one that is away: wget stopped, the events kept, nothing thrown', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const slow = createHttpServer((_q, res) => {
      res.socket?.write('HTTP/1.1 200 OK\r\n');
      const drip = setInterval(() => (res.socket?.destroyed ? clearInterval(drip) : res.socket?.write('X-Slow: 1\r\n')), 2000);
      res.socket?.once('close', () => clearInterval(drip));
    });
    slow.on('connection', (s) => (sockets.add(s), s.once('close', () => sockets.delete(s))));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      const d = await deployment();
      const t0 = Date.now();
      const r = await report({url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`, token: d.token, deployment: d.id}, d.run, [event(1, 'LIVE IMAGE READY', {outcome: 'succeeded'})], 3);
      expect(r.delivered).toBe(false);
      expect(r.log).toMatch(/unreachable \(no answer within 15 s: wget was stopped\): events are kept and sent when it answers; the deploy goes on/);
      expect(Date.now() - t0).toBeLessThan(40_000);
    } finally {
      for (const s of sockets) s.destroy();
      slow.close();
    }
  }, 60_000);
});
