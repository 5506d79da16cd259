// Base initramfs figures: size (compressed, unpacked), power-on → agent running under
// QEMU TCG, and the smallest RAM (-m) at which deploy mode completes a payload; each with
// issue #12's goal and the figure of the last base with the Node agent (session 9, the
// same machine and bench) beside it.
// Run: npx vite-node bench/deploy-env.ts
import {execFileSync} from 'node:child_process';
import {existsSync, mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {composeEnv, ensureBase, QEMU_MAC, sha256, sshKeypair, tarPayload} from '../test/helpers/deploy-env.js';
import {Vm} from '../test/helpers/qemu.js';
import {groupOf, spaceByGroup} from '../src/core/initramfs-space.js';
import {listInitramfs} from '../src/services/inspect.js';
import {REPO} from '../test/helpers/kernel.js';

const work = mkdtempSync(join(tmpdir(), 'anemos-bench-env-'));
process.on('exit', () => rmSync(work, {recursive: true, force: true}));
const base = await ensureBase();
const MiB = 1048576;
/** The Node agent's base, measured by this bench before the move to QuickJS. */
const NODE_BASE = {compressedMiB: 39.3, unpackedMiB: 137.3, downloadMB: 55.4, agentSeconds: 9.5, smallestMiB: 288};
const s = base.manifest.sizes;
console.log(`base initramfs: ${(s.initramfs / MiB).toFixed(1)} MiB compressed (goal ≤ 16; Node agent: ${NODE_BASE.compressedMiB}), ${(s.unpacked / MiB).toFixed(1)} MiB unpacked by the kernel (Node agent: ${NODE_BASE.unpackedMiB}; /usr in it is a squashfs image, read on demand); kernel ${(s.vmlinuz / MiB).toFixed(1)} MiB; ${base.manifest.modules} modules; agent runtime: QuickJS ${base.manifest.quickjs ?? '?'}`);
console.log(`kernel + base download: ${((s.vmlinuz + s.initramfs) / 1e6).toFixed(1)} MB (goal ≤ 32; Node agent: ${NODE_BASE.downloadMB})`);

// What takes the space: unpacked by group (the files of the /usr image with their own size),
// and each group's files compressed alone with zstd -19 (the image compresses 1 MiB blocks
// one by one, and the cpio around it is one stream, so these add up to a bit less).
const cache = join(REPO, '.cache', 'initramfs');
const entries = (await listInitramfs(base.initramfs)).flatMap((s) => s.entries);
const images = new Set(entries.flatMap((e) => (e.image ? [e.image] : [])));
console.log('what takes the space in the base (MiB unpacked | alone with zstd -19 | files | largest):');
for (const g of spaceByGroup(entries, 2)) {
  // Where build.sh left each file: the cpio's root, or the tree of the /usr image.
  const files = entries.filter((e) => e.type === 'file' && groupOf(e.path) === g.group && !images.has(e.path)).map((e) => (e.image ? join(cache, 'usr-image', e.path.replace(/^usr\//, '')) : join(cache, 'root', e.path)));
  const packed = files.length && files.every(existsSync) ? Number(execFileSync('sh', ['-c', 'cat "$@" | zstd -q -19 -T0 -c | wc -c', 'sh', ...files], {maxBuffer: 1 << 20}).toString().trim()) : undefined;
  console.log(`  ${(g.bytes / MiB).toFixed(1).padStart(5)} | ${packed === undefined ? '   ?' : (packed / MiB).toFixed(1).padStart(4)} | ${String(g.files).padStart(4)} | ${g.group} (${g.largest.map((f) => f.path.split('/').pop()).join(', ')})`);
}

const operator = sshKeypair(work, 'operator');
const data = tarPayload(work, {deploy: {content: '#!/bin/sh\nprintf done | dd of="$ANEMOS_DISK" conv=notrunc 2>/dev/null\nsync\n', mode: 0o755}});
const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'bench', config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: sha256(data)}}, authorizedKeys: [operator.pub], payload: {file: 'payload.tar.gz', data}});

let boots = 0;
async function deployAt(memoryMb: number): Promise<{ok: boolean; agentSeconds?: number; totalSeconds: number}> {
  const n = ++boots;
  const disk = join(work, `disk-${n}.raw`);
  execFileSync('truncate', ['-s', '16M', disk]);
  const t0 = Date.now();
  const vm = new Vm({kernel: base.kernel, initrd, append: 'console=ttyS0,115200 anemos.mode=deploy panic=10 rootfstype=ramfs', memoryMb, serialLog: join(work, `serial-${n}-${memoryMb}.log`), disks: [disk], mac: QEMU_MAC});
  let agentSeconds: number | undefined;
  try {
    await vm.waitFor(/anemos: agent started/, 120_000);
    agentSeconds = (Date.now() - t0) / 1000;
    if (memoryMb === 512) console.log(`  boot ${n}: ${(await vm.waitFor(/boot: (since the kernel started: .*)/, 60_000))[1]}`);
    await vm.waitFor(/DEPLOY SUCCEEDED/, 240_000);
    await vm.waitExit(60_000);
    return {ok: true, agentSeconds, totalSeconds: (Date.now() - t0) / 1000};
  } catch {
    vm.kill();
    return {ok: false, agentSeconds, totalSeconds: (Date.now() - t0) / 1000};
  }
}

// One boot varies by a second under TCG (the host's load): three, and their median.
const runs = [await deployAt(512), await deployAt(512), await deployAt(512)];
const agent = runs.map((r) => r.agentSeconds ?? NaN).sort((x, y) => x - y);
console.log(`power-on → agent running (QEMU TCG, 512 MiB): median ${agent[1]!.toFixed(1)} s of ${agent.map((x) => x.toFixed(1)).join(', ')} (goal ≤ 5; Node agent: ${NODE_BASE.agentSeconds}); whole deploy of a tiny payload until power-off: ${runs[1]!.totalSeconds.toFixed(1)} s`);
let smallest: number | undefined;
// Down in 16 MiB steps until a deploy does not complete.
for (let mb = 256; mb >= 64; mb -= 16) {
  const r = await deployAt(mb);
  console.log(`  -m ${mb}: ${r.ok ? `deploy completed in ${r.totalSeconds.toFixed(1)} s` : 'did not complete'}`);
  if (!r.ok) break;
  smallest = mb;
}
console.log(`smallest RAM at which deploy mode completes: ${smallest ?? '> 256'} MiB (goal ≤ 160; Node agent: ${NODE_BASE.smallestMiB})`);
