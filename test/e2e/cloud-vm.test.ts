// A provider as today's clouds sell it: booted by UEFI (OVMF; GPT with an EFI system
// partition, EFI GRUB installed the Debian way with its boot entry in the firmware's
// variables), IPv4 by DHCP (systemd-networkd, as netplan-based clouds have it) and a static
// IPv6 address with its default route beside it (QEMU's user network, given a global
// prefix, answers on its ::2). The one-shot bootloader method works with EFI GRUB; the
// deploy environment comes up with both addresses; the deploy writes a GPT, an ESP and EFI
// GRUB, registers the new system with the firmware and removes the old system's entries,
// and the new system keeps DHCP for IPv4, the same IPv6 address and route.

import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {QEMU_MAC} from '../helpers/deploy-env.js';
import {bootProvider, endProviderE2e, imageDeployConf, imagePayload, providerSetup, TARGET_SUITE} from '../helpers/e2e-images.js';
import {startServer, type TestServer} from '../helpers/http-server.js';
import {kexecTimeline, type QemuOptions, type Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, sshRun, sshStatus as sshStatusOn, waitForCodename} from '../helpers/ssh.js';

const BUILD_ID = `net-${process.pid}`;
// A global prefix (the documentation one): QEMU's default fec0::/64 is site-local, which
// hosts do not use and anemos does not carry (it carries the global addresses).
const V6_NET = '2001:db8:5::/64';
const V6 = '2001:db8:5::15';
const V6_GATEWAY = '2001:db8:5::2';
const timings: Record<string, number> = {};
const since = (t0: number) => Number(((Date.now() - t0) / 1000).toFixed(1));

