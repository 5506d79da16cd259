// Alpine: apk.static from the Alpine mirror, trusted only once anemos-apk-verify has checked
// the index's signature against Alpine's keys (keys/, or those in the deploy environment,
// from Debian's alpine-chroot-install) and apk-tools-static against the index; OpenRC,
// /etc/network/interfaces written with the kernel's interface names (Alpine does not rename
// NICs: the first one is eth0 there, whatever the old system called it), GRUB + mkinitfs.

import {shellQuote as q} from '../../shared/shell.js';
import {unique} from '../list.js';
import {MIRROR_FORM, type Target} from './target.js';

/** Alpine's signing keys in the deploy environment (initramfs/build.sh takes them from Debian's alpine-chroot-install). */
export const ALPINE_KEYS = '/usr/share/anemos/alpine-keys';

// The runlevels setup-alpine enables (runlevel:service); apk into an empty root enables none.
const RUNLEVELS = 'sysinit:devfs sysinit:dmesg sysinit:mdev sysinit:hwdrivers boot:modules boot:sysctl boot:hostname boot:bootmisc boot:syslog shutdown:mount-ro shutdown:killprocs shutdown:savecache boot:networking';

export const alpine: Target = {
  osReleaseIds: ['alpine'],
  options: {
    alpine_version: {default: 'latest-stable', form: /^(latest-stable|edge|v\d+\.\d+)$/, expected: 'like v3.20, latest-stable or edge'},
    alpine_mirror: {default: 'https://dl-cdn.alpinelinux.org/alpine', form: MIRROR_FORM, expected: 'an http(s) URL', url: true},
    // yes: apk.static, the index and the packages unchecked (said as a warning).
    alpine_unverified: {default: 'no', form: /^(yes|no)$/, expected: 'yes or no'},
  },
  summary: (spec) => `alpine ${spec.options.alpine_version}`,
  defaultKernel: 'linux-lts',
  network: {
    format: 'alpine',
    names: 'kernel',
    enable: `for rs in ${RUNLEVELS}; do
  level=\${rs%%:*}; svc=\${rs#*:}
  [ -e "$root/etc/init.d/$svc" ] || continue
  mkdir -p "$root/etc/runlevels/$level"; ln -sf "/etc/init.d/$svc" "$root/etc/runlevels/$level/$svc"
done
`,
  },
  sshService: (packages) => (packages.includes('openssh') || packages.includes('openssh-server') ? 'sshd' : null),
  bootstrap(spec, _ctx, bootloaderPackages) {
    const repo = `${spec.options.alpine_mirror}/${spec.options.alpine_version}`;
    const pkgs = unique(['alpine-base', ...bootloaderPackages, ...spec.packages]);
    const keys = spec.project.keys ? '"$payload/keys"' : ALPINE_KEYS;
    const unverified = spec.options.alpine_unverified === 'yes';
    return {
      id: 'bootstrap',
      phase: 'bootstrap',
      title: `apk.static from ${repo}: ${pkgs.length} packages${unverified ? ' (UNVERIFIED: alpine_unverified=yes)' : ''}`,
      script: `mkdir -p "$work/apk"
wget -q -O "$work/APKINDEX.tar.gz" ${q(`${repo}/main/x86_64/APKINDEX.tar.gz`)}
v=$(tar -xzOf "$work/APKINDEX.tar.gz" APKINDEX | awk '/^P:apk-tools-static$/ {f = 1} f && /^V:/ {print substr($0, 3); exit}')
[ -n "$v" ] || { echo "apk-tools-static is not in ${repo}/main" >&2; exit 1; }
wget -q -O "$work/apk-tools-static.apk" ${q(`${repo}/main/x86_64/`)}"apk-tools-static-$v.apk"
${
        unverified
          ? 'echo "apk-tools-static and the index are NOT checked (alpine_unverified=yes)" >&2'
          : `# Nothing of Alpine runs before this: the index signed by one of the keys, apk.static as the signed index names it.
anemos-apk-verify --keys ${keys} --index "$work/APKINDEX.tar.gz" --package "$work/apk-tools-static.apk" --name apk-tools-static`
      }
tar -xzf "$work/apk-tools-static.apk" -C "$work/apk" 2>/dev/null || true
[ -x "$work/apk/sbin/apk.static" ] || { echo "apk.static did not unpack" >&2; exit 1; }
${spec.project.repositories ? `repos=$(grep -v '^[[:space:]]*#' "$payload/repositories" | awk 'NF {printf " -X %s", $1}')` : `repos="-X ${repo}/main -X ${repo}/community"`}
mkdir -p "$root/etc/apk/keys"
cp -R ${keys}/. "$root/etc/apk/keys/"
# shellcheck disable=SC2086
"$work/apk/sbin/apk.static" $repos -U ${unverified ? '--allow-untrusted' : `--keys-dir ${keys}`} -p "$root" --initdb add ${pkgs.join(' ')}
${spec.project.repositories ? 'cp "$payload/repositories" "$root/etc/apk/repositories"' : `printf '%s\\n' ${q(`${repo}/main`)} ${q(`${repo}/community`)} > "$root/etc/apk/repositories"`}
`,
    };
  },
  enableServices: (services) =>
    `${services.map((s) => `[ -e "$root/etc/init.d/${s}" ] || { echo "service ${s}: /etc/init.d/${s} does not exist in the new system" >&2; exit 1; }\nmkdir -p "$root/etc/runlevels/default"\nln -sf /etc/init.d/${s} "$root/etc/runlevels/default/${s}"`).join('\n')}\n`,
  bootloader: {
    packages: (efi) => ['grub', efi ? 'grub-efi' : 'grub-bios'],
    // The initramfs must find the root: mkinitfs with the drivers a VPS or server needs.
    before: () => `sed -i 's/^features="\\(.*\\)"/features="\\1 virtio nvme ext4"/' "$root/etc/mkinitfs/mkinitfs.conf"
kver=$(ls "$root/lib/modules" | head -1)
in_root mkinitfs "$kver"
printf 'GRUB_CMDLINE_LINUX_DEFAULT="modules=ext4 rootfstype=ext4"\\n' >> "$root/etc/default/grub"
`,
    mkconfig: 'in_root grub-mkconfig -o /boot/grub/grub.cfg',
  },
  warnings: (project, vars) => [
    ...(project.pacmanConf ? ['pacman.conf is used by target "arch" only.'] : []),
    ...((vars.alpine_unverified ?? '').trim() === 'yes'
      ? ['UNVERIFIED: alpine_unverified=yes: neither apk.static nor the index nor the packages are checked against Alpine\'s keys (apk.static runs with --allow-untrusted); anything on the way to the mirror can replace them.']
      : []),
  ],
};
