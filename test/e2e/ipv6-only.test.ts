// An IPv6-only uplink: the provider's eth0 is on a QEMU user network with IPv4 turned off,
// with a static global IPv6 address and default route; everything anemos downloads (on the
// provider, and in the deploy environment) comes over IPv6 from [2001:db8:6::2], which QEMU
// forwards to this machine's ::1. The provider's second NIC, eth1, is a management network
// with an IPv4 address and no route: QEMU 7.2 (Debian 12's) cannot forward a port to a
// guest's IPv6 address, so the tests reach the machine over SSH there. anemos carries both
// NICs, as it would a server's private network. The provider has 256 MB of RAM, the
// smallest VPS plans' size (issue #12): the deploy environment on QuickJS fits, and the
// Debian 13 image, larger than the RAM it leaves, is streamed to the disk.

import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {QEMU_MAC} from '../helpers/deploy-env.js';
import {bootProvider, endProviderE2e, imageDeployConf, imagePayload, providerSetup, TARGET_SUITE} from '../helpers/e2e-images.js';
import {startServer, type TestServer} from '../helpers/http-server.js';
import {kexecTimeline, type QemuOptions, type Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, sshRun, sshStatus as sshStatusOn, waitForCodename} from '../helpers/ssh.js';

const BUILD_ID = `v6-${process.pid}`;
const V6_NET = '2001:db8:6::/64';
const V6 = '2001:db8:6::15';
const V6_GATEWAY = '2001:db8:6::2';
const MGMT_MAC = '52:54:00:12:34:57';
const timings: Record<string, number> = {};
const since = (t0: number) => Number(((Date.now() - t0) / 1000).toFixed(1));

