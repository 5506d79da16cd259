// anemos deploy --host, as a CI job or an operator's laptop uses it: this machine is the
// workstation, a QEMU VM is the server. The server is a stock Debian 12 (GRUB as Debian
// installs it, curl, sshd) without Node, without kexec-tools and without anything of
// anemos: facts are read over SSH, the host downloads kernel and base itself, the boot
// goes through the one-shot GRUB entry (no kexec there), and the workstation follows the
// events to a verdict. Host keys are checked against a known_hosts file, as a CI job pins them.

import {execFile, execFileSync, spawn} from 'node:child_process';
import type {AddressInfo} from 'node:net';
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {ensureBase, QEMU_MAC, sha256, sshKeypair} from '../helpers/deploy-env.js';
import {DEBIAN_GRUB_SETUP, E2E_CACHE, providerDisk, rootfsTarball, STOCK_PROVIDER_PACKAGES, TARGET_SUITE, targetTarball} from '../helpers/e2e-images.js';
import {startServer, type TestServer} from '../helpers/http-server.js';
import {CLI, REPO} from '../helpers/kernel.js';
import {keptPath, Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, sshArgs, sshRun} from '../helpers/ssh.js';
import {openEmbedded} from '../../src/adapters/db.js';
import {Registry} from '../../src/services/registry/registry.js';
import {createRegistryServer} from '../../src/services/registry/server.js';

const BUILD_ID = `remote-${process.pid}`;
/** Made over SSH in the deploy environment: the slow payload's cue to fail. */
const SETTLE = '/run/anemos-e2e-settle';
const timings: Record<string, number> = {};
const since = (t0: number) => Number(((Date.now() - t0) / 1000).toFixed(1));

