// A provider whose network is not one static IPv4 address: IPv4 by DHCP (systemd-networkd,
// as netplan-based clouds have it) and a static IPv6 address with its default route beside
// it (QEMU's user network, given a global prefix, answers on its ::2). The deploy environment must come up with
// both, the new system must keep both: DHCP for IPv4, the same IPv6 address and route.

import {execFile} from 'node:child_process';
import {cpSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ensureBase, QEMU_MAC, sha256, sshKeypair} from '../helpers/deploy-env.js';
import {E2E_CACHE, PROVIDER_PACKAGES, providerDisk, rootfsTarball, TARGET_PACKAGES, TARGET_SUITE} from '../helpers/e2e-images.js';
import {startServer, type TestServer} from '../helpers/http-server.js';
import {CLI, REPO} from '../helpers/kernel.js';
import {keptPath, Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, sshArgs, sshRun} from '../helpers/ssh.js';

const BUILD_ID = `net-${process.pid}`;
// A global prefix (the documentation one): QEMU's default fec0::/64 is site-local, which
// hosts do not use and anemos does not carry (it carries the global addresses).
const V6_NET = '2001:db8:5::/64';
const V6 = '2001:db8:5::15';
const V6_GATEWAY = '2001:db8:5::2';
const timings: Record<string, number> = {};
const since = (t0: number) => Number(((Date.now() - t0) / 1000).toFixed(1));

