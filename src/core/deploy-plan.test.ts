import {describe, expect, it} from 'vitest';
import {fakeFacts} from '../../test/helpers/facts.js';
import {AnemosError} from '../shared/errors.js';
import {grubBootPrefix, mergeCustomCfg, planExecCommand, planLoadCommands, renderGrubEntry} from './boot-commands.js';
import {parseConfig} from './config.js';
import {checkBootSpace, checkMemory, planCmdline, planDeploy, PHASES, type PlanOptions} from './deploy-plan.js';

const SHA = 'b'.repeat(64);
const config = (extra = '') =>
  parseConfig(
    `kernel: {url: http://10.0.2.2/vmlinuz, sha256: ${SHA}}\ninitramfs: {url: http://10.0.2.2/initramfs.cpio.zst, sha256: ${SHA}}\npayload: {url: http://10.0.2.2/p.tar.zst, sha256: ${SHA}}\ndeploy: {disk: /dev/vda}\n${extra}`,
    'anemos.conf',
  );
const opts: PlanOptions = {mode: 'deploy', phases: [...PHASES], allowUnverified: false, cliVersion: '0.1.0'};

function preflight(f: () => unknown): AnemosError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AnemosError);
    expect((err as AnemosError).exitCode).toBe(4);
    return err as AnemosError;
  }
  throw new Error('expected a precondition error');
}

