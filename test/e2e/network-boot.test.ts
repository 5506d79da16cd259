// Network boot from anemos serve, in QEMU (TCG) on a private L2 segment this test makes
// (network namespaces, a bridge, taps: test/helpers/netlab.ts), beside a site DHCP server
// that is not anemos (dnsmasq, DHCP only). A blank machine boots from the network: the
// firmware's iPXE gets its address from the site, its boot from anemos' proxyDHCP, and
// anemos' script; the deploy environment registers it; an operator gives it a deployment.

import {execFile, execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {BASE_DIR, ensureBase, sha256, sshKeypair} from '../helpers/deploy-env.js';
import {E2E_CACHE, imagePayload, liveImages, TARGET_SUITE, targetTarball} from '../helpers/e2e-images.js';
import {sshArgs} from '../helpers/ssh.js';
import {startNetLab, type NetLab} from '../helpers/netlab.js';
import {Vm} from '../helpers/qemu.js';
import {debianInstallerIso} from '../helpers/installer-iso.js';
import {CLI, makeToken, startServe, type RunningServe} from '../helpers/registry.js';

const MAC = '52:54:00:77:00:01';
const UEFI_MAC = '52:54:00:77:00:02';
const ISOLATED_MAC = '52:54:00:77:00:03';
const HTTP_BOOT_MAC = '52:54:00:77:00:04';
const RELAYED_MAC = '52:54:00:77:00:05';
const INSTALLER_MAC = '52:54:00:77:00:06';
const LIVE_MAC = '52:54:00:77:00:07';
const SERIAL = 'ANEMOS-NB-0001';
const WWW_PORT = 8099;
const BUILD_ID = 'network-boot-e2e';

describe('network boot from anemos serve', {timeout: 900_000}, () => {
  let work: string;
  let lab: NetLab;
  let serve: RunningServe;
  let admin: string;
  let www: ChildProcess | undefined;
  let operator: {priv: string; pub: string};
  let target: string;
  /** The desired deployment both machines are given: its kernel, initramfs and payload published beside the registry. */
  let published: {kernel: {url: string; sha256: string}; initramfs: {url: string; sha256: string}; payload: {url: string; sha256: string}};
  const vms: Vm[] = [];

  /** The registry's API, from inside the lab (anemos serve listens on the namespace's loopback). */
  const api = (method: string, path: string, body?: unknown): {status: number; json: any} => {
    const args = ['curl', '-s', '-o', '-', '-w', '\n%{http_code}', '-X', method, '-H', `authorization: Bearer ${admin}`, ...(body ? ['-H', 'content-type: application/json', '--data-binary', JSON.stringify(body)] : []), `${serve.url}${path}`];
    const out = execFileSync(lab.exec(args)[0]!, lab.exec(args).slice(1)).toString();
    const status = Number(out.slice(out.lastIndexOf('\n') + 1));
    const text = out.slice(0, out.lastIndexOf('\n'));
    return {status, json: text ? JSON.parse(text) : undefined};
  };

  /** anemos machines explain, as an operator runs it (inside the lab, where the registry listens). */
  const explain = (ref: string): any => {
    const argv = lab.exec([process.execPath, CLI, 'machines', 'explain', ref, '--registry', serve.url, '--json']);
    return JSON.parse(execFileSync(argv[0]!, argv.slice(1), {env: {...process.env, ANEMOS_REGISTRY_TOKEN: admin}}).toString());
  };

  const waitFor = async <T>(what: string, fn: () => T | undefined, ms: number): Promise<T> => {
    const t0 = Date.now();
    for (;;) {
      const v = fn();
      if (v !== undefined) return v;
      if (Date.now() - t0 > ms) throw new Error(`timeout waiting for ${what}; anemos serve said:\n${serve.output().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  };

  /** The machine with this MAC once the registry has its inventory (its deploy environment reported). */
  const registered = (mac: string) =>
    waitFor(`${mac} in the registry with its inventory`, () => {
      const r = api('GET', `/api/v1/machines/${mac}`);
      return r.status === 200 && r.json.inventory ? r.json : undefined;
    }, 60_000);

  /** The live layers, built while the lab starts and the other cases boot (awaited by the Live case). */
  let liveBuild: ReturnType<typeof liveImages>;

  beforeAll(async () => {
    liveBuild = liveImages();
    liveBuild.catch(() => undefined); // its error is the Live case's, when it awaits it
    await ensureBase();
    work = mkdtempSync(join(tmpdir(), 'anemos-netboot-'));
    lab = startNetLab(work, String(process.pid));
    operator = sshKeypair(work, 'operator');
    target = await targetTarball();
    writeFileSync(join(work, "boot-keys"), operator.pub);
    const data = join(work, 'registry');
    admin = makeToken(data, 'admin');
    // A web server the payload is published on, beside the registry (the boot network reaches only anemos).
    mkdirSync(join(work, 'www'));
    const site = `require('http').createServer((q, s) => require('fs').createReadStream(require('path').join(process.argv[1], require('path').basename(q.url))).on('error', () => (s.statusCode = 404, s.end())).pipe(s)).listen(${WWW_PORT}, '${lab.address}')`;
    const argv = lab.exec([process.execPath, '-e', site, join(work, 'www')]);
    www = spawn(argv[0]!, argv.slice(1), {stdio: 'ignore'});
    // payloads/image with Debian 13, the image published beside the registry: the boot network reaches no mirror.
    symlinkSync(target, join(work, 'www', 'target.tar.zst'));
    const payloadDir = imagePayload(work, `http://${lab.address}:${WWW_PORT}/target.tar.zst`, target, BUILD_ID);
    execFileSync(process.execPath, [CLI, 'payload', 'pack', payloadDir, '-o', join(work, 'www', 'payload.tar.gz')]);
    // The deploy environment too comes from where the desired deployment says (the server fetches it once and serves it).
    for (const f of ['vmlinuz', 'initramfs.cpio.zst']) copyFileSync(join(BASE_DIR, f), join(work, 'www', f));
    const wwwFile = (f: string) => ({url: `http://${lab.address}:${WWW_PORT}/${f}`, sha256: sha256(readFileSync(join(work, 'www', f)))});
    published = {kernel: wwwFile('vmlinuz'), initramfs: wwwFile('initramfs.cpio.zst'), payload: wwwFile('payload.tar.gz')};
    // Installation media: an ISO with Debian's netboot installer, as Debian's media lay it out.
    const {media} = debianInstallerIso(work);
    // Live images: the library is read at each boot; the live case links the layers in once they are built.
    mkdirSync(join(work, 'images'));
    serve = await startServe(['--data', data, '--boot', '--boot-interface', lab.bridge, '--boot-environment', BASE_DIR, '--discover', '--media', media, '--images', join(work, 'images'), '--boot-ssh-keys', join(work, 'boot-keys'), '--boot-cmdline', 'console=ttyS0,115200'], {wrap: lab.exec([])});
  }, 1_800_000);

  afterAll(async () => {
    vms.forEach((v) => v.kill());
    await serve?.stop();
    www?.kill();
    lab?.close();
  });

  /**
   * What an operator does with a discovered machine, and checks afterwards: a desired
   * deployment and ready (nobody touches the machine), anemos machines watch to its verdict,
   * then the machine's next network boot sends it to its disk, where Debian 13 takes a lease
   * from the site's DHCP and answers SSH with the key the registry let in, its name, its
   * release and the image's build id. Returns seconds from ready to deployed and to the login.
   */
  async function deployAndBootDisk(vm: Vm, machine: {id: string}, mac: string, hostname: string, diskBoot: RegExp): Promise<{deployed: number; onDisk: number}> {
    const desired = {...published, config: {hostname, deploy: {disk: '/dev/vda'}}};
    expect(api('PUT', `/api/v1/machines/${machine.id}/desired`, desired).status).toBe(200);
    const t1 = Date.now();
    expect(api('PATCH', `/api/v1/machines/${machine.id}`, {state: 'ready'}).status).toBe(200);
    // A CI job waits on it as on a --host deploy: anemos machines watch, to its verdict.
    const watchArgv = lab.exec([process.execPath, CLI, 'machines', 'watch', machine.id, '--registry', serve.url, '--timeout', '14m']);
    const watch = spawn(watchArgv[0]!, watchArgv.slice(1), {env: {...process.env, ANEMOS_REGISTRY_TOKEN: admin}});
    let watched = '';
    watch.stdout.on('data', (d) => (watched += d));
    watch.stderr.on('data', (d) => (watched += d));
    const watchExit = new Promise<number | null>((r) => watch.on('exit', r));
    // It asks every 10 s, reboots into its network boot, deploys, reboots, and boots its disk.
    await vm.waitFor(/the registry has another boot for this machine now \(environment deploy/, 60_000);
    await vm.waitFor(/DEPLOY SUCCEEDED/, 600_000);
    // (iPXE's console wraps at 80 columns: the start of the address is enough.)
    expect(vm.log()).toContain(`http://${lab.address}:8067/boot/sha256/${desired.kernel.sha256.slice(0, 32)}`);
    expect(vm.log()).toContain(`http://${lab.address}:8067/boot/sha256/${desired.initramfs.sha256.slice(0, 32)}`);
    const deployed = (Date.now() - t1) / 1000;
    // Its next network boot is sent to its disk: then GRUB, then Debian 13.
    await vm.waitFor(diskBoot, 240_000, vm.log().lastIndexOf('DEPLOY SUCCEEDED'));
    await vm.waitFor(new RegExp(`${hostname} login:`), 300_000);
    const onDisk = (Date.now() - t1) / 1000;
    expect(await watchExit).toBe(0);
    expect(watched).toMatch(/Following deployment dep-/);
    expect(watched).toMatch(/DEPLOY SUCCEEDED/);
    const after = api('GET', `/api/v1/machines/${machine.id}`).json;
    expect(after.state).toBe('deployed');
    expect(after.hostname).toBe(hostname);
    expect(after.lastBoot).toMatchObject({boot: 'local-disk'});
    expect(explain(machine.id)).toMatchObject({boot: 'local-disk', rule: `${machine.id} (${mac}) is deployed: it boots its disk`});
    const deps = api('GET', `/api/v1/deployments?machine=${machine.id}`).json.deployments;
    expect(deps.map((d: {mode: string; outcome: string | null}) => [d.mode, d.outcome])).toContainEqual(['deploy', 'succeeded']);
    const address = await waitFor(`${hostname}'s lease`, () => readFileSync(join(work, 'site.leases'), 'utf8').match(new RegExp(`^\\d+ ${mac} (\\S+) ${hostname} `, 'm'))?.[1], 120_000);
    const argv = lab.exec(['ssh', ...sshArgs(operator.priv, 22).slice(0, -1), `root@${address}`, 'hostname; . /etc/os-release; echo $VERSION_CODENAME; cat /etc/anemos-deployed']);
    const seen = execFileSync(argv[0]!, argv.slice(1), {timeout: 60_000}).toString();
    expect(seen).toMatch(new RegExp(`^${hostname}\n${TARGET_SUITE}\n[^]*${BUILD_ID}`));
    return {deployed, onDisk};
  }

  it.concurrent("Installer: a discovered machine given Debian's installer boots its kernel and initrd out of an ISO, fetches the preseed rendered from its record, and reaches the mirror without a question", async () => {
    const t0 = Date.now();
    const disk = join(work, 'installer.raw');
    execFileSync('truncate', ['-s', '2G', disk]);
    // With 512 MB debian-installer stops at its low-memory note (shown at any priority).
    const vm = new Vm({memoryMb: 1024, serialLog: join(work, 'installer.serial.log'), disks: [disk], mac: INSTALLER_MAC, tap: {netns: lab.ns, ifname: lab.tap('inst')}, serial: `${SERIAL}-D`, noReboot: false});
    vms.push(vm);
    await vm.waitFor(/TEST MODE READY/, 240_000);
    const machine = await registered(INSTALLER_MAC);
    // The operator names the installer; its root disk is chosen from the inventory the machine reported (vda).
    // The mirror is anemos' own boot listener, which has none: the installer stops there, after the network and the preseed.
    const installer = {media: 'debian-12-netboot', vars: {MIRROR: `${lab.address}:8067`}, cmdline: 'DEBIAN_FRONTEND=text'};
    expect(api('PUT', `/api/v1/machines/${machine.id}/desired`, {installer, config: {hostname: 'inst1.example.net'}}).status).toBe(200);
    const t1 = Date.now();
    expect(api('PATCH', `/api/v1/machines/${machine.id}`, {state: 'ready'}).status).toBe(200);
    const explained = explain(machine.id);
    expect(explained).toMatchObject({boot: 'installer', installer: {media: 'debian-12-netboot', kind: 'preseed'}});
    expect(explained.installer.answer).toContain('d-i partman-auto/disk string /dev/vda');
    await vm.waitFor(/the registry has another boot for this machine now \(installer/, 60_000);
    // iPXE loads the installer's kernel and initrd from the ISO on the boot listener.
    await vm.waitFor(/boot\/media\/debian-12-netboot\/install\.amd\/linux/, 120_000);
    await vm.waitFor(/Configuring the network with DHCP/, 240_000);
    await waitFor('the installer to fetch its preseed', () => (new RegExp(`boot: ${INSTALLER_MAC} \\(machine ${machine.id}\\) fetched its preseed answer file preseed\\.cfg`).test(serve.output()) ? true : undefined), 240_000);
    const atPreseed = (Date.now() - t1) / 1000;
    // After the network and the preseed: the mirror step, with no question asked before it.
    const mirror = await vm.waitFor(/Debian archive mirror/, 240_000);
    const asked = vm.log().indexOf('Prompt:');
    expect(asked === -1 || asked > vm.log().search(/Debian archive mirror/), vm.log().slice(-3000)).toBe(true);
    expect(vm.log()).not.toMatch(/Name server addresses|Choose a mirror|Keymap to use|Hostname:/);
    expect(mirror).toBeTruthy();
    console.log(`network boot (installer): power-on to registered ${((t1 - t0) / 1000).toFixed(1)} s; ready to the preseed fetched ${atPreseed.toFixed(1)} s, to the mirror step ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    const after = api('GET', `/api/v1/machines/${machine.id}`).json;
    expect(after.lastBoot).toMatchObject({boot: 'installer debian-12-netboot'});
    vm.kill();
  });

  // The two machines run side by side (two cores, two TCG guests): each case waits on its own VM.
  it.concurrent('BIOS: a blank machine boots by PXE beside the site DHCP, registers itself (new, discovered, its hardware), waits, deploys when made ready, then boots its disk', async () => {
    const t0 = Date.now();
    const disk = join(work, 'bios.raw');
    execFileSync('truncate', ['-s', '3G', disk]);
    const vm = new Vm({memoryMb: 512, serialLog: join(work, 'bios.serial.log'), disks: [disk], mac: MAC, tap: {netns: lab.ns, ifname: lab.tap('bios')}, serial: SERIAL, noReboot: false});
    vms.push(vm);
    await vm.waitFor(/TEST MODE READY/, 240_000);
    const ready = (Date.now() - t0) / 1000;
    const machine = await registered(MAC);
    expect(machine.state).toBe('new');
    expect(machine.discoveredAt).toEqual(expect.any(String));
    expect(machine.inventory.system.serial).toBe(SERIAL);
    expect(machine.inventory.disks.map((d: {name: string; sizeBytes: number}) => [d.name, d.sizeBytes])).toContainEqual(['vda', 3 * 1024 ** 3]);
    expect(machine.inventory.nics.map((n: {mac: string}) => n.mac)).toEqual([MAC]);
    expect(machine.lastBoot).toMatchObject({mac: MAC, client: 'ipxe', firmware: 'bios', boot: 'environment register'});
    // The site's DHCP gave the address; anemos gave none.
    expect(readFileSync(lab.site.log, 'utf8')).toMatch(new RegExp(`DHCPACK\\(site0\\) 10\\.77\\.0\\.1\\d\\d ${MAC}`));
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP discover from ${MAC} \\(ipxe, bios, port 67\\): the script; environment register`));
    console.log(`network boot (BIOS): power-on to the registered deploy environment ${ready.toFixed(1)} s`);

    // What it would boot now, and why, as the operator asks; and a MAC nobody has.
    expect(explain(MAC)).toMatchObject({served: true, discover: true, boot: 'environment', mode: 'register', machine: {id: machine.id, state: 'new', discovered: true, desired: false}});
    expect(explain('52:54:00:77:00:99')).toMatchObject({boot: 'environment', mode: 'register', machine: null, rule: expect.stringContaining('not in the registry and discovery is on')});

    // BIOS iPXE hands the disk's boot sector back to the firmware.
    const t = await deployAndBootDisk(vm, machine, MAC, 'nb-one', /Booting from SAN device 0x80/);
    console.log(`network boot (BIOS): ready to deployed (Debian 13 image) ${t.deployed.toFixed(1)} s, to Debian 13's login from its own disk ${t.onDisk.toFixed(1)} s`);
  });

  it.concurrent("UEFI: OVMF's own PXE chainloads iPXE by TFTP, which boots the deploy environment from two initrds; the machine registers, deploys with an ESP and boots its disk through the GRUB anemos chains", async () => {
    const t0 = Date.now();
    const disk = join(work, 'uefi.raw');
    execFileSync('truncate', ['-s', '3G', disk]);
    // romfile= (none): the NIC has no iPXE ROM, so OVMF's PXE asks, and is sent snponly.efi by TFTP.
    const vm = new Vm({memoryMb: 512, serialLog: join(work, 'uefi.serial.log'), disks: [disk], mac: UEFI_MAC, tap: {netns: lab.ns, ifname: lab.tap('uefi'), romfile: ''}, serial: `${SERIAL}-U`, uefiVars: join(work, 'uefi.vars'), noReboot: false});
    vms.push(vm);
    await vm.waitFor(/TEST MODE READY/, 240_000);
    const ready = (Date.now() - t0) / 1000;
    const machine = await registered(UEFI_MAC);
    expect(machine).toMatchObject({state: 'new', lastBoot: {mac: UEFI_MAC, client: 'ipxe', firmware: 'uefi', boot: 'environment register'}});
    expect(machine.inventory.system).toMatchObject({serial: `${SERIAL}-U`, firmware: 'uefi'});
    // The firmware's PXE asked first (architecture 7), and got iPXE by TFTP from anemos.
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP discover from ${UEFI_MAC} \\(pxe, uefi, port 67\\): iPXE`));
    expect(serve.output()).toMatch(/^tftp: \S+ snponly\.efi: \d+ bytes sent$/m);
    console.log(`network boot (UEFI, OVMF PXE -> TFTP -> iPXE): power-on to the registered deploy environment ${ready.toFixed(1)} s`);

    // UEFI iPXE chains anemos' GRUB, which chains the ESP's loader the deploy wrote.
    const t = await deployAndBootDisk(vm, machine, UEFI_MAC, 'nb-two', /anemos: chaining \(hd0,gpt1\)\/EFI\/BOOT\/BOOTX64\.EFI/);
    expect(vm.log()).toContain(`${lab.address}:8067/boot/local-disk.efi`);
    console.log(`network boot (UEFI): ready to deployed (Debian 13 image, GPT with an ESP) ${t.deployed.toFixed(1)} s, to Debian 13's login from its own disk ${t.onDisk.toFixed(1)} s`);
  });

  it.concurrent('Live: a blank machine given a live image boots it into RAM from the registry at every boot, its disk never written; another image made desired (a rollback) is what its next boot runs', async () => {
    const images = await liveBuild;
    for (const l of ['base', 'web']) symlinkSync(join(images.dir, l, 'out'), join(work, 'images', l));
    // A package the image does not have, to install on the live machine.
    execFileSync('apt-get', ['download', 'hello'], {cwd: work, stdio: 'ignore'});
    const hello = readFileSync(join(work, readdirSync(work).find((f) => /^hello_.*\.deb$/.test(f))!));
    const t0 = Date.now();
    const disk = join(work, 'live.raw');
    execFileSync('truncate', ['-s', '1G', disk]);
    const vm = new Vm({memoryMb: 1024, serialLog: join(work, 'live.serial.log'), disks: [disk], mac: LIVE_MAC, tap: {netns: lab.ns, ifname: lab.tap('live')}, serial: `${SERIAL}-L`, noReboot: false});
    vms.push(vm);
    await vm.waitFor(/TEST MODE READY/, 300_000);
    const machine = await registered(LIVE_MAC);
    const hostname = 'nb-live';
    expect(api('PUT', `/api/v1/machines/${machine.id}/desired`, {config: {hostname, live: {image: 'web', tmpfs: '256M'}}}).status).toBe(200);
    const t1 = Date.now();
    expect(api('PATCH', `/api/v1/machines/${machine.id}`, {state: 'ready'}).status).toBe(200);
    expect(explain(machine.id)).toMatchObject({boot: 'environment', mode: 'live'});

    /** The live system, over SSH from the lab: PID 1 is the image's systemd (not the deploy environment), on an overlay root. */
    // SSH runs asynchronously: a synchronous call blocking this worker for a minute under load
    // makes vitest's own RPC time out (its fixed 60 s), every test passing.
    const live = async (after: number): Promise<{address: string; run: (cmd: string, input?: Buffer) => Promise<string>}> => {
      await vm.waitFor(/LIVE IMAGE READY/, 300_000, after);
      const run = (address: string, cmd: string, input?: Buffer) =>
        new Promise<string>((resolve, reject) => {
          const argv = lab.exec(['ssh', ...sshArgs(operator.priv, 22).slice(0, -1), `root@${address}`, cmd]);
          const child = execFile(argv[0]!, argv.slice(1), {timeout: 60_000, encoding: 'utf8'}, (err, stdout) => (err ? reject(err) : resolve(stdout)));
          child.stdin?.end(input);
        });
      const deadline = Date.now() + 240_000;
      for (;;) {
        for (const a of readFileSync(join(work, 'site.leases'), 'utf8').matchAll(new RegExp(`^\\d+ ${LIVE_MAC} (\\S+) `, 'gm'))) {
          const up = await run(a[1]!, 'cat /proc/1/comm; findmnt -no FSTYPE /').catch(() => ''); // not up yet, or the deploy environment's address
          if (up === 'systemd\noverlay\n') return {address: a[1]!, run: (cmd, input) => run(a[1]!, cmd, input)};
        }
        if (Date.now() > deadline) throw new Error(`timeout waiting for the live system over SSH; anemos serve said:\n${serve.output().slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    };

    // The deploy environment asks every 10 s, reboots into its network boot, and boots web live.
    await vm.waitFor(/the registry has another boot for this machine now \(environment live/, 60_000);
    const web = await live(vm.log().lastIndexOf('TEST BOOT ENDED'));
    const toWeb = (Date.now() - t1) / 1000;
    expect(await web.run('hostname; test -x /usr/sbin/nginx && echo nginx; cat /etc/host-note /var/www/html/host.txt')).toBe(`${hostname}\nnginx\nfrom conffs\n${hostname} / web\n`);
    const page = lab.exec(['curl', '-sf', `http://${web.address}/`]);
    expect(execFileSync(page[0]!, page.slice(1)).toString()).toBe('<h1>anemos live web</h1>\n');
    // The registry: deployed, its boot recorded with the layers it ran; the next boot is live again.
    const after = api('GET', `/api/v1/machines/${machine.id}`).json;
    expect(after).toMatchObject({state: 'deployed', lastBoot: {boot: 'environment live'}});
    // Its SSH identity is the one the registry keeps for it (public halves on its record).
    expect(after.sshHostKeys).toHaveLength(2);
    expect((await web.run('ssh-keygen -y -f /etc/ssh/ssh_host_ed25519_key')).trim()).toBe(after.sshHostKeys[0]);
    const deps = api('GET', `/api/v1/deployments?machine=${machine.id}`).json.deployments;
    const webBoot = deps.find((d: {source: string}) => d.source === 'network boot (live)');
    expect(webBoot).toMatchObject({mode: 'deploy', outcome: 'succeeded'});
    expect(webBoot.artifacts.map((a: {name: string}) => a.name)).toEqual(['live web: layer base', 'live web: layer web']);
    expect(explain(machine.id)).toMatchObject({boot: 'environment', mode: 'live', rule: expect.stringContaining('every boot boots it into RAM')});

    // Drift: a changed config file, a new package, a removed file; the live system reports it
    // by itself every 5 minutes (anemos-drift.timer), here at once, and the registry shows it.
    await web.run('cat > /root/hello.deb', hello);
    await web.run('echo "# changed on the live machine" >> /etc/nginx/nginx.conf && dpkg -i /root/hello.deb >/dev/null && rm /root/hello.deb /etc/issue');
    const reported = await web.run('systemctl is-enabled anemos-drift.timer; systemctl start anemos-drift.service && journalctl -u anemos-drift.service -o cat | grep "drift report"');
    expect(reported).toMatch(/^enabled\n/);
    expect(reported.trim().split('\n').at(-1)).toBe('anemos drift report: HTTP/1.1 200 OK');
    const drift = api('GET', `/api/v1/machines/${machine.id}`).json.drift;
    expect(drift.deployment).toBe(deps.find((d: {source: string}) => d.source === 'network boot (live)').id);
    const kinds = Object.fromEntries(drift.entries.map((e: {path: string; kind: string}) => [e.path, e.kind]));
    expect(kinds).toMatchObject({'/etc/nginx/nginx.conf': 'changed', '/usr/bin/hello': 'added', '/var/lib/dpkg/status': 'changed', '/etc/issue': 'removed'});
    // Neither this host's own layer (its keys, its hostname) nor the reporter is drift.
    expect(Object.keys(kinds).filter((p) => /^\/etc\/(ssh|hostname|anemos)|^\/root\/\.ssh|anemos-drift/.test(p))).toEqual([]);
    const pageArgv = lab.exec(['curl', '-sf', '-H', `cookie: anemos_token=${admin}`, `${serve.url}/machines/${machine.id}`]);
    const pageHtml = execFileSync(pageArgv[0]!, pageArgv.slice(1)).toString();
    expect(pageHtml).toMatch(/<section id="drift">[^]*<code>\/etc\/nginx\/nginx\.conf<\/code>[^]*<code>\/usr\/bin\/hello<\/code>/);

    // Rollback: the operator makes base the desired image; the machine's next boot runs it.
    expect(api('PUT', `/api/v1/machines/${machine.id}/desired`, {config: {hostname, live: {image: 'base', tmpfs: '256M'}}}).status).toBe(200);
    const mark = vm.log().length;
    try {
      await web.run('systemctl reboot');
    } catch {
      // the session ends with the system
    }
    const t2 = Date.now();
    const base = await live(mark);
    const toBase = (Date.now() - t2) / 1000;
    expect(await base.run('hostname; test -e /usr/sbin/nginx || echo no nginx')).toBe(`${hostname}\nno nginx\n`);
    // The same identity after the reboot: SSH with known_hosts from the registry's record, strictly checked.
    writeFileSync(join(work, 'live.known_hosts'), after.sshHostKeys.map((k: string) => `${base.address} ${k}\n`).join(''));
    const strict = lab.exec(['ssh', '-i', operator.priv, '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${join(work, 'live.known_hosts')}`, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', `root@${base.address}`, 'hostname']);
    expect(execFileSync(strict[0]!, strict.slice(1), {timeout: 60_000}).toString()).toBe(`${hostname}\n`);
    const boots = api('GET', `/api/v1/deployments?machine=${machine.id}`).json.deployments.filter((d: {source: string}) => d.source === 'network boot (live)');
    expect(boots.map((d: {outcome: string; artifacts: {name: string}[]}) => [d.outcome, d.artifacts.map((a) => a.name)])).toEqual([
      ['succeeded', ['live base: layer base']],
      ['succeeded', ['live web: layer base', 'live web: layer web']],
    ]);
    // Its disk: never written (the file QEMU gave it has no block allocated).
    vm.kill();
    expect(execFileSync('stat', ['-c', '%b', disk]).toString().trim()).toBe('0');
    const timings = {when: new Date().toISOString(), 'power-on → registered': (t1 - t0) / 1000, "ready → web's live SSH": toWeb, "reboot → base's live SSH": toBase, ...(images.seconds ? {'image build base + web': images.seconds} : {})};
    writeFileSync(join(E2E_CACHE, 'live-netboot-timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
    console.log(`network boot (live): power-on to registered ${((t1 - t0) / 1000).toFixed(1)} s; ready to web's live SSH ${toWeb.toFixed(1)} s (the register boot's next ask, a reboot, the network boot, the image); reboot to base's live SSH ${toBase.toFixed(1)} s${images.seconds ? `; the layers were built first, in ${images.seconds} s` : ''}`);
  });

  it.concurrent("UEFI HTTP Boot: firmware with PXE turned off asks as an HTTPClient, is given iPXE's URL (no TFTP at all), and the machine registers", async () => {
    const t0 = Date.now();
    const disk = join(work, 'http-boot.raw');
    execFileSync('truncate', ['-s', '1G', disk]);
    // OVMF's PXE off (fw_cfg): its HTTP Boot over IPv4 is the network boot it has left.
    const noPxe = ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=no', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=no'];
    const vm = new Vm({memoryMb: 512, serialLog: join(work, 'http-boot.serial.log'), disks: [disk], mac: HTTP_BOOT_MAC, tap: {netns: lab.ns, ifname: lab.tap('http'), romfile: ''}, serial: `${SERIAL}-H`, uefiVars: join(work, 'http-boot.vars'), extra: noPxe});
    vms.push(vm);
    await vm.waitFor(/TEST MODE READY/, 240_000);
    const ready = (Date.now() - t0) / 1000;
    const machine = await registered(HTTP_BOOT_MAC);
    expect(machine).toMatchObject({state: 'new', lastBoot: {mac: HTTP_BOOT_MAC, client: 'ipxe', firmware: 'uefi', boot: 'environment register'}});
    // The firmware asked as an HTTP Boot client (architecture 16) and fetched iPXE from the boot listener.
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP discover from ${HTTP_BOOT_MAC} \\(http-boot, uefi, port 67\\): iPXE; environment register`));
    expect(serve.output()).toMatch(/GET \/boot\/snponly\.efi 200/);
    console.log(`network boot (UEFI HTTP Boot -> iPXE): power-on to the registered deploy environment ${ready.toFixed(1)} s`);
  });

  it.concurrent("Behind a DHCP relay: a blank machine on another segment gets the site's address and anemos' boot through the relay, reaches the boot listener through its router, and registers", async () => {
    const t0 = Date.now();
    const far = lab.relayed();
    const disk = join(work, 'relayed.raw');
    execFileSync('truncate', ['-s', '1G', disk]);
    const vm = new Vm({memoryMb: 512, serialLog: join(work, 'relayed.serial.log'), disks: [disk], mac: RELAYED_MAC, tap: {netns: far.ns, ifname: far.tap('far')}, serial: `${SERIAL}-R`});
    vms.push(vm);
    await vm.waitFor(/TEST MODE READY/, 240_000);
    const ready = (Date.now() - t0) / 1000;
    const machine = await registered(RELAYED_MAC);
    expect(machine).toMatchObject({state: 'new', lastBoot: {mac: RELAYED_MAC, client: 'ipxe', firmware: 'bios', boot: 'environment register'}});
    // The site gave an address of the far segment; anemos answered the relay.
    expect(readFileSync(lab.site.log, 'utf8')).toMatch(new RegExp(`DHCPACK\\(site0\\) 10\\.78\\.0\\.1\\d\\d ${RELAYED_MAC}`));
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP discover from ${RELAYED_MAC} \\(ipxe, bios, port 67, relayed by ${far.giaddr.replace(/\./g, '\\.')}\\): the script; environment register`));
    console.log(`network boot (BIOS, behind a DHCP relay): power-on to the registered deploy environment ${ready.toFixed(1)} s`);
  });

  it.concurrent('Isolated network (--dhcp full, no other DHCP on the segment, --discover-idle poweroff): a blank machine gets its address and its boot from anemos alone, registers and powers off; woken, it boots again and, its record saying so, waits', async () => {
    // A segment of its own, without the site's DHCP, and a registry of its own serving it.
    const dir = join(work, 'isolated');
    mkdirSync(dir);
    const isolated = startNetLab(dir, `i${process.pid}`, {siteDhcp: false});
    const data = join(dir, 'registry');
    const token = makeToken(data, 'admin');
    let vm: Vm | undefined;
    const own = await startServe(['--data', data, '--boot', '--boot-interface', isolated.bridge, '--boot-environment', BASE_DIR, '--discover', '--discover-idle', 'poweroff', '--dhcp', 'full', '--dhcp-range', '10.77.0.50-10.77.0.59', '--boot-cmdline', 'console=ttyS0,115200'], {wrap: isolated.exec([])});
    const ownApi = (method: string, path: string, body?: unknown) => {
      const argv = isolated.exec(['curl', '-s', '-X', method, '-H', `authorization: Bearer ${token}`, ...(body ? ['-H', 'content-type: application/json', '--data-binary', JSON.stringify(body)] : []), `${own.url}${path}`]);
      return JSON.parse(execFileSync(argv[0]!, argv.slice(1)).toString());
    };
    try {
      const t0 = Date.now();
      const disk = join(dir, 'blank.raw');
      execFileSync('truncate', ['-s', '1G', disk]);
      const boot = (log: string) => new Vm({memoryMb: 512, serialLog: join(work, log), disks: [disk], mac: ISOLATED_MAC, tap: {netns: isolated.ns, ifname: isolated.tap('iso')}, serial: `${SERIAL}-I`});
      vm = boot('isolated.serial.log');
      vms.push(vm);
      await vm.waitFor(/TEST MODE READY/, 240_000);
      const ready = (Date.now() - t0) / 1000;
      // Registered, nothing to deploy: it powers off by itself (QEMU ends with the machine).
      await vm.waitFor(/TEST BOOT ENDED: registered, nothing to deploy yet: powering off until woken/, 60_000);
      expect(await Promise.race([vm.exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))])).toBe(0);
      const off = (Date.now() - t0) / 1000;
      const machine = ownApi('GET', `/api/v1/machines/${ISOLATED_MAC}`);
      expect(machine).toMatchObject({state: 'new', lastBoot: {mac: ISOLATED_MAC, client: 'ipxe', boot: 'environment register'}, inventory: {system: {serial: `${SERIAL}-I`}}});
      expect(ownApi('GET', `/api/v1/boot/explain?mac=${ISOLATED_MAC}`)).toMatchObject({boot: 'environment', mode: 'register', rule: expect.stringMatching(/once registered it powers off until it is woken \(anemos machines wake\), as --discover-idle says$/)});
      // The firmware's iPXE and then the deploy environment took their address from anemos, and kept it.
      expect(own.output()).toMatch(new RegExp(`boot: DHCP discover from ${ISOLATED_MAC}: offer 10\\.77\\.0\\.50; \\(ipxe, bios, port 67\\): the script; environment register`));
      expect(own.output()).toMatch(new RegExp(`boot: DHCP request from ${ISOLATED_MAC}: ack 10\\.77\\.0\\.50 for 3600 s\n`));
      const leases = JSON.parse(readFileSync(join(data, 'boot-cache', 'dhcp-leases.json'), 'utf8'));
      expect(leases.map((l: {mac: string; address: string}) => [l.mac, l.address])).toEqual([[ISOLATED_MAC, '10.77.0.50']]);

      // Its record now says it waits; it is woken (the magic packet is sent and audited; QEMU
      // has no Wake-on-LAN, so the test powers it on as the NIC would) and boots again.
      ownApi('PATCH', `/api/v1/machines/${machine.id}`, {attributes: {idle: 'wait'}});
      const woken = isolated.exec([process.execPath, CLI, 'machines', 'wake', machine.id, '--registry', own.url, '--json']);
      expect(JSON.parse(execFileSync(woken[0]!, woken.slice(1), {env: {...process.env, ANEMOS_REGISTRY_TOKEN: token}}).toString())).toMatchObject({macs: [ISOLATED_MAC], packets: 3});
      vm = boot('isolated-woken.serial.log');
      vms.push(vm);
      await vm.waitFor(/TEST MODE READY/, 240_000);
      await vm.waitFor(/waiting for a deployment: asking the registry every 10 s/, 30_000);
      expect(ownApi('GET', `/api/v1/boot/explain?mac=${ISOLATED_MAC}`).rule).toMatch(/found by a network boot, it waits in the deploy environment for a deployment$/);
      // Same machine, same address.
      expect(ownApi('GET', '/api/v1/machines').machines).toHaveLength(1);
      expect(JSON.parse(readFileSync(join(data, 'boot-cache', 'dhcp-leases.json'), 'utf8')).map((l: {address: string}) => l.address)).toEqual(['10.77.0.50']);
      console.log(`network boot (isolated, --dhcp full): power-on to the registered deploy environment ${ready.toFixed(1)} s, to powered off ${off.toFixed(1)} s`);
    } finally {
      vm?.kill();
      await own.stop();
      isolated.close();
    }
  });
});
