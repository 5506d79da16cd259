// A bonded uplink, the bare-metal shape: the provider's eth0 and eth1 are an active-backup
// bond (bond0, eth0 preferred) that carries the address, made by systemd-networkd, which
// gives the bond a MAC of its own. Both NICs are on one QEMU hub with the user network (two
// ports on one switch). anemos carries the bond into the deploy environment (built from the
// NICs found by their own MACs, with the host's bond MAC) and writes it for Debian 13. On
// Debian 13 the active NIC's cable is pulled (QEMU's set_link): the bond fails over to the
// other NIC and SSH still answers. The image is streamed to the disk (IMAGE_IN_RAM=no), its
// sha256 checked on the way, as one larger than the RAM left would be.

import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {QEMU_MAC} from '../helpers/deploy-env.js';
import {bootProvider, endProviderE2e, imageDeployConf, imagePayload, providerSetup, TARGET_SUITE} from '../helpers/e2e-images.js';
import {startServer, type TestServer} from '../helpers/http-server.js';
import {kexecTimeline, type QemuOptions, type Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, sshRun, sshStatus as sshStatusOn, waitForCodename} from '../helpers/ssh.js';

const BUILD_ID = `bond-${process.pid}`;
const SECOND_MAC = '52:54:00:12:34:58';
const timings: Record<string, number> = {};
const since = (t0: number) => Number(((Date.now() - t0) / 1000).toFixed(1));

/** /proc/net/bonding/BOND: the active member and each member's name, own MAC and link state. */
function bondStatus(text: string) {
  const active = text.match(/^Currently Active Slave: (\S+)/m)?.[1];
  const mode = text.match(/^Bonding Mode: (.*)$/m)?.[1];
  const members = [...text.matchAll(/^Slave Interface: (\S+)\nMII Status: (\S+)[\s\S]*?^Permanent HW addr: (\S+)/gm)].map((m) => ({name: m[1], mii: m[2], mac: m[3]}));
  return {mode, active, members};
}

