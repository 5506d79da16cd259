// Arch: the official bootstrap tarball, downloaded into RAM and verified before the disk is
// touched (its OpenPGP signature against the Arch keyring: Debian's archlinux-keyring in the
// deploy environment, or the keyrings in the payload's keys/; and the release's sha256),
// then unpacked on the new root (it is ~600 MiB unpacked, too big for RAM) and pacstrap run
// from inside it. systemd-networkd by MAC, GRUB from the grub package.

import {shellQuote as q} from '../../shared/shell.js';
import {RAM_KEEP_KIB} from '../boot-contract.js';
import {unique} from '../list.js';
import {NETWORKD_ENABLE, systemctlEnable} from './systemd.js';
import {MIRROR_FORM, type Target} from './target.js';

export const ARCH_KEYRING = '/usr/share/keyrings/archlinux.gpg';

export const arch: Target = {
  osReleaseIds: ['arch', 'archlinux'],
  options: {
    arch_mirror: {default: 'https://geo.mirror.pkgbuild.com', form: MIRROR_FORM, expected: 'an http(s) URL', url: true},
  },
  summary: () => 'arch',
  defaultKernel: 'linux',
  network: {format: 'networkd', names: 'host', enable: NETWORKD_ENABLE},
  sshService: (packages) => (packages.includes('openssh') ? 'sshd' : null),
  prepare(spec) {
    const url = `${spec.options.arch_mirror!}/iso/latest/archlinux-bootstrap-x86_64.tar.zst`;
    return [
      {
        id: 'fetch-bootstrap',
        phase: 'prepare',
        title: `download the Arch bootstrap tarball into RAM and verify its signature and sha256 (before any disk is written)`,
        script: `bs="$work/arch"
mkdir -p "$bs"
url=${q(url)}
wget -q -O "$bs/sha256sums.txt" ${q(`${spec.options.arch_mirror!}/iso/latest/sha256sums.txt`)}
need_kb=$(wget -q --spider -S "$url" 2>&1 | awk 'tolower($1) == "content-length:" {print int($2 / 1024)}' | tail -1)
avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
if [ -n "$need_kb" ] && [ "$need_kb" -gt $((avail_kb - ${RAM_KEEP_KIB})) ]; then
  echo "the Arch bootstrap tarball ($need_kb KiB) does not fit in free RAM ($avail_kb KiB, of which ${RAM_KEEP_KIB} KiB stay free for the deploy environment): use a machine with more RAM" >&2
  exit 1
fi
wget -q -O "$bs/bootstrap.tar.zst" "$url"
wget -q -O "$bs/bootstrap.tar.zst.sig" "$url.sig" || { echo "no signature at $url.sig: the tarball cannot be verified" >&2; exit 1; }
# The payload's keys/*.gpg (binary OpenPGP keyrings) replace Debian's archlinux-keyring.
set --
for k in "$payload"/keys/*.gpg; do [ -f "$k" ] && set -- "$@" --keyring "$k"; done
[ $# -gt 0 ] || set -- --keyring ${ARCH_KEYRING}
if ! gpgv "$@" "$bs/bootstrap.tar.zst.sig" "$bs/bootstrap.tar.zst"; then
  echo "the Arch bootstrap tarball's signature does not verify against $*: refusing it" >&2
  exit 1
fi
want=$(awk '$2 == "archlinux-bootstrap-x86_64.tar.zst" {print $1}' "$bs/sha256sums.txt")
got=$(sha256sum "$bs/bootstrap.tar.zst" | cut -d' ' -f1)
[ -n "$want" ] && [ "$want" = "$got" ] || { echo "bootstrap tarball sha256 $got does not match sha256sums.txt ($want)" >&2; exit 1; }
echo "Arch bootstrap tarball: signature good, sha256 $got"
`,
      },
    ];
  },
  bootstrap(spec, _ctx, bootloaderPackages) {
    const pkgs = unique(['base', ...bootloaderPackages, ...spec.packages]);
    return {
      id: 'bootstrap',
      phase: 'bootstrap',
      title: `Arch bootstrap tarball (verified) unpacked on the new root, then pacstrap ${pkgs.length} packages from ${spec.options.arch_mirror!}`,
      script: `bs="$root/.anemos-bootstrap"
mkdir -p "$bs"
tar --zstd -xpf "$work/arch/bootstrap.tar.zst" -C "$bs" --numeric-owner
rm -f "$work/arch/bootstrap.tar.zst"
br="$bs/root.x86_64"
${spec.project.pacmanConf ? 'cp "$payload/pacman.conf" "$br/etc/pacman.conf"\n' : ''}printf 'Server = %s/$repo/os/$arch\\n' ${q(spec.options.arch_mirror!)} > "$br/etc/pacman.d/mirrorlist"
cp -L /etc/resolv.conf "$br/etc/resolv.conf"
mount --bind "$br" "$br"
for d in dev dev/pts proc sys; do mount --bind "/$d" "$br/$d"; done
mount --bind "$root" "$br/mnt"
rc=0
chroot "$br" /usr/bin/env -i PATH=/usr/bin HOME=/root sh -c 'pacman-key --init && pacman-key --populate archlinux && pacstrap -K /mnt ${pkgs.join(' ')}' || rc=$?
umount "$br/mnt"; for d in sys proc dev/pts dev; do umount "$br/$d"; done; umount "$br"
rm -rf "$bs"
${spec.project.pacmanConf ? 'cp "$payload/pacman.conf" "$root/etc/pacman.conf"\n' : ''}exit $rc
`,
    };
  },
  enableServices: systemctlEnable,
  bootloader: {
    packages: (efi) => ['grub', ...(efi ? ['efibootmgr'] : [])],
    before: () => '',
    mkconfig: 'in_root grub-mkconfig -o /boot/grub/grub.cfg',
  },
  warnings: (project) => (project.repositories ? ['repositories is used by targets "debian" and "alpine"; target "arch" reads pacman.conf.'] : []),
};