describe('a UEFI cloud VM with DHCP and IPv6: the bootloader method, the deploy, the firmware boot entries, the addresses', () => {
  let work: string;
  let server: TestServer;
  let vm: Vm;
  let port: number;
  let operator: {priv: string; pub: string};
  let fingerprint: string;
  /** The provider's EFI system partition (its GPT partition GUID): gone after the deploy. */
  let oldEsp: string;

  const ssh = (command: string, timeoutMs = 120_000) => sshRun(operator.priv, port, command, timeoutMs);
  const sshStatus = (command: string) => sshStatusOn(operator.priv, port, command);

  beforeAll(async () => {
    const setup = await providerSetup('anemos-net-', {uefi: true, dhcp: true, address6: `${V6}/64`, gateway6: V6_GATEWAY});
    ({work, operator} = setup);
    const {base, target, disk} = setup;

    server = await startServer({});
    const url = `http://10.0.2.2:${new URL(server.url).port}`;
    const payloadDir = imagePayload(work, `${url}/target.tar.zst`, target, BUILD_ID);
    for (const [path, file] of Object.entries({'/vmlinuz': base.kernel, '/initramfs.cpio.zst': base.initramfs, '/target.tar.zst': target})) server.routes.set(path, {file});
    // The payload is named as a directory: anemos packs it on the provider when the deploy starts.
    writeFileSync(join(work, 'anemos.conf'), imageDeployConf(url, base));
    writeFileSync(join(work, 'bootloader.conf'), imageDeployConf(url, base, {boot: 'boot: {method: bootloader, delay: 1}'}));

    port = await freePort();
    const options: QemuOptions = {disks: [disk], memoryMb: 1024, serialLog: join(work, 'serial.log'), mac: QEMU_MAC, hostfwd: [`tcp:127.0.0.1:${port}-:22`], netOptions: [`ipv6-net=${V6_NET}`], noReboot: false, uefiVars: join(work, 'OVMF_VARS.fd')};
    let seconds: number;
    ({vm, fingerprint, seconds} = await bootProvider(options, operator.priv, port, {'/etc/anemos.conf': join(work, 'anemos.conf'), '/root/bootloader.conf': join(work, 'bootloader.conf'), '/root/image-payload': payloadDir}));
    timings['provider boot → SSH'] = seconds;
    // EFI GRUB as Debian's installer leaves it: grub-install writes EFI/debian/grubx64.efi and
    // its "debian" boot entry (first in BootOrder), update-grub the real grub.cfg. And one more
    // entry on the same ESP, as providers add (a rescue entry): the deploy must not leave it behind.
    const grub = await sshStatus(
      [
        'mkdir -p /etc/default/grub.d',
        `printf '%s\\n' 'GRUB_CMDLINE_LINUX="net.ifnames=0 console=tty0 console=ttyS0,115200"' 'GRUB_TERMINAL="console serial"' 'GRUB_SERIAL_COMMAND="serial --speed=115200"' 'GRUB_TIMEOUT=1' > /etc/default/grub.d/50-console.cfg`,
        'grub-install --target=x86_64-efi 2>&1 | tail -1',
        'update-grub 2>&1 | tail -1',
        "efibootmgr -q -c -d /dev/vda -p 1 -L 'provider rescue' -l '\\EFI\\debian\\grubx64.efi'",
        'lsblk -no PARTUUID /dev/vda1',
      ].join(' && '),
    );
    expect(grub.code, grub.out).toBe(0);
    oldEsp = grub.out.trim().split('\n').pop()!;
    expect(oldEsp).toMatch(/^[0-9a-f-]{36}$/);
  }, 1_800_000);

  afterAll(() => endProviderE2e('network', vm, server, timings, join(work, 'serial.log')));

  it('the provider: UEFI with its entries; IPv4 from DHCP, the static IPv6 address and route; anemos sees both', async () => {
    const efi = await ssh('efibootmgr -v; anemos inventory');
    expect(efi).toMatch(new RegExp(`^Boot[0-9A-F]{4}\\* debian\\s+HD\\(1,GPT,${oldEsp},.*\\\\EFI\\\\debian\\\\grubx64\\.efi`, 'mi'));
    expect(efi).toMatch(/^Boot[0-9A-F]{4}\* provider rescue/m);
    expect(efi).toMatch(/^platform: UEFI, Secure Boot off$/m);
    const out = await ssh('ip -4 -o addr show eth0; ip -6 -o addr show eth0 scope global; ip -6 route show default');
    expect(out).toMatch(/inet 10\.0\.2\.15\/24 .*dynamic/);
    expect(out).toContain(`inet6 ${V6}/64`);
    expect(out).toContain(`default via ${V6_GATEWAY} dev eth0`);
    const detected = JSON.parse(await ssh('anemos network detect --json'));
    const eth0 = Object.values(detected.interfaces as Record<string, {dhcp4: boolean; addresses: {address: string}[]}>)[0]!;
    expect(eth0.dhcp4).toBe(true);
    expect(eth0.addresses.map((a) => a.address)).toEqual(expect.arrayContaining(['10.0.2.15', V6]));
  });

  it('test-boot by the bootloader method (EFI GRUB, once): the deploy environment gets the address by DHCP and keeps the IPv6 address; its IPv6 gateway answers', async () => {
    const mark = vm.log().length;
    const r = await sshStatus('anemos test-boot --yes --config /root/bootloader.conf');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/grub-reboot anemos-deploy/);
    await vm.waitFor(/TEST MODE READY/, 600_000, mark);
    const inside = await ssh(`cat /proc/cmdline; ls /sys/firmware/efi/efivars | grep -c ^Boot; ip -4 -o addr show eth0; ip -6 -o addr show eth0 scope global; ip -6 route show default; ping -6 -c 1 -W 5 ${V6_GATEWAY} >/dev/null && echo V6-GATEWAY-ANSWERS`, 300_000);
    // BOOT_IMAGE is set by GRUB's linux command (kexec does not add it): EFI GRUB booted the one-shot entry.
    expect(inside).toMatch(/^BOOT_IMAGE=\/boot\/anemos\/vmlinuz .*anemos\.mode=test/);
    expect(inside).toMatch(/inet 10\.0\.2\.15\/24/);
    expect(vm.log().slice(mark)).toMatch(/eth0: DHCP lease obtained/);
    expect(inside).toContain(`inet6 ${V6}/64`);
    expect(inside).toContain(`default via ${V6_GATEWAY} dev eth0`);
    expect(inside).toContain('V6-GATEWAY-ANSWERS');
    await sshStatus('(sleep 1; reboot -f) >/dev/null 2>&1 &');
    await ssh('test ! -e /run/anemos', 300_000);
    // Once only: the provider booted again by itself through its own entry; next_entry is consumed.
    const after = await ssh('cat /proc/cmdline; grub-editenv list; efibootmgr | grep ^BootCurrent');
    expect(after).not.toMatch(/anemos/);
    expect(after).toMatch(/^BootCurrent: /m);
  }, 1_200_000);

  it('deploy (kexec): Debian 13 on a new GPT with an ESP, booted by the firmware through its own entry; the old entries are gone; DHCP for IPv4 and the same IPv6 address and route', async () => {
    const t0 = Date.now();
    const mark = vm.log().length;
    const r = await sshStatus('anemos deploy --yes');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Payload: packed the directory \/root\/image-payload/);
    // By the test's clock too (as test/e2e/deploy.test.ts): the hand-over's delay, the
    // provider's shutdown, the kexec and the deploy kernel's boot.
    const handedOver = Date.now();
    await vm.waitFor(/anemos: agent started/, 300_000, mark);
    timings['kexec → agent running'] = since(handedOver);
    await vm.waitFor(/DEPLOY SUCCEEDED/, 1_200_000, mark);
    Object.assign(timings, kexecTimeline(vm.log().slice(mark)));
    const codename = await waitForCodename(operator.priv, port, TARGET_SUITE, 600_000);
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
    // The firmware: the entry it booted is the new system's, on the new ESP; every entry that
    // names a GPT partition names one that exists; the old system's entries are gone.
    const uefi = await ssh("findmnt -n -o SOURCE,FSTYPE /boot/efi; findmnt -n -o SOURCE /; lsblk -no PARTUUID /dev/vda1; lsblk -rno PARTUUID /dev/vda | sed '/^$/d' | paste -sd,; efibootmgr -v");
    const [espMount, rootMount, newEsp, partuuids, ...entries] = uefi.trim().split('\n');
    expect(espMount).toMatch(/^\/dev\/vda1\s+vfat$/);
    expect(rootMount).toBe('/dev/vda2');
    expect(newEsp).not.toBe(oldEsp);
    const current = entries.find((l) => l.startsWith('BootCurrent:'))!.split(/:\s*/)[1];
    // The image has shim-signed: Debian's grub-install puts shim in front of GRUB (it boots with Secure Boot off too).
    expect(entries.find((l) => l.startsWith(`Boot${current}`)), uefi).toMatch(new RegExp(`\\* debian\\s+HD\\(1,GPT,${newEsp},.*\\\\EFI\\\\debian\\\\shimx64\\.efi`, 'i'));
    const named = entries.flatMap((l) => [...l.matchAll(/HD\(\d+,GPT,([0-9a-f-]{36}),/gi)].map((m) => m[1].toLowerCase()));
    expect(named.length).toBeGreaterThan(0);
    for (const g of named) expect(partuuids.split(','), uefi).toContain(g);
    expect(uefi).not.toMatch(/provider rescue/);
    expect(vm.log().slice(mark)).toMatch(/firmware boot entry removed: Boot[0-9A-F]{4} "provider rescue"/);
  }, 2_400_000);
});
