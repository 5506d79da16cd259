// The product's claim, lived as a user lives it: a Debian 12 server (QEMU, BIOS GRUB,
// static network, systemd) runs "anemos deploy" over SSH, kexecs into the deploy
// environment, re-images its own disk with the image payload, and boots Debian 13 from
// its own disk and bootloader, with the same address, hostname and SSH host key.
// Before that, on the same server: a bad checksum is refused, a payload that fails
// before writing brings the old system back, and test-boot lets us look around.

import {execFileSync} from 'node:child_process';
import {cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ensureBase, QEMU_MAC, sha256, sshKeypair} from '../helpers/deploy-env.js';
import {E2E_CACHE, PROVIDER_PACKAGES, providerDisk, rootfsTarball, TARGET_SUITE, targetTarball} from '../helpers/e2e-images.js';
import {startServer, type TestServer} from '../helpers/http-server.js';
import {CLI, REPO} from '../helpers/kernel.js';
import {kexecTimeline, keptPath, Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, scpTo, sshRun, sshStatus as sshStatusOn, waitForCodename} from '../helpers/ssh.js';

const BUILD_ID = `e2e-${process.pid}`;
const timings: Record<string, number> = {};
/** scripts/demo.sh sets ANEMOS_E2E_VERBOSE: say what happens as it happens. */
const say = (line: string) => process.env.ANEMOS_E2E_VERBOSE && process.stderr.write(`[demo] ${line}\n`);
/** In the demo, what "anemos deploy" printed on the provider, as the operator saw it. */
const shown = (r: {code: number; out: string}) => {
  if (process.env.ANEMOS_E2E_VERBOSE) process.stderr.write(`${r.out.trimEnd().split('\n').map((l) => `[demo]   | ${l}`).join('\n')}\n[demo]   (exit ${r.code})\n`);
  return r;
};

