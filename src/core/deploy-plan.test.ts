import {describe, expect, it} from 'vitest';
import {fakeFacts} from '../../test/helpers/facts.js';
import {AnemosError} from '../shared/errors.js';
import {mountOf} from './host-facts.js';
import {BOOT_METHODS} from './boot-methods/index.js';
import {grubBootPrefix, mergeCustomCfg, renderGrubEntry} from './boot-methods/grub-once.js';
import {parseConfig} from './config.js';
import {checkMemory, diskProblems, draftDeploy, planCmdline, planDeploy, PHASES, type PlanOptions} from './deploy-plan.js';
import {validateImgbuild} from './imgbuild.js';

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
    expect(BOOT_METHODS[plan.method].load(plan, {kernel: '/k', initramfs: '/i'})[1].slice(0, 3)).toEqual(['kexec', '-s', '-l']);
  });

  it('refuses a deploy without payload, missing checksums and an unusable network', () => {
    const noPayload = parseConfig(`kernel: {url: /k, sha256: ${SHA}}\ninitramfs: {url: /i}\n`, 'x', {allowUnverified: true});
    const facts = fakeFacts({network: {ok: false, code: 'network-unsupported-interface', message: 'Interface bond0 is a bond', hint: 'h'}});
    const err = preflight(() => planDeploy(noPayload, facts, opts));
    expect(err.details).toEqual([expect.stringMatching(/No sha256 for initramfs\.sha256/), expect.stringMatching(/needs a payload/), expect.stringMatching(/bond0/)]);
  });

  it('allows unverified artifacts only when asked, and says so', () => {
    const c = parseConfig(`kernel: {url: /k}\ninitramfs: {url: /i, sha256: ${SHA}}\n`, 'x', {allowUnverified: true});
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

  it('a host with ramoops passes it, its memmap= and the dump at reboot to the deploy kernel; the plan says where the outcome is kept', () => {
    const ramoops = {mem_address: '805306368', mem_size: '1048576', record_size: '65536'};
    const plan = planDeploy(config('cmdline: nomodeset'), fakeFacts({cmdline: 'root=/dev/vda1 memmap=1M$0x30000000', pstore: {efi: false, ramoops}}), opts);
    expect(plan.cmdline).toMatch(/rootfstype=ramfs memmap=1M\$0x30000000 ramoops\.mem_address=805306368 ramoops\.mem_size=1048576 ramoops\.record_size=65536 ramoops\.max_reason=4 nomodeset$/);
    expect(plan.keeper).toMatch(/pstore \(ramoops\)/);
    expect(planDeploy(config(), fakeFacts({pstore: {efi: true}}), opts).keeper).toMatch(/EFI variable AnemosLastDeploy/);
    expect(planDeploy(config(), fakeFacts(), opts).keeper).toMatch(/not kept across the reboot here/);
  });

  it('--install-kexec: a Debian host without kexec-tools gets it from apt (debconf told not to turn reboots into kexec), then kexec; an unknown distribution is a problem; nothing when kexec is there', () => {
    const bare = fakeFacts({os: {id: 'debian', idLike: []}});
    const noTool = {...bare, kexec: {...bare.kexec, tool: undefined}};
    const plan = planDeploy(config(), noTool, {...opts, installKexec: true});
    expect(plan.method).toBe('kexec');
    expect(plan.setup.map((c) => c.join(' '))).toEqual([
      'sh -c echo "kexec-tools kexec-tools/load_kexec boolean false" | debconf-set-selections',
      'env DEBIAN_FRONTEND=noninteractive apt-get update -q',
      'env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends kexec-tools',
    ]);
    expect(plan.warnings.join('\n')).toMatch(/--install-kexec installs it/);
    expect(planDeploy(config(), {...noTool, os: {id: 'ubuntu', idLike: ['debian']}}, {...opts, installKexec: true}).setup).toHaveLength(3);
    expect(planDeploy(config(), {...noTool, os: {id: 'rocky', idLike: ['rhel', 'centos', 'fedora']}}, {...opts, installKexec: true}).setup).toEqual([['dnf', 'install', '-y', 'kexec-tools']]);
    expect(draftDeploy(config(), {...noTool, os: {id: 'plan9', idLike: []}}, {...opts, installKexec: true}).problems.map((p) => p.code)).toContain('kexec-install-unknown');
    // Without the flag: the one-shot GRUB entry (boot.method auto), as before; with kexec present: nothing to install.
    expect(planDeploy(config(), noTool, opts)).toMatchObject({method: 'bootloader', setup: []});
    expect(planDeploy(config(), bare, {...opts, installKexec: true}).setup).toEqual([]);
  });

  it('plans the exec step and a GRUB entry for the bootloader method', () => {
    const plan = planDeploy(config('boot: {method: bootloader}'), fakeFacts(), opts);
    expect(BOOT_METHODS[plan.method].exec(true)).toEqual(['systemctl', 'reboot']);
    expect(BOOT_METHODS[plan.method].load(plan, {kernel: '/k', initramfs: '/i'}).at(-1)).toEqual(['grub-reboot', 'anemos-deploy']);
    expect(renderGrubEntry(plan)).toContain(`linux /boot/anemos/vmlinuz ${plan.cmdline}`);
    // /boot on its own partition: GRUB's root is that partition, the files are at /anemos.
    const separate = renderGrubEntry(plan, grubBootPrefix(true));
    expect(separate).toContain('search --no-floppy --file --set=root /anemos/vmlinuz');
    expect(separate).toContain('initrd /anemos/initramfs.img');
    expect(grubBootPrefix(false)).toBe('/boot/anemos');
    expect(BOOT_METHODS[planDeploy(config(), fakeFacts(), opts).method].exec(false)).toEqual(['kexec', '-e']);
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
    const small = fakeFacts({memory: {totalBytes: 128 * MiB, availableBytes: 100 * MiB}});
    expect(checkMemory(small, {kernel: 14 * MiB, initramfs: 16 * MiB, unpacked: 54 * MiB})).toMatch(/has 128 MiB of RAM; the deploy environment needs about 148 MiB \(54 MiB unpacked initramfs \+ 64 MiB to run\)/);
    // A 256 MB VPS (the kernel keeps some: 230 MiB) is enough for the base on QuickJS.
    expect(checkMemory(fakeFacts({memory: {totalBytes: 230 * MiB, availableBytes: 150 * MiB}}), {kernel: 14 * MiB, initramfs: 16 * MiB, unpacked: 54 * MiB})).toBeUndefined();
    const busy = fakeFacts({memory: {totalBytes: 2048 * MiB, availableBytes: 40 * MiB}});
    expect(checkMemory(busy, {kernel: 8 * MiB, initramfs: 40 * MiB, unpacked: 140 * MiB})).toMatch(/Only 40 MiB of RAM are free/);
    expect(checkMemory(fakeFacts(), {kernel: 8 * MiB, initramfs: 40 * MiB, unpacked: 140 * MiB})).toBeUndefined();
    // /run, where the payload is unpacked, is a tmpfs of half the RAM: 256 MiB leave 124 MiB for it.
    const vps = fakeFacts({memory: {totalBytes: 256 * MiB, availableBytes: 200 * MiB}});
    expect(checkMemory(vps, {kernel: 8 * MiB, initramfs: 40 * MiB, unpacked: 100 * MiB, payloadUnpacked: 120 * MiB})).toBeUndefined();
    expect(checkMemory(vps, {kernel: 8 * MiB, initramfs: 40 * MiB, unpacked: 100 * MiB, payloadUnpacked: 130 * MiB})).toBe('The payload unpacks to about 130 MiB in /run, which the deploy environment\'s kernel caps at half this machine\'s RAM (124 MiB here).');
  });

  it('checks /boot space for the bootloader method', () => {
    const MiB = 1048576;
    const room = BOOT_METHODS.bootloader.room;
    expect(room(fakeFacts({boot: {grubCustomHook: true, bootFreeBytes: 40 * MiB}}), 60 * MiB)).toMatch(/\/boot has 40 MiB free; the deploy kernel and initramfs need 76 MiB/);
    expect(room(fakeFacts(), 60 * MiB)).toBeUndefined();
    expect(room(fakeFacts({boot: {grubCustomHook: false}}), 1)).toMatch(/could not be read/);
    expect(BOOT_METHODS.kexec.room(fakeFacts({boot: {grubCustomHook: false}}), 1)).toBeUndefined();
  });
});

