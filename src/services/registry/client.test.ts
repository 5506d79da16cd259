import {createServer} from 'node:http';
import type {AddressInfo} from 'node:net';
import {afterEach, describe, expect, it} from 'vitest';
import {watchMachine} from './client.js';

describe('machines watch', () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it('shows the outcome event that came in between reading the events and reading the verdict, before it returns', async () => {
    // The registry as the watcher sees it when the outcome lands between its two requests:
    // the events page is read without it, then the deployment already has its outcome.
    const events = [{seq: 0, msg: 'payload run: start'}, {seq: 1, msg: 'DEPLOY SUCCEEDED in 90 s', outcome: 'succeeded'}];
    let eventReads = 0;
    const server = createServer((q, s) => {
      const u = new URL(q.url!, 'http://x');
      const send = (body: unknown) => (s.setHeader('content-type', 'application/json'), s.end(JSON.stringify(body)));
      if (u.pathname === '/api/v1/machines/m1') return send({id: 'm1', hostname: 'web1'});
      if (u.pathname === '/api/v1/deployments/dep-1/events') {
        const after = Number(u.searchParams.get('after'));
        const known = eventReads++ === 0 ? events.slice(0, 1) : events;
        return send({events: known.filter((e) => e.seq > after).map((e) => ({...e, level: 'info', receivedAt: '2026-12-07T00:00:00Z'})), next: null});
      }
      if (u.pathname === '/api/v1/deployments/dep-1') return send({id: 'dep-1', outcome: 'succeeded'});
      s.statusCode = 404;
      s.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => server.close();
    const seen: string[] = [];
    const end = await watchMachine({url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't', trust: {}}, 'm1', {deployment: 'dep-1', deadline: Date.now() + 10_000, onEvent: (e) => seen.push(e.msg), say: () => undefined, sleep: async () => undefined, now: Date.now});
    expect(seen).toEqual(['payload run: start', 'DEPLOY SUCCEEDED in 90 s']);
    expect(end).toMatchObject({outcome: 'succeeded', event: {msg: 'DEPLOY SUCCEEDED in 90 s'}});
  });
});
