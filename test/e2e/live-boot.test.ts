// Live images by kexec, as a user lives them: two layers built here (base: Debian 13 with
// systemd and sshd; web from= base: nginx, a page, and conffs/: a template rendered for each
// host at boot), copied to a Debian 12 server, and
// "anemos deploy" with live: in its anemos.conf. The server boots web into RAM with its own
// address, hostname and SSH host key; the page answers; its disk is not written; a file
// written to /etc is gone after a reboot and a second live boot, the host key is not, and a
// persist: path on a second disk keeps its file, another on an empty third disk is formatted
// once because its entry allows it. The second live boot is from the server's own disk
// (live.every_boot: GRUB's default entry), and anemos-boot-os and anemos live remove lead
// back to its installed system; anemos live diff lists a changed config
// file, a new package, a new and a removed file. Before that: a stale parent, a damaged
// layer and too little RAM are refused before anything changes, and a persist: label no
// disk has stops the deploy environment before the switch: the server's own system is back.

import {execFileSync} from 'node:child_process';
import {cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {QEMU_MAC} from '../helpers/deploy-env.js';
import {bootProvider, DEBIAN_GRUB_SETUP, E2E_CACHE, endProviderE2e, liveImages, providerSetup} from '../helpers/e2e-images.js';
import {startServer, type TestServer} from '../helpers/http-server.js';
import {CLI} from '../helpers/kernel.js';
import type {Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, scpTo, sshRun, sshStatus as sshStatusOn, waitForCodename} from '../helpers/ssh.js';

const timings: Record<string, number> = {};
const sha256sum = (f: string) => execFileSync('sha256sum', [f], {encoding: 'utf8'}).split(' ')[0]!;
const since = (t0: number) => Number(((Date.now() - t0) / 1000).toFixed(1));

describe('live images by kexec: a Debian 12 server boots a layered image into RAM', () => {
  let work: string;
  let server: TestServer;
  let vm: Vm;
  let port: number;
  let webPort: number;
  let operator: {priv: string; pub: string};
  let fingerprint: string;
  let conf: (live: string) => string;
  let hello: string;
  let disk: string;

  const ssh = (command: string, timeoutMs = 120_000) => sshRun(operator.priv, port, command, timeoutMs);
  const sshStatus = (command: string) => sshStatusOn(operator.priv, port, command);
  const bootId = () => ssh('cat /proc/sys/kernel/random/boot_id').then((s) => s.trim());
  const put = async (name: string, text: string) => {
    writeFileSync(join(work, name), text);
    await scpTo(operator.priv, port, join(work, name), `/root/${name}`);
  };

  beforeAll(async () => {
    const setup = await providerSetup('anemos-e2e-live-', {});
    work = setup.work;
    disk = setup.disk;
    operator = setup.operator;
    // The two layers, built as the operator builds them (the image build test builds them as
    // nobody); shared with the network-boot test, which boots them from the registry.
    const images = join(work, 'images');
    const built = await liveImages();
    cpSync(built.dir, images, {recursive: true});
    if (built.seconds) timings['image build base + web'] = built.seconds;
    for (const l of ['base', 'web']) timings[`layer ${l} (bytes)`] = JSON.parse(readFileSync(join(images, l, 'out/manifest.json'), 'utf8')).size;
    // A copy whose base was rebuilt since web was built on it: web is stale.
    cpSync(images, join(work, 'stale'), {recursive: true});
    const m = JSON.parse(readFileSync(join(work, 'stale/base/out/manifest.json'), 'utf8'));
    writeFileSync(join(work, 'stale/base/out/manifest.json'), JSON.stringify({...m, sha256: 'a'.repeat(64)}));
    // A copy whose web layer was damaged after its manifest was written.
    cpSync(images, join(work, 'damaged'), {recursive: true});
    writeFileSync(join(work, 'damaged/web/out/layer.squashfs'), Buffer.concat([readFileSync(join(work, 'damaged/web/out/layer.squashfs')), Buffer.from('x')]));
    for (const d of ['images', 'stale', 'damaged']) execFileSync('rm', ['-rf', join(work, d, 'base/out/listing.json'), join(work, d, 'web/out/listing.json')]);

    // A package the image does not have, to install on the live host (Debian 12's runs on 13).
    execFileSync('apt-get', ['download', 'hello'], {cwd: work, stdio: 'ignore'});
    hello = join(work, readdirSync(work).find((f) => /^hello_.*\.deb$/.test(f))!);

    // The persist: disk, as an operator makes it once.
    const data = join(work, 'data.raw');
    execFileSync('truncate', ['-s', '64M', data]);
    execFileSync('mkfs.ext4', ['-q', '-L', 'data', data]);
    // And an empty disk, which the first live boot formats because its persist: entry says it may.
    const blank = join(work, 'blank.raw');
    execFileSync('truncate', ['-s', '64M', blank]);

    server = await startServer({});
    server.routes.set('/vmlinuz', {file: setup.base.kernel});
    server.routes.set('/initramfs.cpio.zst', {file: setup.base.initramfs});
    const url = `http://10.0.2.2:${new URL(server.url).port}`;
    const sha = sha256sum;
    conf = (live) =>
      [`kernel: {url: '${url}/vmlinuz', sha256: ${sha(setup.base.kernel)}}`, `initramfs: {url: '${url}/initramfs.cpio.zst', sha256: ${sha(setup.base.initramfs)}}`, `live: ${live}`, 'deploy: {network_timeout: 60s}', 'boot: {delay: 1}', ''].join('\n');

    port = await freePort();
    webPort = await freePort();
    const t = Date.now();
    const booted = await bootProvider(
      {disks: [setup.disk, data, join(work, 'blank.raw')], memoryMb: 1024, serialLog: join(work, 'serial.log'), mac: QEMU_MAC, hostfwd: [`tcp:127.0.0.1:${port}-:22`, `tcp:127.0.0.1:${webPort}-:80`], noReboot: false},
      operator.priv,
      port,
      {'/root/images': images, '/root/stale': join(work, 'stale'), '/root/damaged': join(work, 'damaged')},
    );
    vm = booted.vm;
    fingerprint = booted.fingerprint;
    timings['provider boot → SSH'] = booted.seconds;
    // GRUB as Debian installs it: what live.every_boot writes its entry beside.
    await ssh(DEBIAN_GRUB_SETUP, 300_000);
  }, 1_800_000);

  afterAll(async () => {
    await endProviderE2e('live boot', vm, server, timings, join(work, 'serial.log'));
    // For npm run bench: the figures of the last run.
    if (timings['kexec → live SSH']) writeFileSync(join(E2E_CACHE, 'live-timings.json'), `${JSON.stringify({when: new Date().toISOString(), ...timings}, null, 2)}\n`);
  });

  it('refuses a stale parent, a damaged layer and too little RAM before anything changes; a persist: label no disk has stops a boot from the disk (every_boot) before the switch, and the installed system boots next; anemos live remove', async () => {
    const before = await bootId();
    await put('stale.conf', conf('{image: /root/stale/web/out}'));
    let r = await sshStatus('anemos deploy --yes --config /root/stale.conf');
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toMatch(/web was built on base [0-9a-f]{12}…, and \/root\/stale\/base\/out now holds base a{12}…: web is stale/);
    expect(r.out).toMatch(/--with-parents/);

    await put('damaged.conf', conf('{image: /root/damaged/web/out}'));
    r = await sshStatus('anemos deploy --yes --config /root/damaged.conf');
    expect(r.code, r.out).toBe(5);
    expect(r.out).toMatch(/layer web.*does not match its sha256/);

    await put('big.conf', conf('{image: /root/images/web/out, tmpfs: 2G}'));
    r = await sshStatus('anemos deploy --yes --config /root/big.conf');
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toMatch(/This machine has \d+ MiB of RAM, and the live image web needs about \d+ MiB: \d+ MiB of layers \+ 2048 MiB writable \(live\.tmpfs\)/);

    expect(await bootId()).toBe(before);
    expect((await sshStatus('cat /sys/kernel/kexec_loaded')).out.trim()).toBe('0');

    // Found only in the deploy environment: a persist: label no disk has. It stops before the
    // switch, with no disk written, and the machine reboots into its own system. Booted from
    // its disk at every boot (every_boot), GRUB's default would be the image again: the
    // deploy environment makes the next boot the installed system's entry, once.
    await put('nolabel.conf', conf('{image: /root/images/web/out, tmpfs: 256M, every_boot: true, persist: [{path: /srv/x, label: nolabel}]}'));
    const mark = vm.log().length;
    r = await sshStatus('anemos deploy --yes --config /root/nolabel.conf');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/by a default GRUB entry on this disk/);
    await vm.waitFor(/DEPLOY FAILED: persist: \/srv\/x is on the file system labelled nolabel, and no disk here has one/, 420_000, mark);
    await vm.waitFor(/anemos-boot-os: the next boot is GRUB's entry 0, once \(\/dev\/vda1, .*\): the installed system, not this image again/, 60_000, mark);
    await vm.waitFor(/no disk was written, so the old system is intact: rebooting/, 60_000, mark);
    expect(await waitForCodename(operator.priv, port, 'bookworm', 300_000)).toBe('bookworm');
    expect(await bootId()).not.toBe(before);
    // That boot came through GRUB (BOOT_IMAGE), which took next_entry and cleared it.
    expect(vm.log().slice(mark)).toMatch(/Command line: BOOT_IMAGE=\/boot\/anemos-live\/vmlinuz .*anemos\.mode=live/);
    expect(await ssh('grub-editenv list')).not.toMatch(/^next_entry=\S/m);
    // anemos live remove: GRUB's own default again, the operator's line kept.
    const removed = await ssh('anemos live remove; echo --; cat /boot/grub/custom.cfg; test -e /boot/anemos-live && echo still-there || echo gone');
    expect(removed).toMatch(/^Removed: the anemos-live entry of \/boot\/grub\/custom\.cfg/);
    expect(removed).toMatch(/Removed: \/boot\/anemos-live/);
    expect(removed).toMatch(/--\nkept by the operator\ngone\n$/);
  }, 1_200_000);

  let liveFacts = '';
  it('boots web live: its address, hostname and host key, the page, nothing written to its disk', async () => {
    await put('live.conf', conf('{image: /root/images/web/out, tmpfs: 256M, persist: [{path: /srv/data, label: data}, {path: /var/lib/app, label: app, format: /dev/vdc}]}'));
    const mark = vm.log().length;
    let t = Date.now();
    const r = await sshStatus('anemos deploy --yes --config /root/live.conf');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Live image web, booted into RAM/);
    expect(r.out).toMatch(/layer base/);
    timings['anemos deploy until kexec'] = since(t);
    t = Date.now();
    await vm.waitFor(/LIVE IMAGE READY/, 300_000, mark);
    timings['kexec → live image mounted'] = since(t);
    const codename = await waitForCodename(operator.priv, port, 'trixie', 300_000);
    const hostLayer = /this host's layer: (\d+) KiB/.exec(vm.log().slice(mark));
    if (hostLayer) timings['host layer (KiB)'] = Number(hostLayer[1]);
    timings['kexec → live SSH'] = since(t);
    expect(codename).toBe('trixie');
    liveFacts = await ssh('hostname; ip -4 -o addr show; findmnt -n -o FSTYPE /; test -e /etc/provider-marker && echo OLD-MARKER || echo no-old-marker; findmnt -n -o SOURCE /srv/data; findmnt -n -o SOURCE,FSTYPE,LABEL /var/lib/app; free -m | awk \'/^Mem:/ {print "used-mib", $3}\'');
    timings['live system: RAM used (MiB)'] = Number(/^used-mib (\d+)$/m.exec(liveFacts)?.[1]);
    timings['live system: RAM available (MiB)'] = Number((await ssh("awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo")).trim());
    expect(liveFacts).toMatch(/^provider$/m);
    expect(liveFacts).toMatch(/inet 10\.0\.2\.15\/24/);
    expect(liveFacts).toMatch(/^overlay$/m);
    expect(liveFacts).toContain('no-old-marker');
    expect(liveFacts).toMatch(/^\/dev\/vdb$/m);
    // The empty disk, formatted because its entry allowed it.
    expect(liveFacts).toMatch(/^\/dev\/vdc +ext4 +app$/m);
    expect(vm.log().slice(mark)).toMatch(/persist: \/dev\/vdc was empty: made ext4 labelled app on it/);
    expect(await hostKeyFingerprint(port)).toBe(fingerprint);
    const page = await fetch(`http://127.0.0.1:${webPort}/`).then((res) => res.text());
    expect(page).toBe('<h1>anemos live web</h1>\n');
    expect(await fetch(`http://127.0.0.1:${webPort}/host.txt`).then((res) => res.text())).toBe('provider 10.0.2.15/24 web\n');
    // conffs/ as it is, and no template left in place of the file it became.
    expect(await ssh('cat /etc/host-note; ls /var/www/html | grep -c makeimg || true')).toBe('from conffs\n0\n');

    // The provider's disk (its image file, read here: hashing 3 GiB inside a TCG guest takes minutes),
    // before and after everything the live system does: not one byte changes.
    const disk1 = sha256sum(disk);
    await ssh('echo written-live > /etc/live-marker && echo kept > /srv/data/kept && echo app > /var/lib/app/state && apt-get --version >/dev/null; sync');
    const disk2 = sha256sum(disk);
    expect(disk2).toBe(disk1);
    expect(await ssh('cat /etc/live-marker /srv/data/kept')).toBe('written-live\nkept\n');
  }, 900_000);

  it('anemos live diff, here over SSH: a changed config file, a new package, a new file, a directory made again; the persist: path is not drift', async () => {
    await scpTo(operator.priv, port, hello, '/root/hello.deb');
    await ssh('sed -i "s/worker_connections 768/worker_connections 512/" /etc/nginx/nginx.conf && dpkg -i /root/hello.deb >/dev/null && rm /root/hello.deb && rm /etc/issue && hello');
    // A directory of the image removed and made again: overlayfs makes it opaque, and what it held is gone.
    const before = (await ssh('ls -A /etc/nginx/sites-available')).trim().split('\n');
    expect(before).toContain('default');
    await ssh('rm -rf /etc/nginx/sites-available && mkdir /etc/nginx/sites-available && echo mine > /etc/nginx/sites-available/mine');
    const r = execFileSync(CLI, ['live', 'diff', '--host', 'root@127.0.0.1', '--ssh-port', String(port), '-i', operator.priv, '--ssh-option', 'StrictHostKeyChecking=no', '--ssh-option', `UserKnownHostsFile=${join(work, 'known_hosts')}`, '--json'], {encoding: 'utf8'});
    const diff = JSON.parse(r) as {entries: {path: string; kind: string; type: string; size: number}[]; summary: {added: number; changed: number; removed: number}};
    const at = (path: string) => diff.entries.find((e) => e.path === path);
    expect(at('/etc/nginx/nginx.conf')).toMatchObject({kind: 'changed', type: 'file'});
    expect(at('/usr/bin/hello')).toMatchObject({kind: 'added', type: 'file', size: expect.any(Number)});
    expect(at('/usr/bin/hello')!.size).toBeGreaterThan(10_000);
    expect(at('/var/lib/dpkg/status')).toMatchObject({kind: 'changed'});
    expect(at('/etc/live-marker')).toMatchObject({kind: 'added', size: 13});
    expect(at('/etc/issue')).toMatchObject({kind: 'removed'});
    for (const name of before) expect(at(`/etc/nginx/sites-available/${name}`), name).toMatchObject({kind: 'removed'});
    expect(at('/etc/nginx/sites-available/mine')).toMatchObject({kind: 'added', size: 5});
    // This host's own layer (hostname, network, keys) is not drift, nor is the persist: mount.
    expect(at('/etc/hostname')).toBeUndefined();
    expect(at('/var/www/html/host.txt')).toBeUndefined();
    expect(diff.entries.some((e) => e.path.startsWith('/srv/data/') || e.path.startsWith('/var/lib/app/'))).toBe(false);
    expect(diff.entries.some((e) => e.path === '/usr/bin' || e.path === '/etc')).toBe(false);
    const text = execFileSync(CLI, ['live', 'diff', '--host', 'root@127.0.0.1', '--ssh-port', String(port), '-i', operator.priv, '--ssh-option', 'StrictHostKeyChecking=no', '--ssh-option', `UserKnownHostsFile=${join(work, 'known_hosts')}`], {encoding: 'utf8'});
    expect(text).toMatch(/^~ \/etc\/nginx\/nginx\.conf {2}\d+ bytes$/m);
    expect(text).toMatch(/^\+ \/usr\/bin\/hello {2}\d+ bytes$/m);
    expect(text).toMatch(/^- \/etc\/issue$/m);
    expect(text).toMatch(/^- \/etc\/nginx\/sites-available\/default$/m);
    expect(text).toMatch(new RegExp(`\\d+ added, \\d+ changed, ${1 + before.length} removed; \\d+ bytes written since boot`));
  }, 300_000);

  it('a reboot brings the provider back, untouched; every_boot: its disk boots the image at each boot (GRUB\'s default entry): no /etc file, the same host key, the persist: file; anemos-boot-os leads back to the installed system once', async () => {
    await sshStatus('(sleep 1; systemctl reboot) >/dev/null 2>&1 &');
    expect(await waitForCodename(operator.priv, port, 'bookworm', 300_000)).toBe('bookworm');
    expect((await ssh('cat /etc/provider-marker')).trim()).toBe('provider-image');
    await put('every.conf', conf('{image: /root/images/web/out, tmpfs: 256M, every_boot: true, persist: [{path: /srv/data, label: data}, {path: /var/lib/app, label: app, format: /dev/vdc}]}'));
    const mark = vm.log().length;
    const t = Date.now();
    const r = await sshStatus('anemos deploy --yes --config /root/every.conf');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/by a default GRUB entry on this disk/);
    expect(r.out).toMatch(/Every boot runs this image again/);
    // A plain reboot (no grub-reboot): GRUB's default is the live entry, as at every boot from now on.
    await vm.waitFor(/LIVE IMAGE READY/, 420_000, mark);
    expect(await waitForCodename(operator.priv, port, 'trixie', 300_000)).toBe('trixie');
    timings['every_boot: anemos deploy → live SSH (reboot, firmware, GRUB)'] = since(t);
    expect(await ssh('cat /proc/cmdline')).toMatch(/^BOOT_IMAGE=\/boot\/anemos-live\/vmlinuz .*anemos\.mode=live/);
    expect(await ssh('test -e /etc/live-marker && echo still-there || echo gone; cat /srv/data/kept /var/lib/app/state')).toBe('gone\nkept\napp\n');
    // Found by its label this time: not formatted again.
    expect(vm.log().slice(mark)).not.toMatch(/made ext4 labelled app/);
    expect(await hostKeyFingerprint(port)).toBe(fingerprint);

    // The way back, once: GRUB's first entry (the installed Debian 12) at the next boot. The
    // same script turned the failed boot above to the installed system (GRUB took it there);
    // here its grubenv is read back: still GRUB's 1024 bytes, next_entry set, the live entry
    // and its files kept for the boots after.
    expect(await ssh('anemos-boot-os')).toMatch(/^anemos-boot-os: the next boot is GRUB's entry 0, once \(\/dev\/vda1, /);
    const [env, size, custom, files] = (await ssh('mkdir -p /mnt/d && mount /dev/vda1 /mnt/d && cat /mnt/d/boot/grub/grubenv; echo; echo --; wc -c < /mnt/d/boot/grub/grubenv; echo --; cat /mnt/d/boot/grub/custom.cfg; echo --; ls /mnt/d/boot/anemos-live; umount /mnt/d')).split('--\n');
    expect(env).toMatch(/^# GRUB Environment Block\n/);
    expect(env).toMatch(/^next_entry=0$/m);
    expect(size!.trim()).toBe('1024');
    expect(custom).toMatch(/^kept by the operator\n### BEGIN anemos live[\s\S]*set default=anemos-live[\s\S]*### END anemos live\n$/);
    expect(files).toBe('initramfs.img\nvmlinuz\n');
  }, 1_500_000);
});
