// The registry under load, as issue #13 asks: 1000 machines each posting an inventory and
// 200 events (an agent's inventory at boot, then its events in batches of 20 as they
// happen: 11 requests a machine), 50 machines at a time, against the embedded database of
// the real `anemos serve` (dist/anemos.cjs) on loopback. Prints throughput and latency.
// Run: npx vite-node bench/registry.ts [MACHINES] (after npm run build)
import {execFileSync, spawn} from 'node:child_process';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {loadInventoryFixture} from '../test/helpers/inventory.js';
import {REPO} from '../test/helpers/kernel.js';
import {freePort} from '../test/helpers/postgres.js';

const MACHINES = Number(process.argv[2] ?? 1000);
const AT_ONCE = 50;
const EVENTS = 200;
const BATCH = 20;
const CLI = join(REPO, 'dist', 'anemos.cjs');
const dir = mkdtempSync(join(tmpdir(), 'anemos-bench-registry-'));
process.on('exit', () => rmSync(dir, {recursive: true, force: true}));
const data = join(dir, 'registry');
const token = execFileSync(process.execPath, [CLI, 'serve', 'token', 'create', '--data', data, '--role', 'reporter']).toString().trim();
const port = await freePort();
const server = spawn(process.execPath, [CLI, 'serve', '--data', data, '--listen', `127.0.0.1:${port}`, '--quiet'], {stdio: ['ignore', 'pipe', 'inherit']});
await new Promise<void>((resolve) => server.stdout!.on('data', (d: Buffer) => d.toString().includes('anemos registry:') && resolve()));
const url = `http://127.0.0.1:${port}/api/v1/reports`;
const {inventory} = loadInventoryFixture('cloud-vm-virtio');

const latencies: number[] = [];
let bytes = 0;
async function post(body: unknown): Promise<void> {
  const text = JSON.stringify(body);
  bytes += text.length;
  const t0 = performance.now();
  const res = await fetch(url, {method: 'POST', headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'}, body: text});
  await res.arrayBuffer();
  latencies.push(performance.now() - t0);
  if (res.status !== 200) throw new Error(`report: ${res.status}`);
}

async function machine(i: number): Promise<void> {
  const hex = i.toString(16).padStart(12, '0');
  const m = {uuid: `00000000-0000-4000-8000-${hex}`, macs: [`52:54:00:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`]};
  const deployment = {id: `dep-bench-${hex}`, mode: 'deploy' as const, source: 'agent' as const};
  await post({machine: m, inventory: {...inventory, system: {...inventory.system, serial: `BENCH${hex}`}}, deployment});
  for (let b = 0; b < EVENTS / BATCH; b++) {
    const events = Array.from({length: BATCH}, (_, k) => {
      const seq = b * BATCH + k + 1;
      return {seq, t: new Date().toISOString(), level: 'info', msg: `step ${seq}: something the agent did, with a line of detail like a real event carries`, ...(seq === EVENTS ? {outcome: 'succeeded'} : {})};
    });
    await post({machine: m, deployment, events});
  }
}

const t0 = performance.now();
let next = 0;
await Promise.all(Array.from({length: AT_ONCE}, async () => {
  while (next < MACHINES) await machine(next++);
}));
const seconds = (performance.now() - t0) / 1000;
server.kill('SIGTERM');
latencies.sort((a, b) => a - b);
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1);
console.log(`registry load (embedded database, ${MACHINES} machines × (inventory + ${EVENTS} events in batches of ${BATCH}), ${AT_ONCE} at a time): ${latencies.length} requests in ${seconds.toFixed(1)} s = ${(latencies.length / seconds).toFixed(0)} requests/s, ${((MACHINES * EVENTS) / seconds).toFixed(0)} events/s, ${(bytes / 1048576 / seconds).toFixed(1)} MiB/s; latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms; database ${execFileSync('du', ['-sh', data]).toString().split('\t')[0]}`);
