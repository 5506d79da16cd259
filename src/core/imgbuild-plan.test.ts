import {execFileSync} from 'node:child_process';
import {describe, expect, it} from 'vitest';
import {validateImgbuild, type ImgbuildSpec} from './imgbuild.js';
import {diskLayout, planImgbuild, sfdiskScript, stepPrelude, type PlanContext} from './imgbuild-plan.js';
import type {PayloadFile} from './payload-check.js';

const ctx: PlanContext = {
  root: '/mnt/target',
  payload: '/run/anemos/payload',
  work: '/run/anemos/imgbuild',
  disk: '/dev/vda',
  efi: false,
  kernelArgs: ['console=ttyS0,115200', 'net.ifnames=0'],
  networkJson: '/anemos/network.json',
  authorizedKeys: '/anemos/ssh/authorized_keys',
  hostKeysDir: '/anemos/ssh/host_keys',
};

const files: PayloadFile[] = ['IMGBUILD', 'files', 'files/etc', 'files/etc/motd.makeimg.template', 'files/etc/ssh', 'files/etc/ssh/sshd_config.makeimg.patch', 'files/etc/issue'].map((path) => ({
  path,
  mode: 0o644,
  type: path.includes('.') || path === 'IMGBUILD' || path.endsWith('issue') ? 'file' : 'dir',
}));

function spec(vars: Record<string, string>, functions = ['provision']): ImgbuildSpec {
  const v = validateImgbuild({vars: {imgname: 'web1', packages: 'openssh-server nginx', services: 'nginx', ...vars}, functions}, files);
  expect(v.errors).toEqual([]);
  return v.spec!;
}

const ids = (s: ImgbuildSpec, c = ctx) => planImgbuild(s, c).map((x) => x.id);
const script = (s: ImgbuildSpec, id: string, c = ctx) => planImgbuild(s, c).find((x) => x.id === id)!.script;

