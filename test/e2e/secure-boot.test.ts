// Secure Boot as a provider's UEFI machine has it: OVMF with Secure Boot on and Microsoft's
// keys enrolled boots Debian 12 through shim (signed by Microsoft), Debian's signed GRUB and
// Debian's signed kernel, which then runs in lockdown (kexec_load refused; only a signed
// kernel through kexec_file_load). anemos sees it, refuses an unsigned deploy kernel before
// anything changes, loads Debian's signed one with "kexec -s", and the image payload
// installs Debian 13 with shim and signed GRUB, which boots with Secure Boot on.

import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {QEMU_MAC} from '../helpers/deploy-env.js';
import {bootProvider, endProviderE2e, imageDeployConf, imagePayload, providerSetup, secureBootFiles, TARGET_SUITE} from '../helpers/e2e-images.js';
import {startServer, type TestServer} from '../helpers/http-server.js';
import {kexecTimeline, type QemuOptions, type Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, sshRun, sshStatus as sshStatusOn, waitForCodename} from '../helpers/ssh.js';

const BUILD_ID = `sb-${process.pid}`;
const timings: Record<string, number> = {};
const since = (t0: number) => Number(((Date.now() - t0) / 1000).toFixed(1));

/** The same kernel with its Authenticode signature taken off (PE data directory 4 zeroed, the certificates cut). */
function unsigned(kernel: Buffer): Buffer {
  const pe = kernel.readUInt32LE(0x3c);
  const dir = pe + 24 + 112 + 4 * 8;
  const certs = kernel.readUInt32LE(dir);
  const out = Buffer.from(kernel.subarray(0, certs));
  out.writeUInt32LE(0, dir);
  out.writeUInt32LE(0, dir + 4);
  return out;
}

describe('Secure Boot: a provider in lockdown, the signed deploy kernel by kexec -s, Debian 13 booting with Secure Boot on', () => {
  let work: string;
  let server: TestServer;
  let vm: Vm;
  let port: number;
  let operator: {priv: string; pub: string};
  let fingerprint: string;

  const ssh = (command: string, timeoutMs = 120_000) => sshRun(operator.priv, port, command, timeoutMs);
  const sshStatus = (command: string) => sshStatusOn(operator.priv, port, command);

  beforeAll(async () => {
    const setup = await providerSetup('anemos-sb-', {uefi: true, secureBoot: await secureBootFiles()});
    ({work, operator} = setup);
    const {base, target, disk} = setup;

    server = await startServer({});
    const url = `http://10.0.2.2:${new URL(server.url).port}`;
    const payloadDir = imagePayload(work, `${url}/target.tar.zst`, target, BUILD_ID);
    const unsignedKernel = unsigned(readFileSync(base.kernel));
    writeFileSync(join(work, 'vmlinuz-unsigned'), unsignedKernel);
    for (const [path, file] of Object.entries({'/vmlinuz': base.kernel, '/vmlinuz-unsigned': join(work, 'vmlinuz-unsigned'), '/initramfs.cpio.zst': base.initramfs, '/target.tar.zst': target})) server.routes.set(path, {file});
    writeFileSync(join(work, 'anemos.conf'), imageDeployConf(url, base));
    writeFileSync(join(work, 'unsigned.conf'), imageDeployConf(url, base, {kernel: {path: 'vmlinuz-unsigned', file: join(work, 'vmlinuz-unsigned')}}));

    port = await freePort();
    const options: QemuOptions = {disks: [disk], memoryMb: 1024, serialLog: join(work, 'serial.log'), mac: QEMU_MAC, hostfwd: [`tcp:127.0.0.1:${port}-:22`], noReboot: false, uefiVars: join(work, 'OVMF_VARS.fd'), secureBoot: true};
    let seconds: number;
    const files = {'/etc/anemos.conf': join(work, 'anemos.conf'), '/root/unsigned.conf': join(work, 'unsigned.conf'), '/root/image-payload': payloadDir};
    ({vm, fingerprint, seconds} = await bootProvider(options, operator.priv, port, files, 300_000));
    timings['provider boot → SSH'] = seconds;
  }, 1_800_000);

  afterAll(() => endProviderE2e('Secure Boot', vm, server, timings, join(work, 'serial.log')));

  it('the provider runs in lockdown; inventory says Secure Boot is on; an unsigned deploy kernel is refused before anything changes', async () => {
    expect(vm.log()).toMatch(/Kernel is locked down from EFI Secure Boot/);
    const facts = await ssh('cat /sys/kernel/security/lockdown; cat /proc/sys/kernel/random/boot_id; anemos inventory');
    expect(facts).toMatch(/\[integrity\]/);
    expect(facts).toMatch(/^platform: UEFI, Secure Boot on$/m);
    expect(facts).toMatch(/^kexec: .*lockdown integrity/m);
    const bootId = facts.split('\n')[1];
    const r = await sshStatus('anemos deploy --yes --config /root/unsigned.conf');
    expect(r.code, r.out).toBe(4);
    expect(r.out).toMatch(/Secure Boot is on: only a signed kernel can be booted here, and the kernel from http:\/\/\S+\/vmlinuz-unsigned carries no signature\. Nothing was changed\./);
    expect(r.out).toMatch(/Use a kernel your distribution signed/);
    expect((await ssh('cat /sys/kernel/kexec_loaded; cat /proc/sys/kernel/random/boot_id')).split('\n').slice(0, 2)).toEqual(['0', bootId]);
  }, 600_000);

  it('deploy: the signed deploy kernel by kexec -s, the deploy environment in lockdown too; Debian 13 boots through shim with Secure Boot on and the same identity', async () => {
    const t0 = Date.now();
    const mark = vm.log().length;
    const r = await sshStatus('anemos deploy --yes');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/\$ kexec -s -l /);
    await vm.waitFor(/DEPLOY SUCCEEDED/, 1_500_000, mark);
    timings['deploy → payload done'] = since(t0);
    const deployed = vm.log().slice(mark);
    Object.assign(timings, kexecTimeline(deployed));
    // The deploy kernel itself came up locked down: Secure Boot held across kexec.
    expect(deployed).toMatch(/Kernel is locked down from EFI Secure Boot/);
    const codename = await waitForCodename(operator.priv, port, TARGET_SUITE, 900_000);
    timings['deploy → Debian 13 SSH'] = since(t0);
    expect(codename).toBe(TARGET_SUITE);
    const facts = await ssh("cat /etc/anemos-deployed; hostname; ip -4 -o addr show eth0; cat /sys/kernel/security/lockdown; od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c | awk '{print \"SecureBoot=\" $NF}'; efibootmgr -v");
    expect(facts).toContain(`build=${BUILD_ID}`);
    expect(facts).toMatch(/^provider$/m);
    expect(facts).toMatch(/inet 10\.0\.2\.15\/24/);
    expect(facts).toMatch(/\[integrity\]/);
    expect(facts).toMatch(/^SecureBoot=1$/m);
    const current = facts.match(/^BootCurrent: (\S+)/m)![1];
    expect(facts.split('\n').find((l) => l.startsWith(`Boot${current}`)), facts).toMatch(/\* debian\s+HD\(1,GPT,.*\\EFI\\debian\\shimx64\.efi/i);
    expect(await hostKeyFingerprint(port)).toBe(fingerprint);
  }, 2_400_000);
});
