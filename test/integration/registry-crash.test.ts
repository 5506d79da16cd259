// The registry killed (SIGKILL) while 50 agents report, on the embedded database: after a
// restart, every report it acknowledged is there whole, and no report is there in part.
// The real CLI bundle (dist/anemos.cjs serve), as an operator runs it.

import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {REPO} from '../helpers/kernel.js';
import {freePort} from '../helpers/postgres.js';

const CLI = join(REPO, 'dist', 'anemos.cjs');
const AGENTS = 50;
const EVENTS = 20;

async function startServe(data: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', '--data', data, '--listen', `127.0.0.1:${port}`, '--quiet'], {stdio: ['ignore', 'pipe', 'pipe']});
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`anemos serve did not start: ${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('anemos registry:')) (clearTimeout(t), resolve());
    });
    child.stderr!.on('data', (d: Buffer) => (out += d));
    child.once('exit', (code) => reject(new Error(`anemos serve exited ${code}: ${out}`)));
  });
  return child;
}

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`;
const mac = (i: number) => `52:54:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

describe('registry under SIGKILL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-crash-'));
  afterAll(() => rmSync(dir, {recursive: true, force: true}));

  it('loses nothing it acknowledged and keeps nothing half-written when killed while 50 agents report', async () => {
    const data = join(dir, 'registry');
    const token = execFileSync(process.execPath, [CLI, 'serve', 'token', 'create', '--data', data, '--role', 'admin']).toString().trim();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/api/v1`;
    const headers = {authorization: `Bearer ${token}`, 'content-type': 'application/json'};
    let server = await startServe(data, port);

    const acknowledged = new Map<string, number>(); // deployment id → agent
    const sent = new Map<string, number>();
    let killed = false;
    // Each agent posts deployments of 20 events one after another until the server is gone
    // (at most 40 each: the loop is bounded whatever happens).
    const agent = async (i: number) => {
      for (let n = 0; n < 40 && !killed; n++) {
        const id = `crash-${i}-${n}`;
        const events = Array.from({length: EVENTS}, (_, k) => ({seq: k + 1, msg: `step ${k + 1} of deployment ${id}`}));
        sent.set(id, i);
        try {
          const res = await fetch(`${url}/reports`, {method: 'POST', headers, body: JSON.stringify({machine: {uuid: uuid(i), macs: [mac(i)]}, deployment: {id, mode: 'deploy'}, events})});
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
    server.kill('SIGKILL');
    await Promise.all(agents);
    await new Promise((r) => (server.exitCode !== null || server.signalCode ? r(undefined) : server.once('exit', r)));
    expect(acknowledged.size).toBeGreaterThanOrEqual(150);
    expect(sent.size).toBeGreaterThan(acknowledged.size); // some were in flight

    server = await startServe(data, port);
    try {
      const stored = new Map<string, number>();
      for (let i = 0; i < AGENTS; i++) {
        const res = await fetch(`${url}/machines/${uuid(i)}/deployments`, {headers});
        if (res.status === 404) continue; // its first report never committed
        for (const d of ((await res.json()) as {deployments: {id: string; events: unknown[]}[]}).deployments) stored.set(d.id, d.events.length);
      }
      const lost = [...acknowledged.keys()].filter((id) => stored.get(id) !== EVENTS);
      expect(lost).toEqual([]);
      const partial = [...stored].filter(([, n]) => n !== EVENTS);
      expect(partial).toEqual([]);
      console.log(`registry SIGKILL: ${acknowledged.size} reports acknowledged, ${sent.size - acknowledged.size} in flight, ${stored.size} stored after the restart, none partial`);
    } finally {
      server.kill('SIGTERM');
    }
  }, 180_000);
});