describe('a bonded uplink: the bond carries the address into the deploy environment and Debian 13, and fails over when a cable is pulled', () => {
  let work: string;
  let server: TestServer;
  let vm: Vm;
  let port: number;
  let operator: {priv: string; pub: string};
  let fingerprint: string;
  let bondMac: string;

  const ssh = (command: string, timeoutMs = 120_000) => sshRun(operator.priv, port, command, timeoutMs);
  const sshStatus = (command: string) => sshStatusOn(operator.priv, port, command);

  beforeAll(async () => {
    const setup = await providerSetup('anemos-bond-', {bond: true});
    ({work, operator} = setup);
    const {base, target, disk} = setup;
    server = await startServer({});
    const url = `http://10.0.2.2:${new URL(server.url).port}`;
    // Streamed to the disk, its sha256 taken on the way, as an image larger than the RAM left would be.
    const payloadDir = imagePayload(work, `${url}/target.tar.zst`, target, BUILD_ID, {IMAGE_IN_RAM: 'no'});
    for (const [path, file] of Object.entries({'/vmlinuz': base.kernel, '/initramfs.cpio.zst': base.initramfs, '/target.tar.zst': target})) server.routes.set(path, {file});
    writeFileSync(join(work, 'anemos.conf'), imageDeployConf(url, base));

    port = await freePort();
    const options: QemuOptions = {
      disks: [disk],
      memoryMb: 1024,
      serialLog: join(work, 'serial.log'),
      mac: QEMU_MAC,
      hubMacs: [SECOND_MAC],
      hostfwd: [`tcp:127.0.0.1:${port}-10.0.2.15:22`],
      monitor: join(work, 'monitor.sock'),
      noReboot: false,
    };
    let seconds: number;
    ({vm, fingerprint, seconds} = await bootProvider(options, operator.priv, port, {'/etc/anemos.conf': join(work, 'anemos.conf'), '/root/image-payload': payloadDir}));
    timings['provider boot → SSH'] = seconds;
  }, 1_800_000);

  afterAll(() => endProviderE2e('bonded-uplink', vm, server, timings, join(work, 'serial.log')));

  it('the provider: bond0 over eth0 and eth1 carries the address; anemos carries the bond, its NICs by their own MACs', async () => {
    const status = bondStatus(await ssh('cat /proc/net/bonding/bond0'));
    expect(status.mode).toBe('fault-tolerance (active-backup)');
    expect(status.members.map((m) => m.mac).sort()).toEqual([QEMU_MAC, SECOND_MAC]);
    bondMac = (await ssh('cat /sys/class/net/bond0/address')).trim();
    // networkd made the bond's MAC up: neither NIC's, which is why the members are matched by their own.
    expect([QEMU_MAC, SECOND_MAC]).not.toContain(bondMac);
    const detected = JSON.parse(await ssh('anemos network detect --json'));
    expect(Object.keys(detected.interfaces)).toEqual([bondMac]);
    expect(detected.interfaces[bondMac]).toMatchObject({
      name: 'bond0',
      bond: {mode: 'active-backup', miimon: 100, primary: QEMU_MAC, members: [{mac: QEMU_MAC, name: 'eth0'}, {mac: SECOND_MAC, name: 'eth1'}]},
      addresses: [{address: '10.0.2.15', prefix: 24, family: 4}],
      routes: [{to: 'default', via: '10.0.2.2', family: 4}],
    });
  });

  it('deploy: the deploy environment builds the bond with the host\'s MAC and passes the gate on it; Debian 13 has the bond, the address and the host key; pulling the active NIC\'s cable fails over', async () => {
    const t0 = Date.now();
    const mark = vm.log().length;
    const r = await sshStatus('anemos deploy --yes');
    expect(r.code, r.out).toBe(0);
    await vm.waitFor(/DEPLOY SUCCEEDED/, 1_200_000, mark);
    const inside = vm.log().slice(mark);
    Object.assign(timings, kexecTimeline(inside));
    expect(inside).toMatch(/bond0: bond \(fault-tolerance \(active-backup\)\) over eth\d, eth\d; active: eth\d/);
    expect(inside).toMatch(/network check: ok/);
    expect(inside).toMatch(/image: == stream http:\/\/10\.0\.2\.2:\d+\/target\.tar\.zst to the disk/);
    expect(inside).toMatch(/image: verified as streamed: sha256 [0-9a-f]{64}/);
    const codename = await waitForCodename(operator.priv, port, TARGET_SUITE, 600_000);
    timings['deploy → Debian 13 SSH'] = since(t0);
    expect(codename).toBe(TARGET_SUITE);

    const facts = await ssh('cat /etc/anemos-deployed; hostname; cat /sys/class/net/bond0/address; ip -4 -o addr show dev bond0; ip -4 route show default');
    expect(facts).toContain(`build=${BUILD_ID}`);
    expect(facts).toMatch(/^provider$/m);
    expect(facts).toContain(`\n${bondMac}\n`);
    expect(facts).toContain('inet 10.0.2.15/24');
    expect(facts).toContain('default via 10.0.2.2 dev bond0');
    expect(await hostKeyFingerprint(port)).toBe(fingerprint);

    const before = bondStatus(await ssh('cat /proc/net/bonding/bond0'));
    expect(before.mode).toBe('fault-tolerance (active-backup)');
    expect(before.members.map((m) => m.mac).sort()).toEqual([QEMU_MAC, SECOND_MAC]);
    const first = before.members.find((m) => m.mac === QEMU_MAC)!;
    const second = before.members.find((m) => m.mac === SECOND_MAC)!;
    // The primary the host had is the active member.
    expect(before.active).toBe(first.name);

    // The cable of the active NIC (nic0, QEMU_MAC) is pulled: miimon sees it within 100 ms.
    const t1 = Date.now();
    await vm.setLink('nic0', false);
    try {
      let after = before;
      for (let i = 0; i < 30 && after.active !== second.name; i++) {
        await new Promise((res) => setTimeout(res, 1000));
        after = bondStatus(await ssh('cat /proc/net/bonding/bond0'));
      }
      timings['cable pulled → SSH over the other NIC'] = since(t1);
      expect(after.active).toBe(second.name);
      expect(after.members.find((m) => m.mac === QEMU_MAC)!.mii).toBe('down');
      // Traffic goes through the other NIC now: a fresh connection to this machine's server and SSH.
      const head = await ssh(`timeout 10 bash -c 'exec 3<>/dev/tcp/10.0.2.2/${new URL(server.url).port}; printf "HEAD /vmlinuz HTTP/1.0\\r\\n\\r\\n" >&3; head -c 12 <&3'`);
      expect(head).toMatch(/HTTP\/1\.1 200/);
    } finally {
      await vm.setLink('nic0', true);
    }
  }, 2_400_000);
});
