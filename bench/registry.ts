// The registry under load: 1000 machines, each with its deployment recorded (as anemos
// deploy does) and then, with that deployment's own token, an inventory and 200 events in
// batches of 20 (as the agent sends them: 12 requests a machine), 50 machines at a time,
// against the real `anemos serve --tls auto` (dist/anemos.cjs) on loopback, on the embedded
// database and on a PostgreSQL server. Every request opens its own TLS connection, as the
// agent's wget does. Prints throughput, latency, and the server's RSS.
// Run: npx vite-node bench/registry.ts [MACHINES] [embedded|postgres|both] (after npm run build)
// A soak (the same load for minutes, RSS at start and end): BENCH_SOAK_SECONDS=600.
import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {Agent, request} from 'node:https';
import {availableParallelism, tmpdir} from 'node:os';
import {join} from 'node:path';
import {loadInventoryFixture} from '../test/helpers/inventory.js';
import {startPostgres} from '../test/helpers/postgres.js';
import {CLI, startServe} from '../test/helpers/registry.js';

const MACHINES = Number(process.argv[2] ?? 1000);
const WHICH = process.argv[3] ?? 'both';
const SOAK = Number(process.env.BENCH_SOAK_SECONDS ?? 0);
/** BENCH_KEEPALIVE=1: connections kept and reused (a client that can); default a new one per request, as wget does. */
const KEEPALIVE = process.env.BENCH_KEEPALIVE === '1';
const AT_ONCE = 50;
const EVENTS = 200;
const BATCH = 20;
const {inventory} = loadInventoryFixture('cloud-vm-virtio');

/** CPU seconds a process has used (user + system), from /proc. */
const cpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const rss = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m)![1]) / 1024;

async function run(kind: 'embedded' | 'postgres'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-bench-registry-'));
  const pg = kind === 'postgres' ? await startPostgres() : undefined;
  const data = join(dir, 'registry');
  // BENCH_PG_SOCKET=1: PostgreSQL through its Unix socket rather than TCP on loopback.
  const db = kind === 'embedded' ? ['--data', data] : ['--database', process.env.BENCH_PG_SOCKET === '1' ? pg!.socketUrl : pg!.url, '--data', data];
  const operator = execFileSync(process.execPath, [CLI, 'serve', 'token', 'create', ...db, '--role', 'operator']).toString().trim();
  // BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof": the server's own profile.
  const serve = await startServe([...db, '--tls', 'auto', '--quiet'], {nodeFlags: (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)});
  const ca = readFileSync(join(data, 'tls-cert.pem'));
  // A new connection for every request, as wget makes one.
  const agent = new Agent({keepAlive: KEEPALIVE, maxSockets: Infinity});
  const latencies: number[] = [];
  const byKind: Record<string, number[]> = {deployment: [], inventory: [], events: []};
  let bytes = 0;
  const post = (path: string, token: string, body: unknown, kind: string) =>
    new Promise<any>((resolve, reject) => {
      const text = JSON.stringify(body);
      bytes += text.length;
      const t0 = performance.now();
      const req = request(`${serve.url}${path}`, {method: 'POST', agent, ca, checkServerIdentity: () => undefined, headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text)}}, (res) => {
        let out = '';
        res.on('data', (d) => (out += d)).on('end', () => {
          latencies.push(performance.now() - t0);
          byKind[kind]!.push(performance.now() - t0);
          if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode} ${out}`));
          else resolve(JSON.parse(out));
        });
      });
      req.on('error', reject);
      req.end(text);
    });

  let serial = 0;
  async function machine(): Promise<void> {
    const i = serial++;
    const hex = i.toString(16).padStart(12, '0');
    const m = {uuid: `00000000-0000-4000-8000-${hex}`, macs: [`52:54:${hex.slice(4, 6)}:${hex.slice(6, 8)}:${hex.slice(8, 10)}:${hex.slice(10, 12)}`]};
    const id = `dep-bench-${hex}`;
    const recorded = await post('/api/v1/deployments', operator, {machine: m, id, mode: 'deploy', who: 'bench'}, 'deployment');
    const token = recorded.token.token;
    await post('/api/v1/reports', token, {machine: m, inventory: {...inventory, system: {...inventory.system, serial: `BENCH${hex}`}}, deployment: {id}}, 'inventory');
    for (let b = 0; b < EVENTS / BATCH; b++) {
      const events = Array.from({length: BATCH}, (_, k) => {
        const seq = b * BATCH + k + 1;
        return {seq, t: new Date().toISOString(), level: 'info', msg: `step ${seq}: something the agent did, with a line of detail like a real event carries`, ...(seq === EVENTS ? {outcome: 'succeeded'} : {})};
      });
      await post('/api/v1/reports', token, {machine: m, deployment: {id}, events}, 'events');
    }
  }

  const pid = serve.child.pid!;
  const rssStart = rss(pid);
  const cpuStart = cpu(pid);
  const ownStart = process.cpuUsage();
  const t0 = performance.now();
  const until = SOAK ? t0 + SOAK * 1000 : Infinity;
  let done = 0;
  await Promise.all(
    Array.from({length: AT_ONCE}, async () => {
      while (SOAK ? performance.now() < until : done < MACHINES) {
        done++;
        await machine();
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const rssEnd = rss(pid);
  const serverCpu = cpu(pid) - cpuStart;
  const own = process.cpuUsage(ownStart);
  const clientCpu = (own.user + own.system) / 1e6;
  await serve.stop();
  await pg?.stop();
  const size = execFileSync('du', ['-sh', data]).toString().split('\t')[0];
  rmSync(dir, {recursive: true, force: true});
  latencies.sort((a, b) => a - b);
  const q = (p: number, xs = latencies) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(1);
  const kinds = Object.entries(byKind).map(([k, xs]) => (xs.sort((a, b) => a - b), `${k} p50 ${q(0.5, xs)} / p99 ${q(0.99, xs)} ms`)).join(', ');
  console.log(
    `registry ${SOAK ? `soak (${SOAK} s)` : 'load'} on the ${kind === 'embedded' ? 'embedded database' : 'PostgreSQL server'}, TLS (${KEEPALIVE ? 'connections kept' : 'a connection per request'}): ${done} machines × (deployment + inventory + ${EVENTS} events in batches of ${BATCH}), ${AT_ONCE} at a time: ${latencies.length} requests in ${seconds.toFixed(1)} s = ${(latencies.length / seconds).toFixed(0)} requests/s, ${((done * EVENTS) / seconds).toFixed(0)} events/s, ${(bytes / 1048576 / seconds).toFixed(1)} MiB/s; latency p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms (${kinds}); the server used ${serverCpu.toFixed(1)} CPU s (${((serverCpu / seconds) * 100).toFixed(0)}% of a core), this load generator ${clientCpu.toFixed(1)} (${((clientCpu / seconds) * 100).toFixed(0)}%), on a machine of ${availableParallelism()} cores; server RSS ${rssStart.toFixed(0)} MiB at start, ${rssEnd.toFixed(0)} MiB at the end${kind === 'embedded' ? `; database ${size}` : ''}`,
  );
}

for (const kind of WHICH === 'both' ? (['embedded', 'postgres'] as const) : [WHICH as 'embedded' | 'postgres']) await run(kind);
