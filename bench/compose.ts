// Compose speed as a ratio to `cat` of the same bytes (goal ≤ 1.2), and the CLI's start
// time as a ratio to `node -e 0`. Needs .cache/base (npm test builds it).
// Run: npx vite-node bench/compose.ts
import {spawnSync} from 'node:child_process';
import {createReadStream, existsSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {planSegments} from '../src/core/segments.js';
import {composeInitramfs} from '../src/services/compose.js';
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
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, {stdio: 'ignore'});
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
const start = await median(() => run(cli, ['--version']));
const node = await median(() => run(process.execPath, ['-e', '0']));
const total = statSync(out).size;
console.log(`compose (base ${(statSync(base).size / 1048576).toFixed(1)} MiB + 8 MiB payload + config → ${(total / 1048576).toFixed(1)} MiB): ${compose.toFixed(1)} ms; cat of base + payload: ${cat.toFixed(1)} ms; ratio ${(compose / cat).toFixed(2)} (goal ≤ 1.2)`);
console.log(`CLI start (anemos --version): ${start.toFixed(0)} ms; node -e 0: ${node.toFixed(0)} ms; ratio ${(start / node).toFixed(2)}`);