describe('a dual-stack provider with DHCP: the addresses survive into the deploy environment and the new system', () => {
  let work: string;
  let server: TestServer;
  let vm: Vm;
  let port: number;
  let operator: {priv: string; pub: string};
  let fingerprint: string;

  const ssh = (command: string, timeoutMs = 120_000) => sshRun(operator.priv, port, command, timeoutMs);
  /** Asynchronous: the HTTP server the guest downloads from runs in this process. */
  const sshStatus = (command: string) =>
    new Promise<{code: number; out: string}>((resolve) =>
      execFile('ssh', [...sshArgs(operator.priv, port), command], {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 900_000}, (err, stdout, stderr) =>
        resolve({code: err ? ((err as {code?: number}).code ?? -1) : 0, out: `${stdout}${stderr}`}),
      ),
    );

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'anemos-net-'));
    operator = sshKeypair(E2E_CACHE, 'operator');
    const base = await ensureBase();
    const provider = await rootfsTarball('bookworm', PROVIDER_PACKAGES, 'tar');
    const target = await rootfsTarball(TARGET_SUITE, TARGET_PACKAGES, 'tar.zst');
    const disk = join(work, 'provider.raw');
    await new Promise((res, rej) =>
      providerDisk(provider, `${operator.priv}.pub`, {dhcp: true, address6: `${V6}/64`, gateway6: V6_GATEWAY}).then((p) => execFile('cp', ['--sparse=always', p, disk], (e) => (e ? rej(e) : res(undefined))), rej),
    );

    server = await startServer({});
    const url = `http://10.0.2.2:${new URL(server.url).port}`;
    const payloadDir = join(work, 'image-payload');
    cpSync(join(REPO, 'payloads', 'image'), payloadDir, {recursive: true});
    writeFileSync(join(payloadDir, 'image.conf'), [`IMAGE_URL=${url}/target.tar.zst`, `IMAGE_SHA256=${sha256(readFileSync(target))}`, 'IMAGE_KIND=rootfs', 'ROOT_FS=ext4', 'NETWORK_FORMAT=auto', `IMAGE_BUILD_ID=${BUILD_ID}`, ''].join('\n'));
    for (const [path, file] of Object.entries({'/vmlinuz': base.kernel, '/initramfs.cpio.zst': base.initramfs, '/target.tar.zst': target})) server.routes.set(path, {file});
    // The payload is named as a directory: anemos packs it on the provider when the deploy starts.
    writeFileSync(
      join(work, 'anemos.conf'),
      [
        `kernel: {url: ${url}/vmlinuz, sha256: ${sha256(readFileSync(base.kernel))}}`,
        `initramfs: {url: ${url}/initramfs.cpio.zst, sha256: ${sha256(readFileSync(base.initramfs))}}`,
        'payload: {url: /root/image-payload}',
        'deploy: {disk: /dev/vda, timeout: 20m, network_timeout: 60s}',
        'boot: {delay: 1}',
      ].join('\n'),
    );

    port = await freePort();
    const t0 = Date.now();
    vm = new Vm({disks: [disk], memoryMb: 1024, serialLog: join(work, 'serial.log'), mac: QEMU_MAC, hostfwd: [`tcp:127.0.0.1:${port}-:22`], netOptions: [`ipv6-net=${V6_NET}`], noReboot: false});
    await ssh('true', 240_000);
    timings['provider boot → SSH'] = since(t0);
    const scp = (src: string, dest: string) =>
      new Promise((res, rej) => execFile('scp', ['-r', '-q', ...sshArgs(operator.priv, port).filter((a) => a !== 'root@127.0.0.1').map((a) => (a === '-p' ? '-P' : a)), src, `root@127.0.0.1:${dest}`], (e) => (e ? rej(e) : res(undefined))));
    await scp(CLI, '/usr/local/bin/anemos');
    await scp(join(work, 'anemos.conf'), '/etc/anemos.conf');
    await scp(payloadDir, '/root/image-payload');
    fingerprint = await hostKeyFingerprint(port);
  }, 1_800_000);

  afterAll(async () => {
    vm?.kill();
    await server?.close();
    if (Object.keys(timings).length) process.stderr.write(`network e2e timings (s): ${JSON.stringify(timings)}\nserial log (kept after the run): ${keptPath(join(work, 'serial.log'))}\n`);
  });

  it('the provider: IPv4 from DHCP, the static IPv6 address and route; anemos sees both', async () => {
    const out = await ssh('ip -4 -o addr show eth0; ip -6 -o addr show eth0 scope global; ip -6 route show default');
    expect(out).toMatch(/inet 10\.0\.2\.15\/24 .*dynamic/);
    expect(out).toContain(`inet6 ${V6}/64`);
    expect(out).toContain(`default via ${V6_GATEWAY} dev eth0`);
    const detected = JSON.parse(await ssh('anemos network detect --json'));
    const eth0 = Object.values(detected.interfaces as Record<string, {dhcp4: boolean; addresses: {address: string}[]}>)[0]!;
    expect(eth0.dhcp4).toBe(true);
    expect(eth0.addresses.map((a) => a.address)).toEqual(expect.arrayContaining(['10.0.2.15', V6]));
  });

  it('test-boot: the deploy environment gets the address by DHCP and keeps the IPv6 address; its IPv6 gateway answers', async () => {
    const mark = vm.log().length;
    const r = await sshStatus('anemos test-boot --yes');
    expect(r.code, r.out).toBe(0);
    await vm.waitFor(/TEST MODE READY/, 600_000, mark);
    const inside = await ssh(`cat /proc/cmdline; ip -4 -o addr show eth0; ip -6 -o addr show eth0 scope global; ip -6 route show default; ping -6 -c 1 -W 5 ${V6_GATEWAY} >/dev/null && echo V6-GATEWAY-ANSWERS`, 300_000);
    expect(inside).toMatch(/anemos\.mode=test/);
    expect(inside).toMatch(/inet 10\.0\.2\.15\/24/);
    expect(vm.log().slice(mark)).toMatch(/eth0: DHCP lease obtained/);
    expect(inside).toContain(`inet6 ${V6}/64`);
    expect(inside).toContain(`default via ${V6_GATEWAY} dev eth0`);
    expect(inside).toContain('V6-GATEWAY-ANSWERS');
    await sshStatus('(sleep 1; reboot -f) >/dev/null 2>&1 &');
    await ssh('test ! -e /run/anemos', 300_000);
  }, 1_200_000);

  it('deploy: Debian 13 keeps DHCP for IPv4 and the same IPv6 address and route', async () => {
    const t0 = Date.now();
    const mark = vm.log().length;
    const r = await sshStatus('anemos deploy --yes');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Payload: packed the directory \/root\/image-payload/);
    await vm.waitFor(/DEPLOY SUCCEEDED/, 1_200_000, mark);
    const deadline = Date.now() + 600_000;
    let codename = '';
    while (Date.now() < deadline && codename !== TARGET_SUITE) {
      codename = (await sshStatus('. /etc/os-release; echo $VERSION_CODENAME')).out.trim();
      if (codename !== TARGET_SUITE) await new Promise((res) => setTimeout(res, 3000));
    }
    timings['deploy → Debian 13 SSH'] = since(t0);
    expect(codename).toBe(TARGET_SUITE);
    const facts = await ssh(`cat /etc/anemos-deployed; hostname; ip -4 -o addr show eth0; ip -6 -o addr show eth0 scope global; ip -6 route show default; grep -h '^DHCP=\\|^Address=' /etc/systemd/network/*.network`);
    expect(facts).toContain(`build=${BUILD_ID}`);
    expect(facts).toMatch(/^provider$/m);
    expect(facts).toMatch(/inet 10\.0\.2\.15\/24 .*dynamic/);
    expect(facts).toContain(`inet6 ${V6}/64`);
    expect(facts).toContain(`default via ${V6_GATEWAY} dev eth0`);
    expect(facts).toMatch(/^DHCP=ipv4$/m);
    expect(facts).toContain(`Address=${V6}/64`);
    expect(await hostKeyFingerprint(port)).toBe(fingerprint);
  }, 2_400_000);
});
