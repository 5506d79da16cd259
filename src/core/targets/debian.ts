// Debian: debootstrap from the Debian mirror (its keyring in the deploy environment checks
// the Release signatures), systemd-networkd by MAC, GRUB from grub-pc, or for UEFI
// grub-efi-amd64 with shim and signed GRUB (the system boots with Secure Boot on).

import {shellQuote as q} from '../../shared/shell.js';
import {unique} from '../list.js';
import {NETWORKD_ENABLE, systemctlEnable} from './systemd.js';
import {MIRROR_FORM, type Target} from './target.js';
import {LIVE_CONFFS} from '../boot-contract.js';

export const debian: Target = {
  osReleaseIds: ['debian', 'ubuntu'],
  options: {
    debian_suite: {default: 'stable', form: /^[a-z0-9][a-z0-9.-]*$/, expected: 'a suite name (stable, trixie, bookworm, ...)'},
    debian_mirror: {default: 'http://deb.debian.org/debian', form: MIRROR_FORM, expected: 'an http(s) URL', url: true},
  },
  summary: (spec) => `debian ${spec.options.debian_suite}`,
  defaultKernel: 'linux-image-amd64',
  network: {format: 'networkd', names: 'host', enable: NETWORKD_ENABLE},
  // openssh-server enables ssh.service itself when it is installed.
  sshService: () => null,
  bootstrap(spec, _ctx, bootloaderPackages) {
    // minbase plus what a server needs to boot and be reached: init, udev, the kernel and GRUB.
    const include = unique(['systemd-sysv', 'udev', 'kmod', 'iproute2', 'netbase', 'dbus', ...bootloaderPackages, ...spec.packages]);
    const keyring = '/usr/share/keyrings/debian-archive-keyring.gpg';
    return {
      id: 'bootstrap',
      phase: 'bootstrap',
      title: `debootstrap ${spec.options.debian_suite} from ${spec.options.debian_mirror} (${include.length} packages asked for, with their dependencies)`,
      script: `debootstrap --arch=amd64 --variant=minbase --components=main --keyring=${keyring} \\
  --include=${include.join(',')} ${q(spec.options.debian_suite!)} "$root" ${q(spec.options.debian_mirror!)}
${spec.project.repositories ? `mkdir -p "$root/etc/apt/sources.list.d"\ncp "$payload/repositories" "$root/etc/apt/sources.list.d/anemos.list"\n` : ''}${spec.project.keys ? `mkdir -p "$root/etc/apt/keyrings"\ncp -R "$payload/keys/." "$root/etc/apt/keyrings/"\n` : ''}`,
    };
  },
  enableServices: systemctlEnable,
  bootloader: {
    // UEFI: also the Secure Boot chain Debian signs (shim signed by Microsoft, GRUB signed by
    // Debian), which grub-install puts in place when it finds it, and efibootmgr for the entry.
    packages: (efi) => (efi ? ['grub-efi-amd64', 'grub-efi-amd64-signed', 'shim-signed', 'efibootmgr'] : ['grub-pc']),
    // grub-pc asks debconf where to install; answer it so later upgrades reinstall there.
    before: (ctx) => (ctx.efi ? '' : `echo "grub-pc grub-pc/install_devices multiselect $disk" | in_root debconf-set-selections\n`),
    mkconfig: 'in_root update-grub',
  },
  warnings: (project) => (project.pacmanConf ? ['pacman.conf is used by target "arch" only.'] : []),
  // mmdebstrap in unshare mode (user namespaces: no root, on a workstation or a CI runner):
  // Debian's own, reproducible with SOURCE_DATE_EPOCH, and it writes a tar, which a layer is
  // cut from without extracting anything. The chain is replayed from its bottom layer up: its
  // packages, then each layer's files/, provision() and services, in order. On a parent known
  // only by its layers (from= a URL), its tree is unpacked first and the chain's packages are
  // installed over it (mmdebstrap's custom variant, as its manual shows for a chroot refined
  // further): the apt of the parent's system, with the dpkg database it has.
  liveTree: (chain, out, epoch, parent) => {
    const bottom = chain[0]!.spec;
    // kernel=none: a layer that carries no kernel of its own (a child, or a tree another kernel boots).
    const packages = [...new Set(chain.flatMap((l) => [...(l.spec.kernel === 'none' ? [] : [l.spec.kernel]), ...l.spec.packages]))];
    const hooks: string[] = parent ? [`tar -C "$1" -x < ${q(parent)}`] : [];
    const setupHooks = hooks.length;
    for (const l of chain) {
      const at = (p: string) => q(`${l.dir}/${p}`);
      if (l.spec.project.files) hooks.push(`tar -C ${at('files')} --owner=0 --group=0 --numeric-owner -c . | tar -C "$1" -x`);
      // A host's own files, rendered into its host layer at boot: carried in the layer, where every host finds them.
      if (l.spec.project.conffs) hooks.push(`mkdir -p "$1${LIVE_CONFFS}" && tar -C ${at('conffs')} --owner=0 --group=0 --numeric-owner -c . | tar -C "$1${LIVE_CONFFS}" -x`);
      if (l.spec.functions.provision) {
        hooks.push(`mkdir -p "$1/run/anemos-build" && cp ${at('IMGBUILD')} "$1/run/anemos-build/IMGBUILD" && chroot "$1" sh -c 'cd /run/anemos-build && . ./IMGBUILD && provision' && rm -rf "$1/run/anemos-build"`);
      }
      if (l.spec.services.length) hooks.push(`chroot "$1" systemctl enable ${l.spec.services.map(q).join(' ')}`);
    }
    // openssh-server made host keys when it was installed: a layer is shared by every host that boots it, so
    // its keys would be everyone's. Each host gets its own in its host layer at boot (carried, or made there).
    hooks.push('rm -f "$1"/etc/ssh/ssh_host_*');
    return {
      cmd: 'mmdebstrap',
      args: [
        '--mode=unshare',
        parent ? '--variant=custom' : '--variant=minbase',
        ...(packages.length ? [`--include=${packages.join(',')}`] : []),
        ...hooks.map((h, i) => `--${i < setupHooks ? 'setup' : 'customize'}-hook=${h}`),
        bottom.options.debian_suite!,
        out,
        bottom.options.debian_mirror!,
      ],
      env: {SOURCE_DATE_EPOCH: String(epoch)},
    };
  },
};