describe('an IPv6-only uplink: downloads over IPv6 on the provider and in the deploy environment; the new system keeps the address', () => {
  let work: string;
  let server: TestServer;
  let vm: Vm;
  let port: number;
  let operator: {priv: string; pub: string};
  let fingerprint: string;

  const ssh = (command: string, timeoutMs = 120_000) => sshRun(operator.priv, port, command, timeoutMs);
  const sshStatus = (command: string) => sshStatusOn(operator.priv, port, command);

  beforeAll(async () => {
    const setup = await providerSetup('anemos-v6-', {address6: `${V6}/64`, gateway6: V6_GATEWAY, noIpv4: true, mgmtAddress: '10.0.2.15/24', dns: '2001:db8:6::3'});
    ({work, operator} = setup);
    const {base, target, disk} = setup;

    // The guest reaches this server only as [2001:db8:6::2] (QEMU: to ::1 here); there is no IPv4 path to it.
    server = await startServer({}, '::1');
    const url = `http://[${V6_GATEWAY}]:${new URL(server.url).port}`;
    const payloadDir = imagePayload(work, `${url}/target.tar.zst`, target, BUILD_ID);
    for (const [path, file] of Object.entries({'/vmlinuz': base.kernel, '/initramfs.cpio.zst': base.initramfs, '/target.tar.zst': target})) server.routes.set(path, {file});
    writeFileSync(join(work, 'anemos.conf'), imageDeployConf(url, base));

    port = await freePort();
    const options: QemuOptions = {
      disks: [disk],
      memoryMb: 256,
      serialLog: join(work, 'serial.log'),
      mac: QEMU_MAC,
      netOptions: ['ipv4=off', `ipv6-net=${V6_NET}`],
      moreNics: [{mac: MGMT_MAC, netOptions: ['ipv6=off'], hostfwd: [`tcp:127.0.0.1:${port}-10.0.2.15:22`]}],
      noReboot: false,
    };
    let seconds: number;
    ({vm, fingerprint, seconds} = await bootProvider(options, operator.priv, port, {'/etc/anemos.conf': join(work, 'anemos.conf'), '/root/image-payload': payloadDir}));
    timings['provider boot → SSH'] = seconds;
  }, 1_800_000);

  afterAll(() => endProviderE2e('IPv6-only', vm, server, timings, join(work, 'serial.log')));

  it('the provider: the uplink has IPv6 only, no IPv4 default route; anemos carries the IPv6 address and route, and the management NIC', async () => {
    const out = await ssh('ip -4 route show default | wc -l; ip -4 -o addr show eth0 | wc -l; ip -6 -o addr show eth0 scope global; ip -6 route show default');
    expect(out.split('\n').slice(0, 2)).toEqual(['0', '0']);
    expect(out).toContain(`inet6 ${V6}/64`);
    expect(out).toContain(`default via ${V6_GATEWAY} dev eth0`);
    const detected = JSON.parse(await ssh('anemos network detect --json'));
    const ifaces = Object.values(detected.interfaces as Record<string, {mac: string; addresses: {address: string; family: number}[]; routes: {to: string; via?: string}[]}>);
    const uplink = ifaces.find((i) => i.mac === QEMU_MAC)!;
    expect(uplink.addresses.map((a) => a.address)).toEqual([V6]);
    expect(uplink.routes).toContainEqual(expect.objectContaining({to: 'default', via: V6_GATEWAY}));
    expect(ifaces.find((i) => i.mac === MGMT_MAC)!.addresses.map((a) => a.address)).toEqual(['10.0.2.15']);
  });

  it('deploy in 256 MB: kernel, base and image come over IPv6; the deploy environment gates on the IPv6 gateway; the image is streamed; Debian 13 keeps the IPv6 address and route', async () => {
    expect(Number(await ssh("awk '/^MemTotal:/ {print $2}' /proc/meminfo"))).toBeLessThan(256 * 1024);
    const t0 = Date.now();
    const mark = vm.log().length;
    const r = await sshStatus('anemos deploy --yes');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/fetch kernel: \d+ bytes, sha256 verified/);
    expect(server.requests.map((q) => q.path)).toEqual(expect.arrayContaining(['/vmlinuz', '/initramfs.cpio.zst']));
    await vm.waitFor(/DEPLOY SUCCEEDED/, 1_200_000, mark);
    const inside = vm.log().slice(mark);
    Object.assign(timings, kexecTimeline(inside));
    expect(inside).toMatch(/network check: ok/);
    // IMAGE_IN_RAM=auto: the image is larger than what 256 MB leave free beside the deploy environment.
    expect(inside).toMatch(/image: == stream http:\/\/\[2001:db8:6::2\]:\d+\/target\.tar\.zst to the disk/);
    expect(inside).toMatch(/image: verified as streamed: sha256 [0-9a-f]{64}/);
    const codename = await waitForCodename(operator.priv, port, TARGET_SUITE, 600_000);
    timings['deploy → Debian 13 SSH'] = since(t0);
    expect(codename).toBe(TARGET_SUITE);
    // Over IPv6 through the gateway to this machine's server (Debian 13 here has no ping); SSH answers on the
    // management NIC first, and the IPv6 address may still be in duplicate address detection: tried a few times.
    const facts = await ssh(`cat /etc/anemos-deployed; hostname; ip -6 -o addr show scope global; ip -6 route show default; ip -4 route show default | wc -l; for i in 1 2 3 4 5 6; do timeout 5 bash -c 'exec 3<>/dev/tcp/${V6_GATEWAY}/${new URL(server.url).port}; printf "HEAD /vmlinuz HTTP/1.0\\r\\n\\r\\n" >&3; head -c 12 <&3' && break; sleep 2; done; true`);
    expect(facts).toContain(`build=${BUILD_ID}`);
    expect(facts).toMatch(/^provider$/m);
    expect(facts).toContain(`inet6 ${V6}/64`);
    expect(facts).toContain(`default via ${V6_GATEWAY}`);
    expect(facts).toMatch(/^0$/m);
    expect(facts).toMatch(/HTTP\/1\.1 200/);
    expect(await hostKeyFingerprint(port)).toBe(fingerprint);
  }, 2_400_000);
});