describe('deploy planner: what the review found', () => {
  it('firmware given as a list: sizes from the host, a missing file refused with its path', () => {
    const facts = fakeFacts({firmwareFiles: {'rtl_nic/rtl8168h-2.fw': 4096, 'bnx2/bnx2-mips-09-6.2.1b.fw': null}});
    const plan = planDeploy(config('firmware: [rtl_nic/rtl8168h-2.fw]'), facts, opts);
    expect(plan.firmware).toEqual([{path: 'rtl_nic/rtl8168h-2.fw', size: 4096}]);
    expect(planDeploy(config('firmware: [/lib/firmware/rtl_nic/rtl8168h-2.fw]'), facts, opts).firmware).toEqual([{path: 'rtl_nic/rtl8168h-2.fw', size: 4096}]);
    const err = preflight(() => planDeploy(config('firmware: [rtl_nic/rtl8168h-2.fw, bnx2/bnx2-mips-09-6.2.1b.fw, ../../etc/shadow]'), facts, opts));
    expect(err.details).toEqual([expect.stringMatching(/bnx2\/bnx2-mips-09-6\.2\.1b\.fw, but \/lib\/firmware\/bnx2\/bnx2-mips-09-6\.2\.1b\.fw does not exist/), expect.stringMatching(/"\.\.\/\.\.\/etc\/shadow", which is not a path below \/lib\/firmware/)]);
  });

  it('bootloader method: refuses a grub.cfg that does not read custom.cfg, and a /boot GRUB cannot read', () => {
    const bootloader = config('boot: {method: bootloader}');
    const boot = (b: Partial<ReturnType<typeof fakeFacts>['boot']>) => fakeFacts({boot: {...fakeFacts().boot, ...b}});
    expect(preflight(() => planDeploy(bootloader, boot({grubCustomHook: false}), opts))).toMatchObject({code: 'grub-no-custom-cfg', message: expect.stringMatching(/does not read custom\.cfg/)});
    expect(preflight(() => planDeploy(bootloader, boot({filesystem: {type: 'xfs', source: '/dev/sda1'}}), opts)).message).toMatch(/\/boot is xfs \(\/dev\/sda1\); the one-shot GRUB entry reads ext2, ext3 and ext4 only/);
    expect(preflight(() => planDeploy(bootloader, boot({filesystem: {type: 'ext4', source: '/dev/mapper/vg0-boot'}}), opts)).message).toMatch(/LVM/);
    expect(planDeploy(bootloader, boot({filesystem: {type: 'ext4', source: '/dev/vda1'}}), opts).method).toBe('bootloader');
    // auto: kexec is unusable and so is GRUB: both reasons, not a silent fallback.
    const neither = fakeFacts({kexec: {loadDisabled: true, tool: '/usr/sbin/kexec', lockdown: 'none', systemd: true}, boot: {...fakeFacts().boot, filesystem: {type: 'btrfs', source: '/dev/sda2'}}});
    expect(preflight(() => planDeploy(config(), neither, opts)).details).toEqual([expect.stringMatching(/kexec_load_disabled/), expect.stringMatching(/A one-shot GRUB entry cannot be used either: \/boot is btrfs/)]);
  });

  it('drops carried kernel arguments a bootloader configuration cannot hold, and quotes GRUB words', () => {
    const facts = fakeFacts({cmdline: 'root=/dev/vda1 console=ttyS0,115200 console="tty0;reboot" net.ifnames=$(x)'});
    const plan = planDeploy(config('boot: {method: bootloader}'), facts, opts);
    expect(plan.cmdline).toBe('console=ttyS0,115200 anemos.mode=deploy panic=10 rootfstype=ramfs');
    expect(plan.warnings).toContainEqual(expect.stringMatching(/not carried over .*console="tty0;reboot" net\.ifnames=\$\(x\)/));
    const entry = renderGrubEntry({...plan, cmdline: `${plan.cmdline} it's`});
    expect(entry).toContain("linux /boot/anemos/vmlinuz console=ttyS0,115200 anemos.mode=deploy panic=10 rootfstype=ramfs 'it'\\''s'");
  });

  it('draftDeploy returns the plan with every problem, for --dry-run', () => {
    const plan = draftDeploy(config('boot: {method: kexec}'), fakeFacts({isRoot: false, kexec: {loadDisabled: false, lockdown: 'none', systemd: true}}), opts);
    expect(plan.problems.map((p) => p.code)).toEqual(['not-root', 'no-kexec']);
    expect(plan.artifacts).toHaveLength(3);
  });
});

