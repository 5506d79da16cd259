// The registry killed (SIGKILL) while 50 agents report, on the embedded database: after a
// restart, every report it acknowledged is there whole, and no report is there in part.
// The real CLI bundle (dist/anemos.cjs serve), as an operator runs it.

import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {freePort} from '../helpers/postgres.js';
import {makeToken, startServe} from '../helpers/registry.js';

const AGENTS = 50;
const EVENTS = 20;

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`;
const mac = (i: number) => `52:54:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

describe('registry under SIGKILL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-crash-'));
  afterAll(() => rmSync(dir, {recursive: true, force: true}));

  it('loses nothing it acknowledged and keeps nothing half-written when killed while 50 agents report', async () => {
    const data = join(dir, 'registry');
    const token = makeToken(data, 'operator');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/api/v1`;
    const headers = {authorization: `Bearer ${token}`, 'content-type': 'application/json'};
    let server = await startServe(['--data', data, '--quiet'], {port});

    const acknowledged = new Map<string, number>(); // deployment id → agent
    const sent = new Map<string, number>();
    let killed = false;
    // Each agent posts deployments of 20 events one after another until the server is gone
    // (at most 40 each: the loop is bounded whatever happens).
    const agent = async (i: number) => {
      for (let n = 0; n < 40 && !killed; n++) {
        const id = `crash-${i}-${n}`;
        const events = Array.from({length: EVENTS}, (_, k) => ({seq: k + 1, msg: `step ${k + 1} of deployment ${id}`}));
        try {
          // Recorded (as anemos deploy does), then its events with the deployment's own token (as the agent does).
          const recorded = await fetch(`${url}/deployments`, {method: 'POST', headers, body: JSON.stringify({machine: {uuid: uuid(i), macs: [mac(i)]}, id, mode: 'deploy'})});
          if (recorded.status !== 200) throw new Error(`deployment ${id}: ${recorded.status} ${await recorded.text()}`);
          const {token: own} = (await recorded.json()) as {token: {token: string}};
          sent.set(id, i);
          const res = await fetch(`${url}/reports`, {method: 'POST', headers: {...headers, authorization: `Bearer ${own.token}`}, body: JSON.stringify({machine: {uuid: uuid(i), macs: [mac(i)]}, deployment: {id}, events})});
          if (res.status === 200) acknowledged.set(id, i);
          else throw new Error(`report ${id}: ${res.status} ${await res.text()}`);
        } catch (err) {
          if (!killed) throw err;
        }
      }
    };
    const agents = Array.from({length: AGENTS}, (_, i) => agent(i));
    // Kill it once it has acknowledged a good many, with the rest in flight.
    const t0 = Date.now();
    while (acknowledged.size < 150 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 20));
    killed = true;
    await server.stop('SIGKILL');
    await Promise.all(agents);
    expect(acknowledged.size).toBeGreaterThanOrEqual(150);
    expect(sent.size).toBeGreaterThan(acknowledged.size); // some were in flight

    server = await startServe(['--data', data, '--quiet'], {port});
    try {
      const stored = new Map<string, number>();
      for (let cursor: string | null | undefined; cursor !== null; ) {
        const res = await fetch(`${url}/deployments?limit=500${cursor ? `&cursor=${cursor}` : ''}`, {headers});
        const page = (await res.json()) as {deployments: {id: string; events: number}[]; next: string | null};
        for (const d of page.deployments) stored.set(d.id, d.events);
        cursor = page.next;
      }
      const lost = [...acknowledged.keys()].filter((id) => stored.get(id) !== EVENTS);
      expect(lost).toEqual([]);
      // A deployment recorded whose events never arrived has none; one with some has all.
      const partial = [...stored].filter(([, n]) => n !== EVENTS && n !== 0);
      expect(partial).toEqual([]);
      console.log(`registry SIGKILL: ${acknowledged.size} reports acknowledged, ${sent.size - acknowledged.size} in flight, ${stored.size} stored after the restart, none partial`);
    } finally {
      await server.stop();
    }
  }, 180_000);
});
