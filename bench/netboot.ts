// Network boot under load: a swarm of simulated PXE clients (bench/netboot-swarm.cjs) in a
// namespace of a lab segment (test/helpers/netlab.ts, nothing on this machine's own
// interfaces) against the real `anemos serve --boot --discover` (dist/anemos.cjs, the
// embedded database): every client's DHCP discover within 10 s, its 4011 request, TFTP of
// iPXE, the script (each one registers a discovered machine and records its boot), then
// the kernel and the base; beside curl fetching the base from the same server.
// Goals (issue #25): every client answered, DHCP p99 ≤ 100 ms, HTTP ≥ 80% of curl.
// Then an installer's initrd read out of an ISO (--media, issue #27) beside the base, a plain file.
// Run as root: npx vite-node bench/netboot.ts [CLIENTS] (after npm run build; needs .cache/base)
import {execFileSync} from 'node:child_process';
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {startNetLab} from '../test/helpers/netlab.js';
import {makeToken, startServe} from '../test/helpers/registry.js';
import {debianInstallerIso} from '../test/helpers/installer-iso.js';

const repo = join(__dirname, '..');
const base = join(repo, '.cache', 'base');
if (!existsSync(join(base, 'SHA256SUMS'))) {
  console.error(`bench/netboot: ${base} missing; run "npm test" first`);
  process.exit(4);
}
const clients = Number(process.argv[2] ?? 500);
const work = mkdtempSync(join(tmpdir(), 'anemos-bench-netboot-'));
const lab = startNetLab(work, `b${process.pid}`);
const client = lab.client('10.77.0.50');

let serve: Awaited<ReturnType<typeof startServe>> | undefined;
try {
  const data = join(work, 'registry');
  makeToken(data, 'admin');
  const {media, id} = debianInstallerIso(work);
  serve = await startServe(['--data', data, '--quiet', '--boot', '--boot-interface', lab.bridge, '--boot-environment', base, '--discover', '--media', media], {wrap: lab.exec([])});
  const job = {server: lab.address, httpPort: 8067, clients, spreadMs: 10_000, httpConcurrency: 50, fileConcurrency: 20};
  const swarm = client([process.execPath, join(repo, 'bench', 'netboot-swarm.cjs')]);
  const t0 = Date.now();
  const out = JSON.parse(execFileSync(swarm[0]!, swarm.slice(1), {input: JSON.stringify(job), maxBuffer: 1 << 20, timeout: 1_800_000}).toString());
  const seconds = (Date.now() - t0) / 1000;
  // curl: the same base from the same server, alone, three times: its best.
  const curl = client(['curl', '-s', '-o', '/dev/null', '-w', '%{speed_download}', `http://${lab.address}:8067/boot/env/base.img`]);
  const curlMiB = Math.max(...[0, 1, 2].map(() => Number(execFileSync(curl[0]!, curl.slice(1)).toString()) / 1048576));
  // The installer's initrd, read out of the ISO by anemos' reader, alone, three times: its best.
  const fromIso = client(['curl', '-s', '-o', '/dev/null', '-w', '%{speed_download} %{size_download}', `http://${lab.address}:8067/boot/media/${id}/install.amd/initrd.gz`]);
  const iso = [0, 1, 2].map(() => execFileSync(fromIso[0]!, fromIso.slice(1)).toString().split(' ').map(Number));
  const isoMiB = Math.max(...iso.map(([speed]) => speed! / 1048576));
  const rss = Number(readFileSync(`/proc/${serve.child.pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+)/m)?.[1] ?? 0) / 1024;
  const d = out.dhcp;
  const f = (n: number, digits = 1) => n.toFixed(digits);
  console.log(`network boot: ${clients} PXE clients starting within 10 s, ${f(seconds, 0)} s in all (anemos serve --boot --discover, embedded database; 2 cores shared with the swarm)`);
  console.log(`DHCP: ${d.offered}/${d.clients} offered, ${d.acked}/${d.clients} acked on 4011; offer p50 ${f(d.offer_p50_ms)} ms, p99 ${f(d.offer_p99_ms)} ms (goal ≤ 100); ack p50 ${f(d.ack_p50_ms)} ms, p99 ${f(d.ack_p99_ms)} ms`);
  console.log(`TFTP: ${out.tftp.transfers}/${clients} of undionly.kpxe, starting within 10 s, done in ${f(out.tftp.seconds)} s, ${f(out.tftp.mib_per_s, 2)} MiB/s (the server takes 64 at a time; ${out.tftp.retries} transfers started again after a "busy" or 3 s of silence, as firmware does)`);
  console.log(`iPXE scripts: ${out.script.ok}/${clients} (each a discovered machine and its boot recorded), p50 ${f(out.script.p50_ms)} ms, p99 ${f(out.script.p99_ms)} ms, 50 at a time`);
  console.log(`kernel + base: ${out.files.clients}/${clients} clients in ${f(out.files.seconds)} s, ${f(out.files.mib_per_s, 0)} MiB/s, 20 at a time; curl alone: ${f(curlMiB, 0)} MiB/s (${f((out.files.mib_per_s / curlMiB) * 100, 0)}%, goal ≥ 80%)`);
  console.log(`installer initrd out of an ISO (--media): ${f(iso[0]![1]! / 1048576)} MiB at ${f(isoMiB, 0)} MiB/s, against ${f(curlMiB, 0)} MiB/s for the base, a plain file (${f((isoMiB / curlMiB) * 100, 0)}%)`);
  console.log(`anemos serve's peak RSS: ${f(rss, 0)} MiB`);
} finally {
  // Stopped whether the swarm succeeded or not.
  await serve?.stop();
  lab.close();
  rmSync(work, {recursive: true, force: true});
}
