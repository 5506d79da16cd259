// Compose speed as a ratio to `cat` of the same bytes (goal ≤ 1.2), and the CLI's start
// time as a ratio to `node -e 0`. Needs .cache/base (npm test builds it).
// Run: npx vite-node bench/compose.ts
import {spawnSync} from 'node:child_process';
import {createReadStream, existsSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {planSegments} from '../src/core/segments.js';
import {composeInitramfs} from '../src/adapters/compose.js';
import {qemuNetwork} from '../src/core/qemu-target.js';

const repo = join(__dirname, '..');
const cli = join(repo, 'dist', 'anemos.cjs');
const base = join(repo, '.cache', 'base', 'initramfs.cpio.zst');
if (!existsSync(base)) {
  console.error(`bench/compose: ${base} missing; run "npm test" first`);
  process.exit(4);
}
const work = mkdtempSync(join(tmpdir(), 'anemos-bench-'));
process.on('exit', () => rmSync(work, {recursive: true, force: true}));
const payload = join(work, 'payload.tar.gz');
writeFileSync(payload, Buffer.alloc(8 * 1048576, 1));
const size = statSync(payload).size;

async function median(f: () => Promise<void> | void, n = 9): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await f();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)];
}
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
  const r = spawnSync(cmd, args, {stdio: 'ignore', env});
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
};

const out = join(work, 'final.img');
const segments = () =>
  planSegments({
    config: {version: 1, mode: 'deploy', cli_version: 'bench', hostname: 'bench', on_failure: 'auto', timeout: 60, network_timeout: 60, payload: {file: 'payload.tar.gz', sha256: '0'.repeat(64)}},
    network: qemuNetwork('bench'),
    authorizedKeys: ['ssh-ed25519 AAAA bench'],
    payload: {file: 'payload.tar.gz', data: {size, open: () => createReadStream(payload, {highWaterMark: 1 << 20})}},
  });
const compose = await median(async () => {
  await composeInitramfs(base, segments(), out);
});
const cat = await median(() => run('sh', ['-c', 'cat "$1" "$2" > "$3"', 'sh', base, payload, join(work, 'cat.img')]));
// The CLI keeps V8's code cache in XDG_CACHE_HOME/anemos: "first" is a run with none
// (after an install or upgrade), the others reuse it. Interleaved, so that a change in
// the machine's speed hits all of them alike.
const cacheHome = join(work, 'xdg');
const withCache = {...process.env, XDG_CACHE_HOME: cacheHome};
run(cli, ['--version'], withCache);
const times = {node: [] as number[], version: [] as number[], help: [] as number[], first: [] as number[]};
const time = (into: number[], f: () => void) => {
  const t = process.hrtime.bigint();
  f();
  into.push(Number(process.hrtime.bigint() - t) / 1e6);
};
for (let i = 0; i < 21; i++) {
  time(times.node, () => run(process.execPath, ['-e', '0']));
  time(times.version, () => run(cli, ['--version'], withCache));
  time(times.help, () => run(cli, ['--help'], withCache));
  time(times.first, () => run(cli, ['--version'], {...process.env, XDG_CACHE_HOME: join(work, `cold-${i}`)}));
}
const mid = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const [node, start, help, first] = [mid(times.node), mid(times.version), mid(times.help), mid(times.first)];
const total = statSync(out).size;
console.log(`compose (base ${(statSync(base).size / 1048576).toFixed(1)} MiB + 8 MiB payload + config → ${(total / 1048576).toFixed(1)} MiB): ${compose.toFixed(1)} ms; cat of base + payload: ${cat.toFixed(1)} ms; ratio ${(compose / cat).toFixed(2)} (goal ≤ 1.2)`);
console.log(
  `CLI start (median of 21): node -e 0 ${node.toFixed(0)} ms; anemos --version ${start.toFixed(0)} ms, ratio ${(start / node).toFixed(2)} (goal ≤ 1.25; 2.2–2.4 before the manifest and code cache, 1.72 before PGlite's code moved beside the bundle); ` +
    `anemos --help ${help.toFixed(0)} ms (${(help / node).toFixed(2)}); first run after an install (no code cache) ${first.toFixed(0)} ms (${(first / node).toFixed(2)})`,
);