describe('IMGBUILD step plan', () => {
  it('runs the steps in makeimg order for every target', () => {
    const all = ['partition', 'bootstrap', 'files', 'patches', 'templates', 'system', 'services', 'provision', 'bootloader', 'unmount'];
    for (const target of ['debian', 'alpine']) expect(ids(spec({target})), target).toEqual(all);
    // Arch's bootstrap tarball is fetched and verified into RAM before the disk is partitioned.
    expect(ids(spec({target: 'arch'}))).toEqual(['fetch-bootstrap', ...all]);
    expect(ids(spec({target: 'debian', services: ''}, []))).toEqual(['partition', 'bootstrap', 'files', 'patches', 'templates', 'system', 'bootloader', 'unmount']);
  });

  it('debian: debootstrap minbase with init, kernel, GRUB and the packages; BIOS GRUB on the disk; update-grub', () => {
    const s = spec({target: 'debian', debian_suite: 'trixie'});
    expect(script(s, 'bootstrap')).toContain(
      'debootstrap --arch=amd64 --variant=minbase --components=main --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \\\n' +
        '  --include=systemd-sysv,udev,kmod,iproute2,netbase,dbus,linux-image-amd64,grub-pc,openssh-server,nginx trixie "$root" http://deb.debian.org/debian',
    );
    const boot = script(s, 'bootloader');
    expect(boot).toContain('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=ttyS0,115200 net.ifnames=0"');
    expect(boot).toContain('GRUB_TERMINAL="console serial"');
    expect(boot).toContain('grub-pc grub-pc/install_devices multiselect $disk');
    expect(boot).toContain('in_root grub-install --target=i386-pc "$disk"');
    expect(boot).toContain('in_root update-grub');
    expect(script(s, 'services')).toContain("in_root systemctl enable nginx");
    expect(script(s, 'system')).toContain('anemos-netconf render --format networkd --network /anemos/network.json "$root"');
  });

  it('alpine: apk.static from the mirror, run only once the signed index and it are verified, with those keys; OpenRC services, mkinitfs, grub-mkconfig', () => {
    const s = spec({target: 'alpine', alpine_version: 'v3.20'});
    const b = script(s, 'bootstrap');
    expect(b).toContain("wget -q -O \"$work/APKINDEX.tar.gz\" https://dl-cdn.alpinelinux.org/alpine/v3.20/main/x86_64/APKINDEX.tar.gz");
    const verify = b.indexOf('anemos-apk-verify --keys /usr/share/anemos/alpine-keys --index "$work/APKINDEX.tar.gz" --package "$work/apk-tools-static.apk" --name apk-tools-static');
    expect(verify).toBeGreaterThan(0);
    expect(b.indexOf('tar -xzf "$work/apk-tools-static.apk"')).toBeGreaterThan(verify);
    expect(b).toContain('-U --keys-dir /usr/share/anemos/alpine-keys -p "$root" --initdb add alpine-base linux-lts grub grub-bios openssh-server nginx');
    expect(b).not.toContain('--allow-untrusted');
    // The payload's own keys/ when it has them; unverified only when the IMGBUILD says so by name.
    const withKeys = {...spec({target: 'alpine'}), project: {...spec({target: 'alpine'}).project, keys: true}};
    expect(script(withKeys, 'bootstrap')).toContain('anemos-apk-verify --keys "$payload/keys"');
    expect(script(withKeys, 'bootstrap')).toContain('--keys-dir "$payload/keys"');
    const unverified = script(spec({target: 'alpine', alpine_unverified: 'yes'}), 'bootstrap');
    expect(unverified).toContain('--allow-untrusted');
    expect(unverified).not.toContain('anemos-apk-verify');
    expect(script(s, 'services')).toContain('ln -sf /etc/init.d/nginx "$root/etc/runlevels/default/nginx"');
    expect(script(s, 'system')).toContain('anemos-netconf render --format alpine');
    expect(script(s, 'system')).toContain('for rs in sysinit:devfs sysinit:dmesg sysinit:mdev sysinit:hwdrivers boot:modules boot:sysctl boot:hostname boot:bootmisc boot:syslog shutdown:mount-ro shutdown:killprocs shutdown:savecache boot:networking; do');
    const boot = script(s, 'bootloader');
    expect(boot).toContain('in_root mkinitfs "$kver"');
    expect(boot).toContain('in_root grub-mkconfig -o /boot/grub/grub.cfg');
  });

  it('arch: the bootstrap tarball verified (signature, sha256) in RAM before the disk, then pacstrap', () => {
    const s = spec({target: 'arch', packages: 'openssh vim'});
    const steps = planImgbuild(s, ctx);
    expect(steps[0]).toMatchObject({id: 'fetch-bootstrap', phase: 'prepare'});
    const f = steps[0].script;
    expect(f).toContain('url=https://geo.mirror.pkgbuild.com/iso/latest/archlinux-bootstrap-x86_64.tar.zst');
    expect(f).toContain('gpgv "$@" "$bs/bootstrap.tar.zst.sig" "$bs/bootstrap.tar.zst"');
    expect(f).toContain('set -- --keyring /usr/share/keyrings/archlinux.gpg');
    expect(f).toContain('[ -n "$want" ] && [ "$want" = "$got" ]');
    const b = script(s, 'bootstrap');
    expect(b).toContain('tar --zstd -xpf "$work/arch/bootstrap.tar.zst"');
    expect(b).toContain('pacstrap -K /mnt base linux grub openssh vim');
    expect(script(s, 'services')).toContain('in_root systemctl enable sshd');
    expect(script(s, 'bootloader')).toContain('in_root grub-mkconfig -o /boot/grub/grub.cfg');
  });

  it('UEFI firmware: an EFI system partition, grub-efi on the removable path and with its firmware boot entry', () => {
    const c = {...ctx, efi: true};
    const s = spec({target: 'debian', format: 'raw 4G gpt ext4'});
    expect(sfdiskScript(diskLayout(s, true)!)).toBe(`label: gpt\nstart=2048, size=524288, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nsize=${(4 * 2 ** 30) / 512}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n`);
    // The ESP is mounted by a step of its own, right after the root's (payloads/image mounts it after unpacking).
    expect(ids(s, c).slice(0, 3)).toEqual(['partition', 'esp', 'bootstrap']);
    expect(script(s, 'partition', c)).not.toContain('boot/efi');
    expect(script(s, 'esp', c)).toContain('mount "$(part 1)" "$root/boot/efi"');
    // Secure Boot ready: shim (signed by Microsoft) and Debian's signed GRUB, which grub-install uses when present.
    expect(script(s, 'bootstrap', c)).toMatch(/--include=\S*grub-efi-amd64,grub-efi-amd64-signed,shim-signed,efibootmgr/);
    const boot = script(s, 'bootloader', c);
    expect(boot).toContain('grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram');
    // The entry: only where the firmware's variables reach the chroot and the new system has efibootmgr.
    expect(boot).toMatch(/if is_mounted "\$root\/sys\/firmware\/efi\/efivars" && in_root sh -c 'command -v efibootmgr' >\/dev\/null; then\n  in_root grub-install --target=x86_64-efi --efi-directory=\/boot\/efi \|\|/);
    expect(boot).not.toContain('grub-install --target=i386-pc');
  });

  it('BIOS layouts: msdos bootable root, gpt with a BIOS boot partition; the minimum disk size', () => {
    const msdos = diskLayout(spec({target: 'debian', format: 'raw max msdos ext4'}), false)!;
    expect(sfdiskScript(msdos)).toBe('label: dos\nstart=2048, type=83, bootable\n');
    expect(msdos.minBytes).toBe(2 * 2 ** 20 + 2 * 2 ** 30);
    const gpt = diskLayout(spec({target: 'debian', format: 'raw 8G gpt ext4'}), false)!;
    expect(sfdiskScript(gpt)).toBe(`label: gpt\nstart=2048, size=2048, type=21686148-6449-6E6F-744E-656564454649\nsize=${(8 * 2 ** 30) / 512}, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n`);
    expect(gpt.minBytes).toBe(8 * 2 ** 30 + 3 * 2 ** 20);
  });

  it('custom runs setup() and cleanup(); dir writes no bootloader', () => {
    const custom = spec({target: 'debian', format: 'custom'}, ['setup', 'cleanup']);
    expect(ids(custom)[0]).toBe('setup');
    expect(script(custom, 'unmount')).toContain('cleanup');
    const dir = spec({target: 'debian', format: 'dir'}, ['setup']);
    expect(ids(dir)).not.toContain('bootloader');
    expect(script(dir, 'bootstrap')).not.toContain('grub');
  });

  it('every step script is valid sh after the prelude', () => {
    for (const target of ['debian', 'alpine', 'arch']) {
      for (const efi of [false, true]) {
        const s = spec({target, format: 'raw 8G gpt ext4'});
        for (const step of planImgbuild(s, {...ctx, efi})) {
          expect(() => execFileSync('sh', ['-n', '-c', `${stepPrelude(s, ctx)}\n${step.script}`]), `${target} ${step.id}`).not.toThrow();
        }
      }
    }
  });
});

describe('IMGBUILD step plan: what the review found', () => {
  it('never writes a kernel argument with quotes, $ or ; into /etc/default/grub', () => {
    const hostile = {...ctx, kernelArgs: ['console=ttyS0,115200', 'console=tty0"; touch /pwned; "', 'net.ifnames=$(id)']};
    const s = script(spec({target: 'debian'}), 'bootloader', hostile);
    expect(s).toContain('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=ttyS0,115200"');
    expect(s).not.toMatch(/pwned|\$\(id\)/);
  });
});