describe('anemos deploy --host: a stock Debian 12 server re-imaged from the workstation', () => {
  let work: string;
  let server: TestServer;
  let vm: Vm;
  let port: number;
  let operator: {priv: string; pub: string};
  let knownHosts: string;
  let fingerprint: string;
  let base: {kernel: string; initramfs: string};

  const ssh = (command: string, timeoutMs = 120_000) => sshRun(operator.priv, port, command, timeoutMs);
  const bootId = () => ssh('cat /proc/sys/kernel/random/boot_id').then((s) => s.trim());

  /** A command on the workstation, asynchronously (the HTTP server the VM downloads from runs in this process). */
  function run(cmd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 1_800_000): Promise<{code: number; stdout: string; stderr: string}> {
    return new Promise((resolve) => {
      execFile(cmd, args, {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs, env: {...process.env, HOME: work, ...env}}, (err, stdout, stderr) => {
        resolve({code: err ? ((err as {code?: number}).code ?? -1) : 0, stdout, stderr});
      });
    });
  }
  const anemos = (args: string[]) => run(CLI, args);
  const hostArgs = (conf: string, known = knownHosts, timeout = '30m') => [
    '--host', 'root@127.0.0.1', '--ssh-port', String(port), '-i', operator.priv,
    '--ssh-option', `UserKnownHostsFile=${known}`, '--ssh-option', 'StrictHostKeyChecking=yes',
    '--config', join(work, `${conf}.conf`), '--yes', '--timeout', timeout,
  ];
  async function until(what: string, f: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!f()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
  const fileText = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'anemos-remote-'));
    mkdirSync(E2E_CACHE, {recursive: true});
    operator = sshKeypair(E2E_CACHE, 'operator');
    base = await ensureBase();
    const provider = await rootfsTarball('bookworm', STOCK_PROVIDER_PACKAGES, 'tar');
    const target = await targetTarball();
    const disk = join(work, 'provider.raw');
    execFileSync('cp', ['--sparse=always', await providerDisk(provider, `${operator.priv}.pub`), disk]);

    server = await startServer({});
    const url = `http://10.0.2.2:${new URL(server.url).port}`;
    const payloadDir = join(work, 'image-payload');
    cpSync(join(REPO, 'payloads', 'image'), payloadDir, {recursive: true});
    writeFileSync(
      join(payloadDir, 'image.conf'),
      [`IMAGE_URL=${url}/target.tar.zst`, `IMAGE_SHA256=${sha256(readFileSync(target))}`, 'IMAGE_KIND=rootfs', 'ROOT_FS=ext4', 'NETWORK_FORMAT=auto', `IMAGE_BUILD_ID=${BUILD_ID}`, ''].join('\n'),
    );
    const pack = (dir: string, out: string) => JSON.parse(execFileSync(CLI, ['payload', 'pack', dir, '-o', out, '--json'], {encoding: 'utf8'})).sha256 as string;
    const imageSha = pack(payloadDir, join(work, 'image.tar.gz'));
    const failDir = join(work, 'fail-payload');
    mkdirSync(failDir);
    writeFileSync(join(failDir, 'deploy'), '#!/bin/sh\necho "checking the disk before touching it: not good"; exit 4\n', {mode: 0o755});
    const failSha = pack(failDir, join(work, 'fail.tar.gz'));
    // Slow to fail: it waits for the test (a file it makes over SSH, 200 s at most), for time to
    // kill the driver, attach again and drop its connection meanwhile.
    const slowDir = join(work, 'slow-payload');
    mkdirSync(slowDir);
    writeFileSync(join(slowDir, 'deploy'), `#!/bin/sh\necho "waiting for the disk to settle"; i=0; while [ ! -e ${SETTLE} ] && [ $i -lt 200 ]; do sleep 1; i=$((i + 1)); done; echo "the disk never settled"; exit 4\n`, {mode: 0o755});
    const slowSha = pack(slowDir, join(work, 'slow.tar.gz'));
    for (const [path, file] of Object.entries({'/vmlinuz': base.kernel, '/initramfs.cpio.zst': base.initramfs, '/target.tar.zst': target})) server.routes.set(path, {file});

    // image.conf: the server downloads the kernel and base from the URL. fail.conf: they are
    // files here, on the workstation (an "initramfs build" output), sent over SSH and checked
    // there. Either way the payload is a file here, checked here and sent with the image.
    const conf = (payload: string, payloadSha: string, from: 'server' | 'workstation') =>
      [
        `kernel: {url: ${from === 'server' ? `${url}/vmlinuz` : base.kernel}, sha256: ${sha256(readFileSync(base.kernel))}}`,
        `initramfs: {url: ${from === 'server' ? `${url}/initramfs.cpio.zst` : base.initramfs}, sha256: ${sha256(readFileSync(base.initramfs))}}`,
        `payload: {url: ${payload}, sha256: ${payloadSha}}`,
        'deploy: {disk: /dev/vda, timeout: 20m, network_timeout: 60s}',
        'boot: {delay: 1}',
      ].join('\n');
    writeFileSync(join(work, 'image.conf'), conf('image.tar.gz', imageSha, 'server'));
    writeFileSync(join(work, 'fail.conf'), conf('fail.tar.gz', failSha, 'workstation'));
    writeFileSync(join(work, 'slow.conf'), conf('slow.tar.gz', slowSha, 'workstation'));

    port = await freePort();
    const t0 = Date.now();
    vm = new Vm({disks: [disk], memoryMb: 1024, serialLog: join(work, 'serial.log'), mac: QEMU_MAC, hostfwd: [`tcp:127.0.0.1:${port}-:22`], noReboot: false});
    await ssh('true', 240_000);
    timings['provider boot → SSH'] = since(t0);
    // GRUB as Debian installs it, with an operator's line in custom.cfg.
    await ssh(DEBIAN_GRUB_SETUP, 300_000);
    // The operator pins the server's key, as a CI job does with a known_hosts secret.
    knownHosts = join(work, 'known_hosts');
    writeFileSync(knownHosts, execFileSync('ssh-keyscan', ['-p', String(port), '127.0.0.1'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}));
    fingerprint = await hostKeyFingerprint(port);
  }, 1_800_000);

  afterAll(async () => {
    vm?.kill();
    await server?.close();
    if (Object.keys(timings).length) process.stderr.write(`remote e2e timings (s): ${JSON.stringify(timings)}\nserial log (kept after the run): ${keptPath(join(work, 'serial.log'))}\n`);
  });

  it('the server is stock: no node, no kexec, nothing of anemos', async () => {
    const r = await ssh('command -v node nodejs kexec anemos; find /usr/local/bin /usr/local/sbin -mindepth 1; echo end');
    expect(r.trim()).toBe('end');
  });

  it('a host key that is not the pinned one is refused before anything changes (exit 8), with the fingerprint it presents', async () => {
    const wrong = join(work, 'known_hosts.wrong');
    const other = sshKeypair(work, 'not-the-host');
    writeFileSync(wrong, `[127.0.0.1]:${port} ${other.pub.trim().split(' ').slice(0, 2).join(' ')}\n`);
    const before = await bootId();
    const r = await anemos(['deploy', ...hostArgs('image', wrong)]);
    expect(r.code, r.stderr).toBe(8);
    expect(r.stderr).toMatch(/ssh-host-key/);
    expect(r.stderr).toContain(fingerprint);
    expect(r.stderr).toMatch(/ssh-keyscan -p \d+ 127\.0\.0\.1/);
    expect(await bootId()).toBe(before);
  }, 120_000);

  it('a cloud image\'s user: debian with passwordless sudo gets the same plan (the privileged reads through sudo -n); a user without sudo is refused before anything changes', async () => {
    // As cloud images ship: a login user with NOPASSWD sudo, and one without sudo.
    await ssh(
      [
        'for u in debian nosudo; do useradd -m -s /bin/bash $u && install -d -m 700 -o $u -g $u /home/$u/.ssh && install -m 600 -o $u -g $u /root/.ssh/authorized_keys /home/$u/.ssh/; done',
        "echo 'debian ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/debian",
      ].join(' && '),
    );
    const before = await bootId();
    const user = (name: string) => ['deploy', ...hostArgs('image').map((a) => (a === 'root@127.0.0.1' ? `${name}@127.0.0.1` : a)), '--dry-run'];
    const ok = await anemos(user('debian'));
    expect(ok.code, `${ok.stdout}\n${ok.stderr}`).toBe(0);
    expect(ok.stdout).toMatch(/^Host: debian@127\.0\.0\.1/);
    // Root-only facts were read: the host keys to carry and root's authorized_keys.
    expect(ok.stdout).toMatch(/host keys: carried from this host/);
    expect(ok.stdout).toMatch(/52:54:00:12:34:56 \(eth0\): 10\.0\.2\.15\/24/);
    const denied = await anemos(user('nosudo'));
    expect(denied.code, denied.stderr).toBe(4);
    expect(denied.stderr).toMatch(/ssh-no-root[\s\S]*nosudo on 127\.0\.0\.1 cannot run commands as root without a password/);
    expect(await bootId()).toBe(before);
  }, 300_000);

  it("--from-registry: the host's MACs, read over SSH, find its record; the host's own credential, read over SSH, asks for it (an operator's token comes first); its desired deployment is the plan", async () => {
    const registry = await Registry.open(await openEmbedded(join(work, 'registry')));
    const operatorToken = (await registry.createToken({role: 'operator', note: 'ci'})).token;
    // The machine enrolled (as "anemos inventory --report" would have, on the host): its credential is on the host, 0600.
    const {machine, credential} = await registry.enroll({machine: {macs: [QEMU_MAC], hostname: 'provider'}}, await registry.authenticate((await registry.createToken({role: 'enroll'})).token));
    await registry.setDesired(machine, {config: {hostname: 'from-the-registry', deploy: {disk: '/dev/vda', timeout: '20m'}}}, 'test');
    const server = createRegistryServer(registry, {version: 'test'});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await ssh(`umask 077 && mkdir -p /etc/anemos && printf '%s' '${JSON.stringify({registry: url, machine, id: credential.id, token: credential.token})}' > /etc/anemos/registry-credential`);
      const own = await anemos(['deploy', ...hostArgs('image'), '--dry-run', '--from-registry', url]);
      expect(own.code, `${own.stdout}\n${own.stderr}`).toBe(0);
      expect(`${own.stdout}${own.stderr}`).toMatch(/registry: machine mac-525400123456 \(new\), its desired deployment from http\S+ \(asked with the credential of root@127\.0\.0\.1 \(port \d+\) \(\/etc\/anemos\/registry-credential, machine mac-525400123456\)\)/);
      expect(own.stdout).toMatch(/hostname: from-the-registry/);
      const r = await run(CLI, ['deploy', ...hostArgs('image'), '--dry-run', '--from-registry', url], {ANEMOS_REGISTRY_TOKEN: operatorToken});
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(`${r.stdout}${r.stderr}`).toMatch(/its desired deployment from http\S+ \(asked with the token in ANEMOS_REGISTRY_TOKEN\)/);
    } finally {
      await ssh('rm -rf /etc/anemos');
      await new Promise((r) => server.close(r));
      await registry.db.close();
    }
  }, 300_000);

  it('a fleet rollout with Ansible (examples/ansible): the first server\'s payload fails before writing, its old system comes back (exit 10), the rollout stops there', async () => {
    const before = await bootId();
    const mark = vm.log().length;
    const logs = join(work, 'fleet');
    const inventory = join(work, 'inventory.ini');
    // The second server is never contacted: the rollout must stop at the first failure.
    writeFileSync(inventory, `[reimage]\nprovider ansible_host=127.0.0.1 ansible_port=${port}\nnext ansible_host=127.0.0.1 ansible_port=1\n`);
    const vars = {
      anemos: CLI,
      anemos_config: join(work, 'fail.conf'),
      anemos_logs: logs,
      anemos_args: ['-i', operator.priv, '--ssh-option', `UserKnownHostsFile=${knownHosts}`, '--ssh-option', 'StrictHostKeyChecking=yes', '--timeout', '30m'],
    };
    const t0 = Date.now();
    const r = await run('ansible-playbook', ['-i', inventory, join(REPO, 'examples', 'ansible', 'reimage.yml'), '-e', JSON.stringify(vars)], {ANSIBLE_NOCOLOR: '1', ANSIBLE_STDOUT_CALLBACK: 'default'});
    timings['ansible: failing payload → old system back'] = since(t0);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2); // ansible-playbook: a host failed
    // (ansible prints its message JSON-escaped: \"payload run\")
    expect(r.stdout).toMatch(/provider: anemos exited 10 \(deploy-failed-rolled-back: The deploy failed before writing to any disk \(step \\?"payload run\\?"\); the old system is back/);
    expect(r.stdout).toMatch(/provider +: ok=\d+ +changed=\d+ +unreachable=0 +failed=1/);
    expect(r.stdout).not.toMatch(/^next +:/m);
    expect(existsSync(join(logs, 'next'))).toBe(false);
    // The kernel and base were files on the workstation: sent, and in the server's cache by their sha256.
    expect(await ssh(`sha256sum /var/cache/anemos/sha256/${sha256(readFileSync(base.kernel))} | cut -c1-64`)).toBe(`${sha256(readFileSync(base.kernel))}\n`);
    expect(JSON.parse(readFileSync(join(logs, 'provider', 'verdict.json'), 'utf8'))).toMatchObject({host: 'provider', exit: 10, verdict: {error: {code: 'deploy-failed-rolled-back', exitCode: 10}}});
    // The events as the driver received them, the payload's own line among them.
    expect(readFileSync(join(logs, 'provider', 'deploy.log'), 'utf8')).toMatch(/deploy: checking the disk before touching it: not good/);
    const events = readFileSync(join(logs, 'provider', 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.find((e) => e.outcome)).toMatchObject({outcome: 'failed', action: 'reboot', written: []});
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    // The old system, unchanged, and the one-shot entry consumed.
    expect(await bootId()).not.toBe(before);
    const after = await ssh('cat /etc/provider-marker; . /etc/os-release; echo $VERSION_CODENAME; grub-editenv list; cat /proc/cmdline; echo --; cat /boot/grub/custom.cfg');
    expect(after).toMatch(/^provider-image\nbookworm\n/);
    const [state, custom] = after.split('--\n');
    expect(state).not.toMatch(/next_entry=anemos|anemos\.mode/);
    // The operator's custom.cfg line kept, the entry after it; and the deploy environment came
    // through GRUB (BOOT_IMAGE is set by GRUB's linux command; kexec does not add it).
    expect(custom).toMatch(/^kept by the operator\n### BEGIN anemos/);
    expect(vm.log().slice(mark)).toMatch(/Command line: BOOT_IMAGE=\/boot\/anemos\/vmlinuz .*anemos\.mode=deploy/);
  }, 1_200_000);

  it('--install-kexec, then the driver is killed mid-deploy and SSH drops: the deploy goes on; --attach with a short --timeout gives up (12); --attach follows it again to its verdict (10)', async () => {
    const before = await bootId();
    const t0 = Date.now();
    // kexec-tools from Debian's mirror, only because it was asked for; then a CI runner that
    // dies once the payload runs (SIGKILL: no clean-up of any kind).
    const driver = spawn(CLI, ['deploy', ...hostArgs('slow'), '--install-kexec', '--logs', join(work, 'killed')], {env: {...process.env, HOME: work}, stdio: ['ignore', 'pipe', 'pipe']});
    let seen = '';
    driver.stdout.on('data', (d: Buffer) => (seen += d.toString()));
    driver.stderr.on('data', (d: Buffer) => (seen += d.toString()));
    await until('the payload to start', () => /deploy: waiting for the disk to settle/.test(seen), 900_000);
    driver.kill('SIGKILL');
    timings['install kexec, slow payload running'] = since(t0);
    expect(seen).toMatch(/kexec-tools is not installed: --install-kexec installs it/);
    expect(seen).toMatch(/\$ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kexec-tools\n/);
    expect(seen).toMatch(/\$ kexec -l /);

    // Nobody follows now; a short --timeout is a verdict of its own, and changes nothing there.
    const short = await anemos(['deploy', ...hostArgs('slow', knownHosts, '15s'), '--attach', '--logs', join(work, 'short')]);
    expect(short.code, `${short.stdout}\n${short.stderr}`).toBe(12);
    expect(`${short.stdout}${short.stderr}`).toMatch(/deploy-timeout/);

    // Follow it again; its SSH connection is cut while it follows (every dropbear session is killed).
    const logs = join(work, 'attached');
    const attached = run(CLI, ['deploy', ...hostArgs('slow'), '--attach', '--logs', logs]);
    await until('--attach to replay the events', () => /waiting for the disk to settle/.test(fileText(join(logs, 'deploy.log'))), 300_000);
    expect(fileText(join(logs, 'deploy.log'))).not.toMatch(/the disk never settled/);
    const drop = `setsid sh -c 'sleep 2; for p in $(pidof dropbear); do pp=$(cut -d" " -f4 /proc/$p/stat); [ "$(cat /proc/$pp/comm)" = dropbear ] && kill $p; done' </dev/null >/dev/null 2>&1 &`;
    await new Promise((res) => execFile('ssh', [...sshArgs(operator.priv, port), drop], () => res(undefined)));
    // After the drop (2 s from now), the payload goes on to fail: what follows reaches --attach on its new connection.
    await new Promise((res) => setTimeout(res, 8000));
    await ssh(`touch ${SETTLE}`);
    const r = await attached;
    timings['kill, attach, drop → old system back'] = since(t0);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(10);
    // What happened after the drop reached the workstation, in order, nothing twice.
    const events = fileText(join(logs, 'events.jsonl')).trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.some((e) => /the disk never settled/.test(e.msg))).toBe(true);
    expect(events.find((e) => e.outcome)).toMatchObject({outcome: 'failed', action: 'reboot', written: []});
    expect(await bootId()).not.toBe(before);
    expect(await ssh('cat /etc/provider-marker; . /etc/os-release; echo $VERSION_CODENAME')).toBe('provider-image\nbookworm\n');
    // kexec-tools stayed, and the host's reboots were left alone (no kexec on every reboot).
    expect(await ssh('command -v kexec; grep ^LOAD_KEXEC= /etc/default/kexec')).toBe('/usr/sbin/kexec\nLOAD_KEXEC=false\n');
    // The stock server again, for the GRUB-entry deploy that follows.
    await ssh('DEBIAN_FRONTEND=noninteractive apt-get purge -y -q kexec-tools >/dev/null 2>&1; ! command -v kexec', 300_000);
  }, 1_800_000);

  it('deploy: live events, Debian 13 on the same disk, exit 0 only after the new system answers and --check passes', async () => {
    const t0 = Date.now();
    const logs = join(work, 'logs-image');
    const r = await anemos(['deploy', ...hostArgs('image'), '--logs', logs, '--check', `. /etc/os-release && test "$VERSION_CODENAME" = ${TARGET_SUITE} && grep -q build=${BUILD_ID} /etc/anemos-deployed`]);
    timings['deploy --host → verdict'] = since(t0);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    // No kexec on this host: the one-shot GRUB entry, said before it is used.
    expect(r.stdout).toMatch(/kexec is not usable \(kexec-tools is not installed\); using a one-shot GRUB entry/);
    // The host downloaded kernel and base itself and checked them; the events came live.
    expect(r.stderr).toMatch(/fetch kernel: \d+ bytes, sha256 verified/);
    expect(r.stdout).toMatch(/The deploy environment answers/);
    expect(r.stdout).toMatch(/image: == bootloader/);
    expect(r.stdout).toMatch(/DEPLOY SUCCEEDED/);
    expect(r.stdout).toMatch(/DEPLOYED and checked in \d+ s: hostname provider; SSH host key as known_hosts expects; --check /);
    expect(existsSync(join(logs, 'events.jsonl'))).toBe(true);
    // What the operator checks afterwards.
    const facts = await ssh('. /etc/os-release; echo $VERSION_CODENAME; hostname; ip -4 -o addr show; test -e /etc/provider-marker && echo OLD-MARKER || echo no-old-marker');
    expect(facts).toMatch(new RegExp(`^${TARGET_SUITE}\\nprovider\\n`));
    expect(facts).toMatch(/inet 10\.0\.2\.15\/24/);
    expect(facts).toContain('no-old-marker');
    expect(await hostKeyFingerprint(port)).toBe(fingerprint);
  }, 2_400_000);
});
