// The Debian IMGBUILD end to end in QEMU (TCG): the deploy environment boots with a
// blank 4 GiB disk and payloads/debian (plus test files, a template, a patch, a secret
// and a service), builds Debian 13 on it with debootstrap from Debian's mirror, reboots;
// then the disk boots alone from its own GRUB and answers SSH with the carried host key.
// Bad IMGBUILDs (template with an unknown variable, a disk too small) stop before any write.

import {execFileSync} from 'node:child_process';
import {chmodSync, cpSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {E2E_CACHE, TARGET_SUITE, targetTarball} from '../helpers/e2e-images.js';
import {composeEnv, ensureBase, QEMU_MAC, sha256, sshKeypair} from '../helpers/deploy-env.js';
import {CLI, REPO} from '../helpers/kernel.js';
import {Vm} from '../helpers/qemu.js';
import {freePort, hostKeyFingerprint, sshRun} from '../helpers/ssh.js';

const say = (line: string) => process.env.ANEMOS_E2E_VERBOSE && process.stderr.write(`[demo] ${line}\n`);

function firstBytes(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  const buf = Buffer.alloc(n);
  readSync(fd, buf, 0, n, 0);
  closeSync(fd);
  return buf;
}

describe('IMGBUILD: payloads/debian builds Debian on a blank disk inside the deploy environment', () => {
  let work: string;
  let base: {kernel: string; initramfs: string};
  let operator: {priv: string; pub: string};
  let hostKey: {priv: string; pub: string};

  /** payloads/debian plus what the test checks afterwards. */
  async function testPayload(dir: string, extraImgbuild = ''): Promise<{file: string; data: Buffer; sha: string}> {
    cpSync(join(REPO, 'payloads', 'debian'), dir, {recursive: true});
    // login.defs as debootstrap will install it (the suite's mmdebstrap tarball has the same file): a patch that must apply.
    const tarball = await targetTarball();
    const loginDefs = execFileSync('tar', ['--zstd', '-xOf', tarball, './etc/login.defs']);
    const orig = join(work, 'login.defs');
    writeFileSync(orig, loginDefs);
    writeFileSync(`${orig}.new`, loginDefs.toString().replace(/^HOME_MODE\s+\d+$/m, 'HOME_MODE\t0750'));
    const patch = execFileSync('sh', ['-c', `diff -u ${orig} ${orig}.new || true`]).toString();
    expect(patch).toContain('+HOME_MODE\t0750');
    const put = (rel: string, content: string, mode = 0o644) => {
      mkdirSync(join(dir, rel, '..'), {recursive: true});
      writeFileSync(join(dir, rel), content);
      chmodSync(join(dir, rel), mode);
    };
    put('files/etc/login.defs.makeimg.patch', patch);
    put('files/etc/systemd/system/anemos-e2e.service', '[Unit]\nDescription=anemos e2e marker\n[Service]\nType=oneshot\nExecStart=/bin/sh -c "echo ran > /run/anemos-e2e"\nRemainAfterExit=yes\n[Install]\nWantedBy=multi-user.target\n');
    put('files/usr/local/sbin/anemos-e2e-check', '#!/bin/sh\necho checked\n', 0o750);
    put('files/etc/anemos-e2e/identity.makeimg.template', '{{SHORT_HOSTNAME}} {{IPV4}}/{{IPV4_PREFIX}} via {{IPV4_GATEWAY}} mac {{MAC}} on {{DISK}}\n$NOT_A_TEMPLATE_VARIABLE\n');
    put('secrets/etc/anemos-e2e/token', 'not-really-secret\n');
    writeFileSync(
      join(dir, 'IMGBUILD'),
      `${readFileSync(join(dir, 'IMGBUILD'), 'utf8')}
# --- added by test/e2e/imgbuild.test.ts ---
debian_suite=${TARGET_SUITE}
kernel=linux-image-cloud-amd64   # boots faster under TCG than the generic kernel
format="raw 3G msdos ext4"
services="$services
anemos-e2e
"
required_files="/etc/systemd/system/anemos-e2e.service"
${extraImgbuild}`,
    );
    const file = join(work, `${dir.split('/').pop()}.tar.gz`);
    const out = execFileSync('node', [CLI, 'payload', 'pack', dir, '-o', file], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
    expect(out).toMatch(/sha256 [0-9a-f]{64}/);
    const data = readFileSync(file);
    return {file: 'payload.tar.gz', data, sha: sha256(data)};
  }

  const boot = (name: string, o: {initrd?: string; disk: string; port?: number; memoryMb?: number}) =>
    new Vm({
      ...(o.initrd ? {kernel: base.kernel, initrd: o.initrd, append: 'console=ttyS0,115200 anemos.mode=deploy panic=10 rootfstype=ramfs'} : {}),
      memoryMb: o.memoryMb ?? 1024,
      serialLog: join(work, `${name}.serial.log`),
      disks: [o.disk],
      mac: QEMU_MAC,
      hostfwd: o.port ? [`tcp:127.0.0.1:${o.port}-:22`] : [],
    });

  const compose = async (name: string, payload: {file: string; data: Buffer; sha: string}) =>
    composeEnv({
      dir: work,
      base: base.initramfs,
      name,
      // Hang detectors, not speed targets: the build takes ~19 min alone under TCG and ~25
      // while npm test runs the other VM tests beside it (bench/ has the figures).
      config: {mode: 'deploy', disk: '/dev/vda', timeout: 3600, payload: {file: payload.file, sha256: payload.sha}},
      authorizedKeys: [operator.pub],
      hostKeys: {ssh_host_ed25519_key: readFileSync(hostKey.priv)},
      payload: {file: payload.file, data: payload.data},
    });

  beforeAll(async () => {
    base = await ensureBase();
    work = mkdtempSync(join(tmpdir(), 'anemos-imgbuild-'));
    operator = sshKeypair(work, 'operator');
    hostKey = sshKeypair(work, 'ssh_host_ed25519_key');
  });

  it('stops before any write: a template with an unknown variable, a disk smaller than the format', async () => {
    const bad = await testPayload(join(work, 'bad-template'), 'format="raw 8G msdos ext4"\n');
    // The template problem is found by payload check on the workstation...
    mkdirSync(join(work, 'bad-template', 'files', 'etc'), {recursive: true});
    writeFileSync(join(work, 'bad-template', 'files', 'etc', 'motd.makeimg.template'), 'Welcome to {{HOSTNAME}} ({{ROLE}})\n');
    const check = (() => {
      try {
        execFileSync('node', [CLI, 'payload', 'check', join(work, 'bad-template')], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
        return '';
      } catch (err) {
        return String((err as {stderr: string}).stderr);
      }
    })();
    expect(check).toMatch(/files\/etc\/motd\.makeimg\.template: unknown template variable \{\{ROLE\}\}/);
    // ...and the deploy environment refuses a 3 GiB disk for "raw 8G" before writing anything.
    const disk = join(work, 'small.raw');
    execFileSync('truncate', ['-s', '3G', disk]);
    const vm = boot('too-small', {initrd: await compose('too-small', bad), disk, memoryMb: 512});
    await vm.waitExit(240_000);
    expect(vm.log()).toMatch(/\/dev\/vda has 3\.0 GiB, and the IMGBUILD format needs at least 8\.0 GiB/);
    expect(vm.log()).toMatch(/no disk was written, so the old system is intact: rebooting/);
    expect(firstBytes(disk, 1 << 20).equals(Buffer.alloc(1 << 20))).toBe(true);
  }, 300_000);

  it('debootstrap, files, patch, template, secret, services, provision(), GRUB: the disk boots Debian 13 and answers SSH', async () => {
    const t0 = Date.now();
    say('IMGBUILD: building the test payload from payloads/debian');
    const payload = await testPayload(join(work, 'debian'));
    const disk = join(work, 'debian.raw');
    execFileSync('truncate', ['-s', '4G', disk]);
    say('IMGBUILD: booting the deploy environment with a blank 4 GiB disk; debootstrap runs in it (several minutes under TCG)');
    const vm = boot('imgbuild', {initrd: await compose('imgbuild', payload), disk});
    await vm.waitExit(3_700_000);
    const log = vm.log();
    expect(log).toMatch(/DEPLOY SUCCEEDED/);
    const done = log.match(/IMGBUILD done in ([\d.]+) s: disk ([\d.]+) s, bootstrap ([\d.]+) s, customisation ([\d.]+) s, bootloader ([\d.]+) s, unmount ([\d.]+) s; the target downloaded ([\d.]+) MiB/);
    expect(done, log.slice(-3000)).not.toBeNull();
    const deploySeconds = (Date.now() - t0) / 1000;
    say(`IMGBUILD: ${done![0]}`);

    say('IMGBUILD: booting the disk on its own');
    const port = await freePort();
    const t1 = Date.now();
    const os = boot('imgbuild-disk', {disk, port});
    try {
      const ssh = (cmd: string) => sshRun(operator.priv, port, cmd, 120_000);
      let out = '';
      for (const deadline = Date.now() + 600_000; Date.now() < deadline; ) {
        try {
          out = await ssh('. /etc/os-release; echo $VERSION_CODENAME');
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 3000));
        }
      }
      expect(out.trim(), os.log().slice(-3000)).toBe(TARGET_SUITE);
      const bootSeconds = (Date.now() - t1) / 1000;
      const expected = execFileSync('ssh-keygen', ['-lf', `${hostKey.priv}.pub`], {encoding: 'utf8'}).split(' ')[1];
      expect(await hostKeyFingerprint(port)).toBe(expected);
      const facts = await ssh(
        [
          'hostname',
          'ip -4 -o addr show | grep -c "10.0.2.15/24"',
          'cat /etc/anemos-e2e/identity',
          'grep "^HOME_MODE" /etc/login.defs',
          'stat -c "%a %U" /usr/local/sbin/anemos-e2e-check /etc/anemos-e2e/token',
          'cat /run/anemos-e2e',
          'systemctl is-enabled systemd-timesyncd',
          'dpkg-query -W -f="\\${Status}\\n" openssh-server less',
          'sshd -T | grep -i "^passwordauthentication"',
          'findmnt -n -o SOURCE,FSTYPE /',
          'grep -c "^UUID=" /etc/fstab',
          'cat /etc/anemos-deployed',
          'cat /proc/cmdline',
        ].join('; echo "--"; '),
      );
      const parts = facts.split('--\n').map((s) => s.trim());
      expect(parts[0]).toBe('anemos-test');
      expect(parts[1]).toBe('1');
      expect(parts[2]).toBe('anemos-test 10.0.2.15/24 via 10.0.2.2 mac 52:54:00:12:34:56 on /dev/vda\n$NOT_A_TEMPLATE_VARIABLE');
      expect(parts[3]).toMatch(/^HOME_MODE\s+0750$/);
      expect(parts[4]).toBe('750 root\n600 root');
      expect(parts[5]).toBe('ran');
      expect(parts[6]).toBe('enabled');
      expect(parts[7]).toBe('install ok installed\ninstall ok installed');
      expect(parts[8]).toBe('passwordauthentication no');
      expect(parts[9]).toBe('/dev/vda1 ext4');
      expect(parts[10]).toBe('1');
      expect(parts[11]).toContain('imgname=debian-server');
      expect(parts[12]).toContain('console=ttyS0,115200');
      const m = done!.map(Number);
      writeFileSync(
        join(E2E_CACHE, 'imgbuild-timings.json'),
        JSON.stringify({when: new Date().toISOString(), total: m[1], disk: m[2], bootstrap: m[3], customisation: m[4], bootloader: m[5], unmount: m[6], downloaded_mib: m[7], power_on_to_reboot: Math.round(deploySeconds), disk_boot_to_ssh: Math.round(bootSeconds)}, null, 1),
      );
      await ssh('systemctl poweroff || true').catch(() => undefined);
    } finally {
      os.kill();
    }
  }, 4_000_000);
});
