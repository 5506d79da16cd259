// The IMGBUILD steps that need no mirror, run for real on this machine against a scratch
// root for each target: files/, secrets/, patches (dry-run first), templates, fstab,
// hostname, network rendering (anemos-netconf from the agent bundle), keys, and Alpine's
// OpenRC service links. Bootstrap and GRUB need the target's mirror (Debian's is proven
// in test/e2e/imgbuild.test.ts); Alpine's and Arch's mirrors are not reachable here.

import {execFileSync, spawnSync} from 'node:child_process';
import * as fs from 'node:fs';
import {chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {evaluateImgbuild} from '../../src/adapters/payload-dir.js';
import {realRunner} from '../../src/adapters/process.js';
import {renderTemplates} from '../../src/agent/imgbuild.js';
import {templateValues, type ImgbuildSpec} from '../../src/core/imgbuild.js';
import {planImgbuild, stepPrelude, type PlanContext} from '../../src/core/imgbuild-plan.js';
import {qemuNetwork} from '../../src/core/qemu-target.js';
import {qjsCommand, REPO} from '../helpers/kernel.js';

const AGENT = join(REPO, 'dist', 'agent.mjs');

describe('IMGBUILD steps without a mirror, on a scratch root', () => {
  let bin: string;
  beforeAll(() => {
    expect(existsSync(AGENT), 'npm run build first').toBe(true);
    bin = mkdtempSync(join(tmpdir(), 'anemos-bin-'));
    // The deploy environment's kernel calls the NIC eth0; the old system called it ens3 (network.json).
    const sysfs = join(bin, 'sys');
    mkdirSync(join(sysfs, 'class/net/eth0'), {recursive: true});
    writeFileSync(join(sysfs, 'class/net/eth0/address'), '52:54:00:12:34:56\n');
    // The agent as the deploy environment runs it: on its qjs.
    writeFileSync(join(bin, 'anemos-netconf'), `#!/bin/sh\nANEMOS_SYSFS=${sysfs} exec ${qjsCommand().join(' ')} ${AGENT} netconf "$@"\n`, {mode: 0o755});
  });

  async function project(target: string, extra = ''): Promise<{dir: string; spec: ImgbuildSpec}> {
    const dir = mkdtempSync(join(tmpdir(), `anemos-proj-${target}-`));
    const put = (rel: string, content: string, mode = 0o644) => {
      mkdirSync(join(dir, rel, '..'), {recursive: true});
      writeFileSync(join(dir, rel), content);
      chmodSync(join(dir, rel), mode);
    };
    put('IMGBUILD', `imgname=ns1\ntarget=${target}\npackages="openssh-server"\nservices="nsd"\n${extra}`);
    put('files/etc/nsd/nsd.conf', 'server:\n  ip-address: 0.0.0.0\n', 0o640);
    put('files/usr/local/bin/tool', '#!/bin/sh\n', 0o755);
    put('files/etc/motd.makeimg.template', 'This is {{HOSTNAME}} ({{IPV4}}) via {{IPV4_GATEWAY}}. $HOME stays.\n');
    put('files/etc/issue.makeimg.patch', '--- a/etc/issue\n+++ b/etc/issue\n@@ -1,2 +1,2 @@\n-Welcome\n+Welcome to ns1\n \\l\n');
    put('secrets/etc/nsd/tsig.key', 'secret\n');
    const v = await evaluateImgbuild(realRunner, dir);
    expect(v.errors).toEqual([]);
    return {dir, spec: v.spec!};
  }

  function scratch(): {root: string; work: string; anemos: string} {
    const base = mkdtempSync(join(tmpdir(), 'anemos-root-'));
    const root = join(base, 'root');
    for (const d of ['etc/ssh', 'etc/init.d', 'etc/nsd', 'root']) mkdirSync(join(root, d), {recursive: true});
    writeFileSync(join(root, 'etc/issue'), 'Welcome\n\\l\n');
    writeFileSync(join(root, 'etc/init.d/nsd'), '#!/sbin/openrc-run\n', {mode: 0o755});
    for (const svc of ['sshd', 'networking', 'devfs', 'hostname']) writeFileSync(join(root, `etc/init.d/${svc}`), '#!/sbin/openrc-run\n', {mode: 0o755});
    chmodSync(join(root, 'etc/nsd'), 0o750);
    const anemos = join(base, 'anemos');
    mkdirSync(join(anemos, 'ssh/host_keys'), {recursive: true});
    const net = qemuNetwork('ns1.example.org', {mac: '52:54:00:12:34:56'});
    net.interfaces['52:54:00:12:34:56']!.name = 'ens3'; // the old system's predictable name
    writeFileSync(join(anemos, 'network.json'), JSON.stringify(net));
    writeFileSync(join(anemos, 'ssh/authorized_keys'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake op@desk\n');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(anemos, 'ssh/host_keys/ssh_host_ed25519_key')]);
    return {root, work: join(base, 'work'), anemos};
  }

  function runSteps(spec: ImgbuildSpec, dir: string, s: ReturnType<typeof scratch>, only: string[]): string {
    const ctx: PlanContext = {root: s.root, payload: dir, work: s.work, disk: '/dev/vda', efi: false, kernelArgs: ['console=ttyS0,115200'], networkJson: join(s.anemos, 'network.json'), authorizedKeys: join(s.anemos, 'ssh/authorized_keys'), hostKeysDir: join(s.anemos, 'ssh/host_keys')};
    renderTemplates(fs, spec, dir, join(s.work, 'templates'), templateValues(qemuNetwork('ns1.example.org'), {hostname: 'ns1.example.org', imgname: spec.imgname, target: spec.target, disk: '/dev/vda'}));
    const steps = planImgbuild(spec, ctx).filter((st) => only.includes(st.id));
    expect(steps.map((st) => st.id)).toEqual(only);
    let out = '';
    for (const st of steps) {
      const r = spawnSync('sh', ['-c', `${stepPrelude(spec, ctx)}\n${st.script}`], {encoding: 'utf8', env: {...process.env, PATH: `${bin}:${process.env.PATH}`, ANEMOS_HOSTNAME: 'ns1.example.org'}});
      if (r.status !== 0) throw new Error(`step ${st.id} failed (${r.status}): ${r.stderr}`);
      out += r.stdout + r.stderr;
    }
    return out;
  }

  const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8);

  for (const [target, net] of [['debian', 'networkd'], ['alpine', 'alpine'], ['arch', 'networkd']] as const) {
    it(`${target}: files, secrets, patches, templates, fstab/hostname/network/keys${target === 'alpine' ? ', OpenRC services' : ''}`, async () => {
      const {dir, spec} = await project(target);
      const s = scratch();
      const steps = ['files', 'secrets', 'patches', 'templates', 'system', ...(target === 'alpine' ? ['services'] : [])];
      runSteps(spec, dir, s, steps);
      const r = (p: string) => readFileSync(join(s.root, p), 'utf8');
      expect(r('etc/nsd/nsd.conf')).toContain('ip-address');
      expect(mode(join(s.root, 'etc/nsd/nsd.conf'))).toBe('640');
      expect(mode(join(s.root, 'usr/local/bin/tool'))).toBe('755');
      expect(mode(join(s.root, 'etc/nsd'))).toBe('750'); // an existing directory keeps its mode
      expect(statSync(join(s.root, 'etc/nsd/nsd.conf')).uid).toBe(0);
      expect(existsSync(join(s.root, 'etc/motd.makeimg.template'))).toBe(false);
      expect(existsSync(join(s.root, 'etc/issue.makeimg.patch'))).toBe(false);
      expect(mode(join(s.root, 'etc/nsd/tsig.key'))).toBe('600');
      expect(r('etc/issue')).toBe('Welcome to ns1\n\\l\n');
      expect(r('etc/motd')).toBe('This is ns1.example.org (10.0.2.15) via 10.0.2.2. $HOME stays.\n');
      expect(r('etc/hostname')).toBe('ns1\n');
      expect(r('etc/hosts')).toContain('127.0.1.1\tns1.example.org ns1');
      expect(r('etc/resolv.conf')).toContain('nameserver');
      expect(r('root/.ssh/authorized_keys')).toContain('op@desk');
      expect(mode(join(s.root, 'root/.ssh/authorized_keys'))).toBe('600');
      expect(mode(join(s.root, 'etc/ssh/ssh_host_ed25519_key'))).toBe('600');
      if (net === 'networkd') {
        expect(r('etc/systemd/network/10-anemos-525400123456.network')).toContain('MACAddress=52:54:00:12:34:56');
        expect(readlinkSync(join(s.root, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service'))).toBe('/usr/lib/systemd/system/systemd-networkd.service');
      } else {
        // Alpine keeps the kernel's names: the NIC is eth0 there, not the old system's ens3.
        expect(r('etc/network/interfaces')).toContain('auto eth0\niface eth0 inet static\n\taddress 10.0.2.15/24');
        expect(r('etc/network/interfaces')).not.toContain('ens3');
        expect(readlinkSync(join(s.root, 'etc/runlevels/boot/networking'))).toBe('/etc/init.d/networking');
        expect(readlinkSync(join(s.root, 'etc/runlevels/sysinit/devfs'))).toBe('/etc/init.d/devfs');
        expect(readlinkSync(join(s.root, 'etc/runlevels/boot/hostname'))).toBe('/etc/init.d/hostname');
        expect(existsSync(join(s.root, 'etc/runlevels/sysinit/mdev'))).toBe(false); // not in this root: skipped
        expect(readlinkSync(join(s.root, 'etc/runlevels/default/nsd'))).toBe('/etc/init.d/nsd');
        expect(lstatSync(join(s.root, 'etc/runlevels/default/sshd')).isSymbolicLink()).toBe(true);
      }
    });
  }

  it("a boot network whose DHCP named no DNS server (the deploy environment has no resolv.conf): the chroot gets an empty one, and the new system's own comes back", async () => {
    const {spec} = await project('debian');
    const s = scratch();
    writeFileSync(join(s.root, 'etc/resolv.conf'), 'nameserver 192.0.2.53\n');
    const ctx = {root: s.root, payload: s.work, work: s.work, disk: '/dev/vda', efi: false, kernelArgs: [], networkJson: '', authorizedKeys: '', hostKeysDir: ''};
    const sh = (body: string) => spawnSync('sh', ['-c', `${stepPrelude(spec, ctx)}\n${body}`], {encoding: 'utf8', env: {...process.env, ANEMOS_RESOLV_CONF: join(s.work, 'no-resolv.conf')}});
    const carried = sh('carry_resolver');
    expect(carried.stderr).toBe('');
    expect(carried.status).toBe(0);
    expect(readFileSync(join(s.root, 'etc/resolv.conf'), 'utf8')).toBe('');
    expect(sh('unbind_system').status).toBe(0);
    expect(readFileSync(join(s.root, 'etc/resolv.conf'), 'utf8')).toBe('nameserver 192.0.2.53\n');
  });

  it('a patch that does not apply stops the step before any patch is applied', async () => {
    const {dir, spec} = await project('debian');
    mkdirSync(join(dir, 'files/etc/ssh'), {recursive: true});
    writeFileSync(join(dir, 'files/etc/ssh/sshd_config.makeimg.patch'), '--- a\n+++ b\n@@ -1 +1 @@\n-PermitRootLogin yes\n+PermitRootLogin no\n');
    const fixed = {...spec, patches: ['files/etc/issue.makeimg.patch', 'files/etc/ssh/sshd_config.makeimg.patch']};
    const s = scratch();
    writeFileSync(join(s.root, 'etc/ssh/sshd_config'), 'Port 22\n');
    expect(() => runSteps(fixed, dir, s, ['patches'])).toThrow(/files\/etc\/ssh\/sshd_config\.makeimg\.patch does not apply to \/etc\/ssh\/sshd_config/);
    expect(readFileSync(join(s.root, 'etc/issue'), 'utf8')).toBe('Welcome\n\\l\n'); // the good patch was not applied either
  });

  it('an Alpine service that the new system does not have is an error naming it', async () => {
    const {dir, spec} = await project('alpine', 'services="nsd\nunbound"\n');
    const s = scratch();
    expect(() => runSteps(spec, dir, s, ['services'])).toThrow(/service unbound: \/etc\/init\.d\/unbound does not exist in the new system/);
  });
});
