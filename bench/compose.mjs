// Compose speed as a ratio to `cat` of the same bytes, and CLI start time as a ratio to
// `node -e 0`. Needs a base initramfs (npm test or demo builds .cache/base).
import {execFileSync, spawnSync} from 'node:child_process';
import {existsSync, mkdtempSync, writeFileSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

const repo = new URL('..', import.meta.url).pathname;
const cli = join(repo, 'dist', 'anemos.cjs');
const base = join(repo, '.cache', 'base', 'initramfs.cpio.zst');
if (!existsSync(base)) {
  console.error(`bench/compose: ${base} missing; run "npm test" (or initramfs/build.sh) first`);
  process.exit(4);
}
const work = mkdtempSync(join(tmpdir(), 'anemos-bench-'));
const payload = join(work, 'payload.tar.gz');
writeFileSync(payload, Buffer.alloc(8 * 1048576, 1));

function median(f, n = 7) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    f();
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)];
}
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, {stdio: 'ignore'});
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
};

const out = join(work, 'final.img');
const compose = median(() => run(cli, ['initramfs', 'compose', base, '-o', out, '--add', `${payload}=anemos/payload.tar.gz`]));
const cat = median(() => run('sh', ['-c', 'cat "$1" "$2" > "$3"', 'sh', base, payload, join(work, 'cat.img')]));
const start = median(() => run(cli, ['--version']), 11);
const node = median(() => run(process.execPath, ['-e', '0']), 11);
const size = statSync(out).size;
console.log(`compose: ${compose.toFixed(0)} ms for ${(size / 1048576).toFixed(1)} MiB (base + 8 MiB payload); cat of the same bytes: ${cat.toFixed(0)} ms; ratio ${(compose / cat).toFixed(2)} (includes CLI start)`);
console.log(`compose minus CLI start: ${(compose - start).toFixed(0)} ms; ratio to cat ${((compose - start) / cat).toFixed(2)}`);
console.log(`CLI start (anemos --version): ${start.toFixed(0)} ms; node -e 0: ${node.toFixed(0)} ms; ratio ${(start / node).toFixed(2)}`);