describe('deploy planner: the target disk and the payload, before the reboot', () => {
  const GiB = 2 ** 30;
  const facts = fakeFacts({disks: [{name: 'vda', sizeBytes: 20 * GiB, partitions: ['vda1', 'vda2']}, {name: 'vdb', sizeBytes: 4 * GiB, partitions: []}]});
  const imgbuild = (format: string) =>
    validateImgbuild({vars: {imgname: 'web1', target: 'debian', format, packages: 'openssh-server'}, functions: []}, [{path: 'IMGBUILD', mode: 0o644, type: 'file'}]).spec!;
  const codes = (disk: string | undefined, format?: string) => diskProblems(disk, facts, format ? {kind: 'IMGBUILD', imgbuild: imgbuild(format), errors: [], warnings: []} : undefined).problems.map((p) => p.code);

  it('deploy.disk must be a whole disk this host has; the message lists the disks', () => {
    expect(codes('/dev/vda')).toEqual([]);
    expect(codes('/dev/vda1')).toEqual(['disk-is-partition']);
    expect(codes('/dev/sda')).toEqual(['disk-missing']);
    expect(diskProblems('/dev/sda', facts, undefined).problems[0]!.message).toBe('deploy.disk is /dev/sda, and there is no such disk (disks: /dev/vda (20.0 GiB), /dev/vdb (4.0 GiB)).');
    // A link is found in the deploy environment: said, not refused; nothing known about the host's disks: nothing said.
    expect(diskProblems('/dev/disk/by-id/virtio-abc', facts, undefined)).toEqual({problems: [], warnings: [expect.stringMatching(/is a link/)]});
    expect(diskProblems('/dev/sda', fakeFacts(), undefined)).toEqual({problems: [], warnings: []});
  });

  it('an IMGBUILD that partitions needs deploy.disk, and a disk large enough for its format', () => {
    expect(codes(undefined, 'raw 8G msdos ext4')).toEqual(['imgbuild-no-disk']);
    expect(codes(undefined, 'dir')).toEqual([]);
    expect(codes('/dev/vda', 'raw 8G msdos ext4')).toEqual([]);
    expect(codes('/dev/vdb', 'raw 8G msdos ext4')).toEqual(['disk-too-small']);
    expect(codes('/dev/vdb', 'raw max gpt ext4')).toEqual([]);
  });

  it('the plan carries them with the payload\'s own errors, all at once', () => {
    const check = {kind: 'deploy' as const, errors: ['deploy is not executable', 'deploy: line 2: syntax error'], warnings: []};
    const plan = draftDeploy({...config(), deploy: {...config().deploy, disk: '/dev/sdq'}}, facts, {...opts, payloadCheck: check});
    expect(plan.problems.map((p) => p.code)).toEqual(['payload-invalid', 'disk-missing']);
    expect(plan.problems[0]!.message).toMatch(/deploy is not executable; deploy: line 2: syntax error/);
  });
});

describe('the mount that holds /boot', () => {
  const info = [
    '22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro',
    '30 22 254:2 / /boot rw,relatime shared:9 - xfs /dev/vda2 rw',
    '31 22 0:5 / /boot\\040old rw - tmpfs tmpfs rw',
    '40 22 0:26 / /run rw - tmpfs tmpfs rw',
  ].join('\n');
  it('is the longest mount point above the path', () => {
    expect(mountOf(info, '/boot')).toEqual({mountPoint: '/boot', type: 'xfs', source: '/dev/vda2'});
    expect(mountOf(info, '/boot old')).toEqual({mountPoint: '/boot old', type: 'tmpfs', source: 'tmpfs'});
    expect(mountOf(info, '/bootx')).toEqual({mountPoint: '/', type: 'ext4', source: '/dev/vda1'});
  });
});
