// The deploy environment in QEMU (TCG): kernel + base initramfs + composed segments.
// Each case boots a VM and checks real state: SSH answers with the carried host key, the
// static address is configured, a payload writes the disk, and failures end as promised.

import {execFileSync} from 'node:child_process';
import {mkdtempSync, openSync, readSync, closeSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {composeEnv, ensureBase, firmwareTestModule, QEMU_MAC, qemuStaticNetwork, sha256, sshKeypair, tarPayload} from '../helpers/deploy-env.js';
import {EFI_VARIABLE, parseEfiVariable} from '../../src/core/last-deploy.js';
import {startServer} from '../helpers/http-server.js';
import {REPO} from '../helpers/kernel.js';
import {Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, sshRun} from '../helpers/ssh.js';
import {launchChromium, screenshot, signIn} from '../helpers/browser.js';
import {openEmbedded} from '../../src/adapters/db.js';
import {Registry} from '../../src/services/registry/registry.js';
import {createRegistryServer} from '../../src/services/registry/server.js';
import {autoServerTls} from '../../src/adapters/tls.js';
import {createServer as createHttpsServer} from 'node:https';

const MARKER = 'ANEMOS-PAYLOAD-WAS-HERE';

function readDisk(path: string, offset: number, length: number): string {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(length);
  readSync(fd, buf, 0, length, offset);
  closeSync(fd);
  return buf.toString('latin1');
}

// Each case bounds its own waits (up to 180 s for the machine to power off); the test's own
// timeout must be longer, or a slow, busy machine fails at vitest's 60 s default instead.
describe('deploy environment in QEMU', {timeout: 300_000}, () => {
  let work: string;
  let base: {kernel: string; initramfs: string; manifest: Record<string, any>};
  let operator: {priv: string; pub: string};
  let hostKey: {priv: string; pub: string};

  beforeAll(async () => {
    base = await ensureBase();
    work = mkdtempSync(join(tmpdir(), 'anemos-agent-'));
    operator = sshKeypair(work, 'operator');
    hostKey = sshKeypair(work, 'ssh_host_ed25519_key');
  });

  function blankDisk(name: string): string {
    const disk = join(work, `${name}.raw`);
    execFileSync('truncate', ['-s', '64M', disk]);
    return disk;
  }

  async function boot(name: string, initrd: string, opts: {disk?: string; port?: number; mode: string; uefiVars?: string; memoryMb?: number; extra?: string[]}): Promise<Vm> {
    return new Vm({
      kernel: base.kernel,
      initrd,
      append: `console=ttyS0,115200 anemos.mode=${opts.mode} panic=10 rootfstype=ramfs`,
      memoryMb: opts.memoryMb ?? 512,
      serialLog: join(work, `${name}.serial.log`),
      disks: opts.disk ? [opts.disk] : [],
      mac: QEMU_MAC,
      hostfwd: opts.port ? [`tcp:127.0.0.1:${opts.port}-:22`] : [],
      ...(opts.uefiVars ? {uefiVars: opts.uefiVars} : {}),
      ...(opts.extra ? {extra: opts.extra} : {}),
    });
  }

  const deployPayload = (script: string) => {
    const data = tarPayload(work, {deploy: {content: script, mode: 0o755}});
    return {payload: {file: 'payload.tar.gz', data}, sha: sha256(data)};
  };

  it('test mode: SSH with the carried host key, the static address from network.json, no disk writes', async () => {
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'test', config: {mode: 'test'}, authorizedKeys: [operator.pub], hostKeys: {ssh_host_ed25519_key: readFileSync(hostKey.priv)}});
    const port = await freePort();
    const disk = blankDisk('test');
    const vm = await boot('test', initrd, {mode: 'test', port, disk});
    try {
      await vm.waitFor(/TEST MODE READY/, 120_000);
      const out = await sshRun(operator.priv, port, 'ip -4 addr show eth0; ip route; hostname; cat /sys/block/vda/stat');
      expect(out).toContain('inet 10.0.2.15/24');
      expect(out).toMatch(/default via 10\.0\.2\.2 dev eth0/);
      expect(out).toContain('anemos-test');
      expect(out.trim().split('\n').at(-1)!.trim().split(/\s+/)[6]).toBe('0'); // sectors written
      const expected = execFileSync('ssh-keygen', ['-lf', `${hostKey.priv}.pub`], {encoding: 'utf8'}).split(' ')[1];
      expect(await hostKeyFingerprint(port)).toBe(expected);
    } finally {
      vm.kill();
    }
  });

  // Issue #12's goal: the agent on QuickJS runs a disk-writing payload to completion in 160 MiB (Node needed 288).
  it('deploy mode in 160 MiB of RAM: the payload writes the disk, then the machine reboots', async () => {
    const {payload, sha} = deployPayload(`#!/bin/sh\nset -e\necho "writing to $ANEMOS_DISK for $ANEMOS_HOSTNAME"\nprintf '${MARKER}' | dd of="$ANEMOS_DISK" bs=512 seek=1 conv=notrunc\nsync\n`);
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'deploy-ok', config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: sha}}, authorizedKeys: [operator.pub], payload});
    const disk = blankDisk('deploy-ok');
    const vm = await boot('deploy-ok', initrd, {mode: 'deploy', disk, memoryMb: 160});
    // -no-reboot: the agent's reboot ends QEMU.
    await vm.waitExit(180_000);
    expect(vm.log()).toMatch(/deploy: writing to \/dev\/vda for anemos-test/);
    expect(vm.log()).toMatch(/DEPLOY SUCCEEDED in [\d.]+ s: network [\d.]+ s, network check [\d.]+ s, ssh [\d.]+ s, payload verify/);
    expect(readDisk(disk, 512, MARKER.length)).toBe(MARKER);
  });

  it("reports to the registry over TLS with its deployment's own token and the registry's key pinned: a registry with another key gets nothing, the right one every event once, a NUL in payload output included", async () => {
    // The registry as anemos serve --tls auto makes it (a self-signed key in its data
    // directory), on this machine: the VM reaches it at QEMU's 10.0.2.2.
    const dir = join(work, 'registry');
    const registry = await Registry.open(await openEmbedded(dir));
    const tls = autoServerTls(dir, ['10.0.2.2']);
    const adminToken = (await registry.createToken({role: 'admin', note: 'alice'})).token;
    const ci = await registry.authenticate((await registry.createToken({role: 'operator', note: 'ci'})).token);
    const UUID = '6a1d3c2e-5b4f-4e8a-9c7d-0123456789ab';
    const deployment = 'dep-20261206T120000Z-vm000001';
    // What anemos deploy does before it composes: the deployment recorded, its token for config.json.
    const recorded = await registry.createDeployment({machine: {uuid: UUID, macs: [QEMU_MAC], hostname: 'anemos-test'}, id: deployment, mode: 'deploy', who: 'alice@ci', timeoutSeconds: 600}, ci);
    // Another server at the same address with a key of its own (what someone on the path would answer with).
    const impostorTls = autoServerTls(join(work, 'impostor'));
    let impostorRequests = 0;
    const impostor = createHttpsServer({key: impostorTls.key, cert: impostorTls.cert}, (_q, r) => (impostorRequests++, r.end('{}')));
    const server = createRegistryServer(registry, {version: 'test', tls: {key: tls.key, cert: tls.cert}});
    const port = await freePort();
    await new Promise<void>((r) => impostor.listen(port, '127.0.0.1', r));
    const {payload, sha} = deployPayload(`#!/bin/sh\nset -e\necho "payload running"\nprintf 'payload says a\\000b and \\377\\n'\nsleep 6\nprintf '${MARKER}' | dd of="$ANEMOS_DISK" bs=512 seek=1 conv=notrunc\nsync\n`);
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'report', config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: sha}, report: {url: `https://10.0.2.2:${port}`, token: recorded.token.token, deployment, pin: tls.pin}}, authorizedKeys: [operator.pub], payload});
    const disk = blankDisk('report');
    const vm = await boot('report', initrd, {
      mode: 'deploy',
      // What the inventory must find: the firmware's UUID and serial, the disk's serial.
      extra: ['-uuid', UUID, '-smbios', 'type=1,manufacturer=Anemos Test,product=Registry VM,serial=ANEMOS-VM-0001', '-drive', `file=${disk},format=raw,if=none,id=d0,cache=unsafe`, '-device', 'virtio-blk-pci,drive=d0,serial=ANMDISK0001'],
    });
    try {
      // The impostor's key is not the pinned one: the agent says so, keeps its events, and sends it nothing.
      await vm.waitFor(/registry https:\/\/10\.0\.2\.2:\d+ unreachable \(its key is not the pinned one/, 120_000);
      await new Promise((r) => impostor.close(r));
      impostor.closeAllConnections();
      expect(impostorRequests).toBe(0);
      // The registry comes up at that address; the deploy went on without it.
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      await vm.waitExit(180_000);
      expect(vm.log()).toMatch(/answers again: the queued events went to it/);
      expect(readDisk(disk, 512, MARKER.length)).toBe(MARKER);
      const m = await registry.getMachine(UUID);
      expect(m).toMatchObject({uuid: UUID, hostname: 'anemos-test', state: 'deployed', macs: [QEMU_MAC]});
      // The static address it was given (and, when QEMU's router advertisement came in time, a SLAAC one).
      expect(m.addresses).toEqual(expect.arrayContaining(['10.0.2.15/24']));
      expect(m.inventory!.system).toMatchObject({vendor: 'Anemos Test', product: 'Registry VM', serial: 'ANEMOS-VM-0001', uuid: UUID, firmware: 'bios'});
      expect(m.inventory!.disks).toEqual([expect.objectContaining({name: 'vda', serial: 'ANMDISK0001', sizeBytes: 64 * 1048576})]);
      expect(m.inventory!.nics).toEqual([expect.objectContaining({mac: QEMU_MAC, driver: 'virtio_net', link: 'up'})]);
      expect(m.inventory!.memory.dimms.reduce((n, d) => n + d.sizeBytes, 0)).toBe(512 * 1048576); // SMBIOS type 17, as QEMU describes its RAM
      expect(m.inventory!.gathered.where).toBe('deploy-environment');
      const d = await registry.deployment(deployment);
      expect(d).toMatchObject({id: deployment, mode: 'deploy', who: 'alice@ci', outcome: 'succeeded'});
      // Every event from the first, none lost or twice: 1, 2, 3, ... up to the outcome and after.
      const events = (await registry.events(deployment)).events;
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual(Array.from({length: seqs.length}, (_, i) => i + 1));
      expect(events[0]!.msg).toMatch(/^agent started/);
      expect(events.map((e) => e.msg)).toEqual(expect.arrayContaining([expect.stringMatching(/^deploy: payload running$/), expect.stringMatching(/^deploy: payload says a.b and /), expect.stringMatching(/^DEPLOY SUCCEEDED/)]));
      // The deployment's token: accepted while it ran, ending with it (a grace period after the outcome).
      const [t] = (await registry.listTokens({kind: 'deployment'})).items;
      expect(Date.parse(t!.expiresAt!) - Date.now()).toBeLessThanOrEqual(900_000);
      // What an operator sees in the web UI, in Chromium, over the same TLS.
      const url = `https://127.0.0.1:${port}`;
      const browser = await launchChromium();
      try {
        const page = await (await browser.newContext({ignoreHTTPSErrors: true, viewport: {width: 1280, height: 900}})).newPage();
        await signIn(page, url, adminToken);
        await page.click('a:text("anemos-test")');
        await screenshot(page, 'registry-vm-deploy');
        expect(await page.locator('#inventory').innerText()).toMatch(/Anemos Test Registry VM[\s\S]*ANEMOS-VM-0001[\s\S]*serial ANMDISK0001[\s\S]*10\.0\.2\.15\/24/);
        expect(await page.locator('#deployments ol.timeline li').last().innerText()).toMatch(/rebooting|DEPLOY SUCCEEDED|outcome/);
        expect(await page.locator('#deployments summary').innerText()).toMatch(/^succeeded · deploy/);
      } finally {
        await browser.close();
      }
    } finally {
      vm.kill();
      impostor.close();
      await new Promise((r) => server.close(r));
      await registry.db.close();
    }
  });

  it('firmware: a file of the firmware segment is what the kernel loads when a driver asks for it', async () => {
    // A module built for the base kernel calls request_firmware("anemos/fwtest.bin") at load,
    // as a NIC or HBA driver asks for its microcode; the payload loads it. The file exists
    // only in the firmware segment, composed the way anemos deploy appends the host's firmware.
    const content = `firmware from the segment ${process.pid}`;
    const data = tarPayload(work, {
      deploy: {content: '#!/bin/sh\nset -e\ninsmod ./anemos_fwtest.ko\ndmesg | grep anemos-fwtest\n', mode: 0o755},
      'anemos_fwtest.ko': {content: firmwareTestModule(work, base.manifest.kernel.version)},
    });
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'firmware', config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: sha256(data)}}, authorizedKeys: [operator.pub], payload: {file: 'payload.tar.gz', data}, firmware: [{path: 'anemos/fwtest.bin', data: Buffer.from(content)}]});
    const vm = await boot('firmware', initrd, {mode: 'deploy', disk: blankDisk('firmware')});
    await vm.waitExit(180_000);
    // The kernel's own line (its firmware loader), then the module's with the bytes it got.
    expect(vm.log()).toMatch(/platform anemos-fwtest: firmware: direct-loading firmware anemos\/fwtest\.bin/);
    expect(vm.log()).toContain(`anemos-fwtest: loaded anemos/fwtest.bin, ${content.length} bytes: ${content}`);
    expect(vm.log()).toMatch(/DEPLOY SUCCEEDED/);
  });

  it('failure before any disk write: reboots so the old system comes back, disk untouched', async () => {
    const {payload, sha} = deployPayload('#!/bin/sh\necho "checking something"; exit 3\n');
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'fail-early', config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: sha}}, authorizedKeys: [operator.pub], payload});
    const disk = blankDisk('fail-early');
    const vm = await boot('fail-early', initrd, {mode: 'deploy', disk});
    await vm.waitExit(180_000);
    expect(vm.log()).toMatch(/DEPLOY FAILED: \.\/deploy exited with code 3/);
    expect(vm.log()).toMatch(/no disk was written, so the old system is intact: rebooting/);
    expect(readDisk(disk, 0, 4096)).toBe('\0'.repeat(4096));
  });

  it('UEFI (OVMF): a failure before writing leaves its reason in an EFI variable, and the next boot reads it there', async () => {
    // The firmware's variable store is a file of its own: it outlives the reboot as NVRAM does.
    const vars = join(work, 'OVMF_VARS_4M.fd');
    const {payload, sha} = deployPayload('#!/bin/sh\necho "the firmware store is where this ends up"; exit 3\n');
    const failing = await composeEnv({dir: work, base: base.initramfs, name: 'uefi-fail', config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: sha}}, authorizedKeys: [operator.pub], payload});
    const first = await boot('uefi-fail', failing, {mode: 'deploy', disk: blankDisk('uefi-fail'), uefiVars: vars});
    await first.waitExit(240_000);
    expect(first.log()).toMatch(new RegExp(`outcome kept for "anemos status" on the next system: EFI variable ${EFI_VARIABLE}`));
    // The next boot (the test environment here; the old system on a real machine) finds it.
    const port = await freePort();
    const next = await boot('uefi-next', await composeEnv({dir: work, base: base.initramfs, name: 'uefi-next', config: {mode: 'test'}, authorizedKeys: [operator.pub]}), {mode: 'test', port, uefiVars: vars});
    try {
      await next.waitFor(/TEST MODE READY/, 180_000);
      const bytes = Buffer.from(await sshRun(operator.priv, port, `base64 -w0 /sys/firmware/efi/efivars/${EFI_VARIABLE}`), 'base64');
      const rec = parseEfiVariable(bytes);
      expect(rec).toMatchObject({outcome: 'failed', action: 'reboot', written: [], step: 'payload run', msg: 'DEPLOY FAILED: ./deploy exited with code 3.'});
      expect(rec!.log.join('\n')).toMatch(/deploy: the firmware store is where this ends up/);
    } finally {
      next.kill();
    }
  });

  it('a payload whose sha256 does not match is refused, and the machine reboots untouched', async () => {
    const {payload} = deployPayload('#!/bin/sh\nprintf x | dd of="$ANEMOS_DISK" conv=notrunc\n');
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'bad-sha', config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: 'a'.repeat(64)}}, authorizedKeys: [operator.pub], payload});
    const disk = blankDisk('bad-sha');
    const vm = await boot('bad-sha', initrd, {mode: 'deploy', disk});
    await vm.waitExit(180_000);
    expect(vm.log()).toMatch(/payload does not match its sha256 \(expected a{64}, got [0-9a-f]{64}\)/);
    expect(readDisk(disk, 0, 512)).toBe('\0'.repeat(512));
  });

  it('a payload that allocates beyond RAM: told as out of memory on the console and in events.jsonl; the agent and SSH survive', async () => {
    // dd's 200 MiB buffer, filled: more than a 256 MiB machine has left beside the deploy environment.
    const {payload, sha} = deployPayload('#!/bin/sh\necho "allocating"\ndd if=/dev/zero of=/dev/null bs=200M count=1\n');
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'oom', config: {mode: 'deploy', disk: '/dev/vda', on_failure: 'stay', payload: {file: 'payload.tar.gz', sha256: sha}}, authorizedKeys: [operator.pub], payload});
    const port = await freePort();
    const vm = await boot('oom', initrd, {mode: 'deploy', disk: blankDisk('oom'), port, memoryMb: 256});
    try {
      await vm.waitFor(/staying up so you can repair/, 180_000);
      expect(vm.log()).toMatch(/Out of memory: Killed process \d+ \(dd\)/);
      expect(vm.log()).toMatch(/DEPLOY FAILED: \.\/deploy ran out of memory: the kernel's out-of-memory killer stopped dd \(pid \d+, \d+ MiB\)\. This machine has \d+ MiB of RAM/);
      const events = (await sshRun(operator.priv, port, 'cat /run/anemos/events.jsonl')).trim().split('\n').map((l) => JSON.parse(l));
      expect(events.find((e) => e.outcome === 'failed')).toMatchObject({action: 'stay', written: [], msg: expect.stringMatching(/ran out of memory: the kernel's out-of-memory killer stopped dd/)});
    } finally {
      vm.kill();
    }
  });

  it('failure after a disk write, with /run filled by the payload: stays up, reachable over SSH, says what failed, and its log and events go on to the outcome', async () => {
    // /run is the tmpfs the payload is unpacked into and the agent logs to: the payload fills it before it fails.
    // It goes on talking once /run is full: each line is a line of the agent's log, which must then give up its reserve.
    const {payload, sha} = deployPayload(`#!/bin/sh\nprintf 'half-done' | dd of="$ANEMOS_DISK" bs=512 seek=2 conv=notrunc\nsync\ndd if=/dev/zero of=/run/fill bs=1M 2>/dev/null\ni=0; while [ $i -lt 300 ]; do echo "still talking after the fill, line $i of 300, with some words to make it long"; i=$((i+1)); done\necho "mkfs exploded" >&2\nexit 1\n`);
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'fail-late', config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: sha}}, authorizedKeys: [operator.pub], payload});
    const port = await freePort();
    const vm = await boot('fail-late', initrd, {mode: 'deploy', disk: blankDisk('fail-late'), port});
    try {
      await vm.waitFor(/Disks were written \(vda\): staying up/, 180_000);
      expect(vm.log()).toMatch(/deploy: mkfs exploded/);
      expect(vm.log()).toMatch(/\/run\/anemos is full \(.*\): the log's reserve was given up/);
      expect(vm.log()).not.toMatch(/the agent exited|Starting a shell/);
      const out = await sshRun(operator.priv, port, 'grep -c "DEPLOY FAILED" /run/anemos/deploy.log; tail -n 1 /run/anemos/events.jsonl; grep -c \'"outcome":"failed"\' /run/anemos/events.jsonl; df -P /run | tail -n 1');
      const [failed, last, outcome, df] = out.trim().split('\n');
      expect(failed).toBe('1');
      expect(JSON.parse(last!)).toMatchObject({level: 'error', msg: expect.stringMatching(/staying up/)});
      expect(outcome).toBe('1');
      expect(df).toMatch(/ 100% \/run$/);
    } finally {
      vm.kill();
    }
  });

  it('payloads/image streamed to the disk (IMAGE_IN_RAM=no): a sha256 mismatch found on the way stops before the bootloader; the disk was written, so it stays up', async () => {
    // A small root filesystem tarball served over HTTP, and image.conf naming another sha256.
    const rootfs = join(work, 'rootfs');
    execFileSync('sh', ['-c', `mkdir -p ${rootfs}/boot ${rootfs}/etc && head -c 2000000 /dev/urandom > ${rootfs}/boot/vmlinuz-x && echo ID=debian > ${rootfs}/etc/os-release`]);
    const image = execFileSync('tar', ['-czf', '-', '-C', rootfs, '.'], {maxBuffer: 16 << 20});
    const server = await startServer({'/rootfs.tar.gz': {body: image}});
    try {
      const conf = [`IMAGE_URL=http://10.0.2.2:${new URL(server.url).port}/rootfs.tar.gz`, `IMAGE_SHA256=${'1'.repeat(64)}`, 'IMAGE_KIND=rootfs', 'IMAGE_IN_RAM=no', ''].join('\n');
      const data = tarPayload(work, {deploy: {content: readFileSync(join(REPO, 'payloads', 'image', 'deploy')), mode: 0o755}, 'image.conf': {content: conf}});
      const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'stream-bad', config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: sha256(data)}}, authorizedKeys: [operator.pub], payload: {file: 'payload.tar.gz', data}});
      const disk = blankDisk('stream-bad');
      const vm = await boot('stream-bad', initrd, {mode: 'deploy', disk});
      try {
        await vm.waitFor(/Disks were written \(vda\): staying up/, 180_000);
        const log = vm.log();
        expect(log).toMatch(/image: == stream http:\/\/10\.0\.2\.2:\d+\/rootfs\.tar\.gz to the disk/);
        expect(log).toContain(`image: sha256 mismatch for http://10.0.2.2:${new URL(server.url).port}/rootfs.tar.gz while streaming it to /dev/vda: expected ${'1'.repeat(64)}, got ${sha256(image)}; the disk has been written`);
        expect(log).not.toMatch(/== bootloader/);
        // What reached the disk: the partition table and the unpacked file system, not only a download in RAM.
        expect(readDisk(disk, 510, 2)).toBe('\x55\xaa');
      } finally {
        vm.kill();
      }
    } finally {
      await server.close();
    }
  });

  it('network gate: an unreachable gateway makes the agent reboot before the payload runs', async () => {
    const {payload, sha} = deployPayload('#!/bin/sh\nprintf x | dd of="$ANEMOS_DISK" conv=notrunc\n');
    const initrd = await composeEnv({
      dir: work,
      base: base.initramfs,
      name: 'gate',
      config: {mode: 'deploy', disk: '/dev/vda', network_timeout: 6, payload: {file: 'payload.tar.gz', sha256: sha}},
      network: qemuStaticNetwork({gateway: '10.0.2.99'}),
      authorizedKeys: [operator.pub],
      payload,
    });
    const disk = blankDisk('gate');
    const vm = await boot('gate', initrd, {mode: 'deploy', disk});
    await vm.waitExit(180_000);
    expect(vm.log()).toMatch(/The network did not pass its check within 6 s: no gateway answered \(10\.0\.2\.99\)/);
    expect(vm.log()).not.toMatch(/payload run: start/);
    expect(readDisk(disk, 0, 512)).toBe('\0'.repeat(512));
  });

  it('network gate: a check_url that answers an error keeps the payload from running; one that answers lets it run', async () => {
    const server = await startServer({'/ok': {body: Buffer.from('ok')}});
    const url = (path: string) => `http://10.0.2.2:${new URL(server.url).port}${path}`;
    try {
      const {payload, sha} = deployPayload('#!/bin/sh\necho "payload ran"\n');
      const compose = (name: string, path: string) =>
        composeEnv({dir: work, base: base.initramfs, name, config: {mode: 'deploy', disk: '/dev/vda', network_timeout: 4, check_url: url(path), payload: {file: 'payload.tar.gz', sha256: sha}}, authorizedKeys: [operator.pub], payload});
      const bad = await boot('check-url-404', await compose('check-url-404', '/missing'), {mode: 'deploy', disk: blankDisk('check-url-404')});
      await bad.waitExit(180_000);
      expect(bad.log()).toMatch(new RegExp(`The network did not pass its check within 4 s: ${url('/missing').replace(/[.?]/g, '\\$&')} answered: ERROR 404: Not Found\\.`));
      // Each retry failed alike: said once.
      expect(bad.log().match(/WARN: network check:/g)).toHaveLength(1);
      expect(bad.log()).not.toMatch(/payload run: start/);
      const good = await boot('check-url-ok', await compose('check-url-ok', '/ok'), {mode: 'deploy', disk: blankDisk('check-url-ok')});
      await good.waitExit(180_000);
      expect(good.log()).toMatch(/deploy: payload ran/);
      expect(server.requests.map((q) => q.path)).toContain('/ok');
    } finally {
      await server.close();
    }
  });

  it('DHCP where the host used it: udhcpc gets the lease from QEMU', async () => {
    const net = qemuStaticNetwork();
    const iface = net.interfaces[QEMU_MAC];
    net.interfaces[QEMU_MAC] = {...iface, dhcp4: true, addresses: [{...iface.addresses[0], dynamic: true}], routes: [{...iface.routes[0], dynamic: true}]};
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'dhcp', config: {mode: 'test'}, network: net, authorizedKeys: [operator.pub]});
    const port = await freePort();
    const vm = await boot('dhcp', initrd, {mode: 'test', port});
    try {
      await vm.waitFor(/TEST MODE READY/, 120_000);
      expect(vm.log()).toMatch(/eth0: DHCP lease obtained/);
      expect(await sshRun(operator.priv, port, 'ip -4 addr show eth0; cat /etc/resolv.conf')).toMatch(/inet 10\.0\.2\.15\/24[\s\S]*nameserver 10\.0\.2\.3/);
    } finally {
      vm.kill();
    }
  });

  it('a payload that hangs past deploy.timeout is stopped; nothing written, so it reboots', async () => {
    const {payload, sha} = deployPayload('#!/bin/sh\necho "waiting for something that never comes"\nsleep 600\n');
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'hang', config: {mode: 'deploy', disk: '/dev/vda', timeout: 5, payload: {file: 'payload.tar.gz', sha256: sha}}, authorizedKeys: [operator.pub], payload});
    const vm = await boot('hang', initrd, {mode: 'deploy', disk: blankDisk('hang')});
    await vm.waitExit(180_000);
    expect(vm.log()).toMatch(/ran longer than deploy\.timeout \(5 s\) and was stopped/);
    expect(vm.log()).toMatch(/no disk was written, so the old system is intact: rebooting/);
  });

  it('no interface with the MAC from network.json: says which interfaces exist, reboots', async () => {
    const net = qemuStaticNetwork();
    const iface = net.interfaces[QEMU_MAC];
    const initrd = await composeEnv({
      dir: work,
      base: base.initramfs,
      name: 'no-mac',
      config: {mode: 'deploy', disk: '/dev/vda', payload: {file: 'payload.tar.gz', sha256: 'a'.repeat(64)}},
      network: {...net, interfaces: {'52:54:00:99:99:99': {...iface, mac: '52:54:00:99:99:99'}}},
      authorizedKeys: [operator.pub],
    });
    const vm = await boot('no-mac', initrd, {mode: 'deploy', disk: blankDisk('no-mac')});
    await vm.waitExit(180_000);
    expect(vm.log()).toMatch(/No interface has the MAC\(s\) in network\.json \(52:54:00:99:99:99\); interfaces here: eth0 52:54:00:12:34:56/);
    expect(vm.log()).toMatch(/rebooting/);
  });

  it('a malformed config.json is reported and the machine reboots untouched', async () => {
    const initrd = await composeEnv({dir: work, base: base.initramfs, name: 'bad-config', config: {mode: 'deploy', timeout: 0}, authorizedKeys: [operator.pub]});
    const vm = await boot('bad-config', initrd, {mode: 'deploy', disk: blankDisk('bad-config')});
    await vm.waitExit(120_000);
    expect(vm.log()).toMatch(/anemos\/config\.json is invalid: payload\.file and payload\.sha256 are required in deploy mode; timeout and network_timeout must be positive/);
    expect(vm.log()).toMatch(/no disk was written, so the old system is intact: rebooting/);
  });
});