describe('deploy planner', () => {
  it('plans a kexec deploy with the host consoles, the network and the boot contract', () => {
    const plan = planDeploy(config(), fakeFacts(), opts);
    expect(plan.method).toBe('kexec');
    expect(plan.cmdline).toBe('console=tty0 console=ttyS0,115200n8 anemos.mode=deploy panic=10 rootfstype=ramfs');
    expect(plan.bootConfig).toEqual({
      version: 1,
      mode: 'deploy',
      cli_version: '0.1.0',
      hostname: 'web1.example.net',
      payload: {file: 'payload.tar.zst', sha256: SHA},
      disk: '/dev/vda',
      on_failure: 'auto',
      timeout: 3600,
      network_timeout: 120,
    });
    expect(plan.artifacts.map((a) => a.name)).toEqual(['kernel', 'initramfs', 'payload']);
    expect(plan.network.hostname).toBe('web1.example.net');
    expect(plan.hostKeys).toEqual({ssh_host_ed25519_key: '/etc/ssh/ssh_host_ed25519_key'});
    expect(plan.warnings).toEqual([]);
  });

  it('lists every preflight problem at once, before anything is fetched', () => {
    const facts = fakeFacts({isRoot: false, kexec: {loadDisabled: false, lockdown: 'none', systemd: true}, ssh: {authorizedKeys: [], hostKeys: {}}});
    const err = preflight(() => planDeploy(config('boot: {method: kexec}'), facts, opts));
    expect(err.details).toEqual([
      expect.stringMatching(/must run as root/),
      expect.stringMatching(/kexec-tools is not installed.*apt-get install kexec-tools/),
      expect.stringMatching(/Nobody could log in/),
    ]);
  });

  it('names kexec_load_disabled and lockdown=confidentiality, and falls back to GRUB on auto', () => {
    const disabled = fakeFacts({kexec: {tool: '/usr/sbin/kexec', loadDisabled: true, lockdown: 'none', systemd: true}});
    expect(preflight(() => planDeploy(config('boot: {method: kexec}'), disabled, opts)).message).toMatch(/kexec_load_disabled/);
    const locked = fakeFacts({kexec: {tool: '/usr/sbin/kexec', loadDisabled: false, lockdown: 'confidentiality', systemd: true}});
    expect(preflight(() => planDeploy(config('boot: {method: kexec}'), locked, opts)).message).toMatch(/lockdown/i);
    const plan = planDeploy(config(), locked, opts);
    expect(plan.method).toBe('bootloader');
    expect(plan.warnings[0]).toMatch(/using a one-shot GRUB entry/);
  });

  it('uses kexec_file_load under integrity lockdown', () => {
    const plan = planDeploy(config(), fakeFacts({kexec: {tool: '/usr/sbin/kexec', loadDisabled: false, lockdown: 'integrity', systemd: true}}), opts);
    expect(plan.kexecFileLoad).toBe(true);
    expect(planLoadCommands(plan, {kernel: '/k', initramfs: '/i'})[1].slice(0, 3)).toEqual(['kexec', '-s', '-l']);
  });

  it('refuses a deploy without payload, missing checksums and an unusable network', () => {
    const noPayload = parseConfig(`kernel: {url: /k, sha256: ${SHA}}\ninitramfs: {url: /i}\n`, 'x');
    const facts = fakeFacts({network: {ok: false, code: 'network-unsupported-interface', message: 'Interface bond0 is a bond', hint: 'h'}});
    const err = preflight(() => planDeploy(noPayload, facts, opts));
    expect(err.details).toEqual([expect.stringMatching(/No sha256 for initramfs\.sha256/), expect.stringMatching(/needs a payload/), expect.stringMatching(/bond0/)]);
  });

  it('allows unverified artifacts only when asked, and says so', () => {
    const c = parseConfig(`kernel: {url: /k}\ninitramfs: {url: /i, sha256: ${SHA}}\n`, 'x');
    const plan = planDeploy(c, fakeFacts(), {...opts, mode: 'test', allowUnverified: true});
    expect(plan.warnings).toContainEqual(expect.stringMatching(/UNVERIFIED downloads allowed for kernel\.sha256/));
    expect(plan.artifacts.find((a) => a.name === 'kernel')?.verified).toBe(false);
  });

  it('does not need root or kexec for fetch,compose', () => {
    const facts = fakeFacts({isRoot: false, kexec: {loadDisabled: false, lockdown: 'none', systemd: false}, boot: {grubCustomHook: false}});
    expect(planDeploy(config('boot: {method: kexec}'), facts, {...opts, phases: ['fetch', 'compose']}).phases).toEqual(['fetch', 'compose']);
    expect(planDeploy(config(), facts, {...opts, phases: ['fetch', 'compose']}).phases).toEqual(['fetch', 'compose']);
  });

  it('carries console settings, or uses tty0 + ttyS0 when the host names none', () => {
    expect(planCmdline('root=/dev/sda1 net.ifnames=0 console=ttyS1,57600 quiet', 'test', 'nomodeset')).toBe('net.ifnames=0 console=ttyS1,57600 anemos.mode=test panic=10 rootfstype=ramfs nomodeset');
    expect(planCmdline('root=/dev/sda1', 'deploy', '')).toBe('console=tty0 console=ttyS0,115200 anemos.mode=deploy panic=10 rootfstype=ramfs');
  });

  it('plans the exec step and a GRUB entry for the bootloader method', () => {
    const plan = planDeploy(config('boot: {method: bootloader}'), fakeFacts(), opts);
    expect(planExecCommand(plan, true)).toEqual(['systemctl', 'reboot']);
    expect(planLoadCommands(plan, {kernel: '/k', initramfs: '/i'}).at(-1)).toEqual(['grub-reboot', 'anemos-deploy']);
    expect(renderGrubEntry(plan)).toContain(`linux /boot/anemos/vmlinuz ${plan.cmdline}`);
    // /boot on its own partition: GRUB's root is that partition, the files are at /anemos.
    const separate = renderGrubEntry(plan, grubBootPrefix(true));
    expect(separate).toContain('search --no-floppy --file --set=root /anemos/vmlinuz');
    expect(separate).toContain('initrd /anemos/initramfs.img');
    expect(grubBootPrefix(false)).toBe('/boot/anemos');
    expect(planExecCommand(planDeploy(config(), fakeFacts(), opts), false)).toEqual(['kexec', '-e']);
  });

  it('keeps the operator\'s own custom.cfg entries and replaces only the anemos block', () => {
    const plan = planDeploy(config('boot: {method: bootloader}'), fakeFacts(), opts);
    const entry = renderGrubEntry(plan);
    const mine = "menuentry 'rescue' {\n\tlinux /boot/rescue\n}";
    const once = mergeCustomCfg(mine, entry);
    expect(once).toBe(`${mine}\n${entry}`);
    const twice = mergeCustomCfg(once, entry.replace('anemos.mode=deploy', 'anemos.mode=test'));
    expect(twice.match(/menuentry 'anemos-deploy'/g)).toHaveLength(1);
    expect(twice).toContain("menuentry 'rescue'");
    expect(twice).toContain('anemos.mode=test');
    expect(mergeCustomCfg(undefined, entry)).toBe(entry);
  });

  it('checks RAM against the unpacked initramfs plus what the environment needs to run', () => {
    const MiB = 1048576;
    const small = fakeFacts({memory: {totalBytes: 256 * MiB, availableBytes: 200 * MiB}});
    expect(checkMemory(small, {kernel: 8 * MiB, initramfs: 40 * MiB, unpacked: 140 * MiB})).toMatch(/has 256 MiB of RAM; the deploy environment needs about 348 MiB/);
    const busy = fakeFacts({memory: {totalBytes: 2048 * MiB, availableBytes: 40 * MiB}});
    expect(checkMemory(busy, {kernel: 8 * MiB, initramfs: 40 * MiB, unpacked: 140 * MiB})).toMatch(/Only 40 MiB of RAM are free/);
    expect(checkMemory(fakeFacts(), {kernel: 8 * MiB, initramfs: 40 * MiB, unpacked: 140 * MiB})).toBeUndefined();
  });

  it('checks /boot space for the bootloader method', () => {
    const MiB = 1048576;
    expect(checkBootSpace(fakeFacts({boot: {grubCustomHook: true, bootFreeBytes: 40 * MiB}}), 60 * MiB)).toMatch(/\/boot has 40 MiB free; the deploy kernel and initramfs need 76 MiB/);
    expect(checkBootSpace(fakeFacts(), 60 * MiB)).toBeUndefined();
    expect(checkBootSpace(fakeFacts({boot: {grubCustomHook: false}}), 1)).toMatch(/could not be read/);
  });
});