describe('a Debian server re-images itself with anemos deploy', () => {
  let work: string;
  let server: TestServer;
  let vm: Vm;
  let port: number;
  let operator: {priv: string; pub: string};
  let confs: Record<string, string>;
  let providerFingerprint: string;
  let disk: string;

  const ssh = (command: string, timeoutMs = 120_000) => sshRun(operator.priv, port, command, timeoutMs);
  const scp = (src: string, dest: string) => scpTo(operator.priv, port, src, dest);
  const bootId = () => ssh('cat /proc/sys/kernel/random/boot_id').then((s) => s.trim());
  const since = (t0: number) => Number(((Date.now() - t0) / 1000).toFixed(1));

  /** Run a command on the provider; exit code and output, never throws on failure (helpers/ssh.ts). */
  const sshStatus = (command: string, connectWithinMs = 120_000) => sshStatusOn(operator.priv, port, command, connectWithinMs);

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'anemos-e2e-'));
    mkdirSync(E2E_CACHE, {recursive: true});
    operator = sshKeypair(E2E_CACHE, 'operator');
    say('building the base initramfs, the provider (Debian 12) and the target (Debian 13) root filesystems (cached)');
    const base = await ensureBase();
    const provider = await rootfsTarball('bookworm', PROVIDER_PACKAGES, 'tar');
    const target = await targetTarball();
    disk = join(work, 'provider.raw');
    // A sparse copy: the cached 3 GiB disk holds ~0.5 GiB of data, and a plain copy writes all 3.
    // ramoops in 1 MiB set aside at 768 MiB (GRUB puts the initrd near the top of the 1 GiB):
    // the kernel log of a failed deploy survives the warm reboot into the provider.
    execFileSync('cp', ['--sparse=always', await providerDisk(provider, `${operator.priv}.pub`, {ramoops: '0x30000000'}), disk]);

    // Payloads: the real image payload from payloads/, configured for this target; and one that fails early.
    const targetSha = sha256(readFileSync(target));
    server = await startServer({});
    const payloadDir = join(work, 'image-payload');
    cpSync(join(REPO, 'payloads', 'image'), payloadDir, {recursive: true});
    writeFileSync(
      join(payloadDir, 'image.conf'),
      [`IMAGE_URL=http://10.0.2.2:${new URL(server.url).port}/target.tar.zst`, `IMAGE_SHA256=${targetSha}`, 'IMAGE_KIND=rootfs', 'ROOT_FS=ext4', 'NETWORK_FORMAT=auto', `IMAGE_BUILD_ID=${BUILD_ID}`, ''].join('\n'),
    );
    const pack = (dir: string, out: string) => JSON.parse(execFileSync(CLI, ['payload', 'pack', dir, '-o', out, '--json'], {encoding: 'utf8'})).sha256 as string;
    const imageSha = pack(payloadDir, join(work, 'image.tar.gz'));
    const failDir = join(work, 'fail-payload');
    mkdirSync(failDir);
    writeFileSync(join(failDir, 'deploy'), '#!/bin/sh\necho "checking the disk before touching it: not good"; exit 4\n', {mode: 0o755});
    const failSha = pack(failDir, join(work, 'fail.tar.gz'));

    for (const [path, file] of Object.entries({'/vmlinuz': base.kernel, '/initramfs.cpio.zst': base.initramfs, '/target.tar.zst': target, '/image.tar.gz': join(work, 'image.tar.gz'), '/fail.tar.gz': join(work, 'fail.tar.gz')})) {
      server.routes.set(path, {file});
    }
    const url = `http://10.0.2.2:${new URL(server.url).port}`;
    const conf = (payload: string, payloadSha: string, extra = '') =>
      [
        `kernel: {url: ${url}/vmlinuz, sha256: ${sha256(readFileSync(base.kernel))}}`,
        `initramfs: {url: ${url}/initramfs.cpio.zst, sha256: ${sha256(readFileSync(base.initramfs))}}`,
        `payload: {url: ${url}/${payload}, sha256: ${payloadSha}}`,
        'deploy: {disk: /dev/vda, timeout: 20m, network_timeout: 60s}',
        extra,
      ].join('\n');
    confs = {
      image: conf('image.tar.gz', imageSha),
      fail: conf('fail.tar.gz', failSha),
      mismatch: conf('image.tar.gz', 'f'.repeat(64)),
    };
    for (const [name, text] of Object.entries(confs)) writeFileSync(join(work, `${name}.conf`), text);

    port = await freePort();
    say(`booting the provider VM (BIOS, GRUB, static 10.0.2.15) with SSH on 127.0.0.1:${port}; serial log ${join(work, 'serial.log')} (kept after the run as ${keptPath(join(work, 'serial.log'))})`);
    const t0 = Date.now();
    vm = new Vm({disks: [disk], memoryMb: 1024, serialLog: join(work, 'serial.log'), mac: QEMU_MAC, hostfwd: [`tcp:127.0.0.1:${port}-:22`], noReboot: false});
    await ssh('true', 180_000);
    timings['provider boot → SSH'] = since(t0);
    say(`provider answers SSH after ${timings['provider boot → SSH']} s; copying dist/anemos.cjs to /usr/local/bin/anemos`);
    await scp(CLI, '/usr/local/bin/anemos');
    providerFingerprint = await hostKeyFingerprint(port);
  }, 1_200_000);

  afterAll(async () => {
    vm?.kill();
    await server?.close();
    if (Object.keys(timings).length) {
      writeFileSync(join(E2E_CACHE, 'timings.json'), JSON.stringify(timings, null, 2) + '\n');
      process.stderr.write(`e2e timings (s): ${JSON.stringify(timings)}\nserial log (kept after the run): ${keptPath(join(work, 'serial.log'))}\n`);
    }
  });

  it('refuses a payload whose sha256 does not match, before kexec; the server stays up', async () => {
    const before = await bootId();
    await scp(join(work, 'mismatch.conf'), '/etc/anemos.conf');
    say('1/4 anemos deploy with a wrong payload sha256: must be refused before kexec');
    const r = shown(await sshStatus('anemos deploy --yes'));
    expect(r.code).toBe(5);
    expect(r.out).toMatch(/does not match its sha256[\s\S]*expected: f{64}/);
    expect(await bootId()).toBe(before);
    expect((await sshStatus('cat /sys/kernel/kexec_loaded')).out.trim()).toBe('0');
  }, 300_000);

  it('a payload that fails before writing: the agent reboots and the provider Debian comes back unchanged', async () => {
    const before = await bootId();
    await scp(join(work, 'fail.conf'), '/etc/anemos.conf');
    say('2/4 anemos deploy with a payload that fails before writing: the provider must come back');
    const r = shown(await sshStatus('anemos deploy --yes'));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/The deploy environment starts in 3 s/);
    expect(r.out).toMatch(/After the reboot: if the deploy fails, its outcome and last log lines reach pstore \(ramoops\)/);
    await vm.waitFor(/no disk was written, so the old system is intact: rebooting/, 300_000);
    await ssh('true', 300_000);
    expect(await bootId()).not.toBe(before);
    expect((await ssh('cat /etc/provider-marker; . /etc/os-release; echo $VERSION_CODENAME')).trim().split('\n')).toEqual(['provider-image', 'bookworm']);
    expect(vm.log()).toMatch(/deploy: checking the disk before touching it: not good/);
    // The reason came back with the old system: ramoops kept the deploy kernel's log.
    const status = await sshStatus('anemos status --json');
    expect(status.code, status.out).toBe(0);
    const last = JSON.parse(status.out).lastDeploy;
    expect(last, status.out).toMatchObject({outcome: 'failed', action: 'reboot', written: [], step: 'payload run', source: expect.stringMatching(/pstore.*dmesg-ramoops/)});
    expect(last.log.join('\n')).toMatch(/deploy: checking the disk before touching it: not good/);
    expect((await sshStatus('anemos status')).out).toMatch(/^Last deploy: FAILED in step "payload run"; no disk was written, so it rebooted into the old system/);
    // Read, then cleared: the next status has nothing to show.
    expect((await sshStatus('anemos status --clear')).out).toMatch(/Removed: \/var\/lib\/systemd\/pstore\/(\S+\/)?dmesg-ramoops-\d+/);
    expect(JSON.parse((await sshStatus('anemos status --json')).out).lastDeploy).toBeNull();
  }, 900_000);

  it('test-boot: SSH into the deploy environment, see the disk, reboot back to the provider', async () => {
    await scp(join(work, 'fail.conf'), '/etc/anemos.conf');
    const mark = vm.log().length;
    say('3/4 anemos test-boot: SSH into the deploy environment, then reboot back');
    const r = shown(await sshStatus('anemos test-boot --yes'));
    expect(r.code, r.out).toBe(0);
    await vm.waitFor(/TEST MODE READY/, 300_000);
    expect(vm.log().slice(mark)).toMatch(/host keys: carried/);
    const inside = await ssh('cat /proc/cmdline; cat /proc/partitions; ip -4 addr show eth0', 120_000);
    expect(inside).toMatch(/anemos\.mode=test/);
    expect(inside).toMatch(/vda1/);
    expect(inside).toMatch(/inet 10\.0\.2\.15\/24/);
    expect(await hostKeyFingerprint(port)).toBe(providerFingerprint);
    // The session dies with the machine; detach the reboot so the command returns first.
    await sshStatus('(sleep 1; reboot -f) >/dev/null 2>&1 &');
    await ssh('test -e /etc/provider-marker', 300_000);
  }, 900_000);

  it('deploy: kexec, the image payload, and Debian 13 boots from its own disk with the same identity', async () => {
    await scp(join(work, 'image.conf'), '/etc/anemos.conf');
    const before = (await ssh('. /etc/os-release; echo $VERSION_CODENAME')).trim();
    expect(before).toBe('bookworm');
    say('4/4 anemos deploy with the image payload: Debian 12 → Debian 13 on the same disk');
    let t = Date.now();
    const mark = vm.log().length;
    const r = shown(await sshStatus('anemos deploy --yes'));
    expect(r.code, r.out).toBe(0);
    timings['anemos deploy until kexec'] = since(t);
    say(`anemos deploy fetched, composed and loaded in ${timings['anemos deploy until kexec']} s; kexec in 3 s`);
    t = Date.now();
    await vm.waitFor(/anemos: agent started/, 300_000, mark);
    timings['kexec → agent running'] = since(t);
    say(`agent running ${timings['kexec → agent running']} s later; payload: download, partition, unpack, GRUB`);
    t = Date.now();
    await vm.waitFor(/DEPLOY SUCCEEDED/, 1_200_000, mark);
    timings['network + payload'] = since(t);
    const timeline = kexecTimeline(vm.log().slice(mark));
    say(`where the kexec went: ${JSON.stringify(timeline)}`);
    say(`payload done in ${timings['network + payload']} s; rebooting into the new system`);
    t = Date.now();
    // The new system: wait until SSH answers from Debian 13.
    const codename = await waitForCodename(operator.priv, port, TARGET_SUITE, 600_000);
    timings['reboot → new system SSH'] = since(t);
    expect(codename).toBe(TARGET_SUITE);
    timings.total = Number(Object.entries(timings).filter(([k]) => k !== 'provider boot → SSH').reduce((a, [, v]) => a + v, 0).toFixed(1));
    Object.assign(timings, timeline);
    say(`Debian 13 answers SSH ${timings['reboot → new system SSH']} s after the reboot`);
    const facts = await ssh('cat /etc/anemos-deployed; hostname; ip -4 -o addr show; test -e /etc/provider-marker && echo OLD-MARKER || echo no-old-marker; cat /proc/cmdline; findmnt -n -o SOURCE /');
    expect(facts).toContain(`build=${BUILD_ID}`);
    expect(facts).toMatch(/^provider$/m);
    expect(facts).toMatch(/inet 10\.0\.2\.15\/24/);
    expect(facts).toContain('no-old-marker');
    expect(facts).toMatch(/console=ttyS0,115200/);
    expect(facts).toMatch(/\/dev\/vda1/);
    expect(await hostKeyFingerprint(port)).toBe(providerFingerprint);
    const log = vm.log();
    expect(log).toMatch(/image: == bootloader/);
    expect(log).toMatch(/Installation finished\. No error reported\./);
    say(`same address, hostname and SSH host key; /etc/anemos-deployed says build=${BUILD_ID}`);
  }, 2_400_000);
});
