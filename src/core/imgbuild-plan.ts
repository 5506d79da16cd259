// The IMGBUILD step plan (pure): which sh script runs in which order to turn the target
// disk into the system an IMGBUILD describes. The agent writes the scripts to
// /run/anemos/imgbuild/steps/ and runs them one by one (each logged with its duration);
// an operator who SSHes in after a failure can read and rerun them.
//
// Order (makeimg's, with a disk as the image): the target's downloads into RAM (before any
// write) -> partition + mkfs + mount -> bootstrap -> files -> patches -> templates ->
// fstab, hostname, network, keys -> services -> provision() -> bootloader -> unmount.
// What differs between distributions is asked of the target's module (core/targets/).

import {shellQuote as q} from '../shared/shell.js';
import {KERNEL_ARG} from './kernel-args.js';
import type {ImgbuildSpec, ImgStep, PlanContext, StepPhase} from './imgbuild-spec.js';
import {unique} from './list.js';
import {TARGET_MODULES} from './targets/index.js';

export type {ImgStep, PlanContext, StepPhase};

const SECTOR = 512;
const MIB = 2 ** 20;
const ESP_MIB = 256;

export interface DiskLayout {
  table: 'msdos' | 'gpt';
  partitions: {n: number; role: 'bios_grub' | 'esp' | 'root'; sizeBytes: number | null}[];
  /** Bytes the layout needs on the disk (the root size plus the space around it). */
  minBytes: number;
}

export function diskLayout(spec: ImgbuildSpec, efi: boolean): DiskLayout | undefined {
  const f = spec.format;
  if (f.kind !== 'raw') return undefined;
  const parts: DiskLayout['partitions'] = [];
  if (efi) parts.push({n: 1, role: 'esp', sizeBytes: ESP_MIB * MIB});
  else if (f.table === 'gpt') parts.push({n: 1, role: 'bios_grub', sizeBytes: MIB});
  parts.push({n: parts.length + 1, role: 'root', sizeBytes: f.size});
  // 1 MiB before the first partition, the GPT backup at the end, and a minimum root when "max".
  const fixed = parts.reduce((s, p) => s + (p.sizeBytes ?? 0), 0) + 2 * MIB;
  return {table: f.table, partitions: parts, minBytes: fixed + (f.size === null ? 2 * 2 ** 30 : 0)};
}

/** sfdisk input for the layout (sizes in sectors, first partition at 1 MiB). */
export function sfdiskScript(layout: DiskLayout): string {
  const type = (role: DiskLayout['partitions'][number]['role']) =>
    layout.table === 'gpt'
      ? {bios_grub: '21686148-6449-6E6F-744E-656564454649', esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', root: '0FC63DAF-8483-4772-8E79-3D69D8477DE4'}[role]
      : {bios_grub: '83', esp: 'ef', root: '83'}[role];
  const lines = [`label: ${layout.table === 'gpt' ? 'gpt' : 'dos'}`];
  layout.partitions.forEach((p, i) => {
    const fields = [i === 0 ? `start=${MIB / SECTOR}` : '', p.sizeBytes !== null ? `size=${p.sizeBytes / SECTOR}` : '', `type=${type(p.role)}`];
    if (layout.table === 'msdos' && p.role === 'root') fields.push('bootable');
    lines.push(fields.filter(Boolean).join(', '));
  });
  return `${lines.join('\n')}\n`;
}

/** Shell functions and variables every step script starts with. */
export function stepPrelude(spec: ImgbuildSpec, ctx: PlanContext): string {
  return `set -eu
root=${q(ctx.root)}
payload=${q(ctx.payload)}
work=${q(ctx.work)}
disk=${q(ctx.disk ?? '')}
imgname=${q(spec.imgname)}
target=${q(spec.target)}
export DEBIAN_FRONTEND=noninteractive
part() { case $disk in *[0-9]) echo "\${disk}p$1" ;; *) echo "\${disk}$1" ;; esac; }
is_mounted() { awk -v m="$1" '$2 == m {f = 1} END {exit !f}' /proc/mounts; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
# chroot with the kernel's file systems and the deploy environment's DNS; undone on exit.
bind_system() {
  for d in dev dev/pts proc sys run; do mkdir -p "$root/$d"; is_mounted "$root/$d" || mount --bind "/$d" "$root/$d"; done
  # The firmware's variables (a mount of their own under /sys): grub-install's efibootmgr writes the boot entry there.
  [ ! -d /sys/firmware/efi/efivars ] || is_mounted "$root/sys/firmware/efi/efivars" || ! is_mounted /sys/firmware/efi/efivars || mount --bind /sys/firmware/efi/efivars "$root/sys/firmware/efi/efivars"
  carry_resolver
}
# The deploy environment's resolver into the chroot, the new system's own kept aside. A boot
# network whose DHCP names no DNS server leaves the deploy environment none: the chroot then
# gets an empty one (a deploy must not need a resolver it was not given).
carry_resolver() {
  resolv=\${ANEMOS_RESOLV_CONF:-/etc/resolv.conf}
  if [ ! -e "$root/etc/.resolv.conf.anemos" ] && [ ! -L "$root/etc/.resolv.conf.anemos" ]; then
    if [ -e "$root/etc/resolv.conf" ] || [ -L "$root/etc/resolv.conf" ]; then mv "$root/etc/resolv.conf" "$root/etc/.resolv.conf.anemos"; else : > "$root/etc/.resolv.conf.anemos.none"; fi
    if [ -e "$resolv" ]; then cp -L "$resolv" "$root/etc/resolv.conf"; else : > "$root/etc/resolv.conf"; fi
  fi
}
unbind_system() {
  for d in run sys/firmware/efi/efivars sys proc dev/pts dev; do ! is_mounted "$root/$d" || umount "$root/$d"; done
  if [ -e "$root/etc/.resolv.conf.anemos" ] || [ -L "$root/etc/.resolv.conf.anemos" ]; then rm -f "$root/etc/resolv.conf"; mv "$root/etc/.resolv.conf.anemos" "$root/etc/resolv.conf"; fi
  if [ -e "$root/etc/.resolv.conf.anemos.none" ]; then rm -f "$root/etc/resolv.conf" "$root/etc/.resolv.conf.anemos.none"; fi
}
`;
}

function diskSteps(spec: ImgbuildSpec, ctx: PlanContext): ImgStep[] {
  const f = spec.format;
  if (f.kind !== 'raw') {
    return [
      {
        id: 'setup',
        title: `setup() prepares the disk and mounts the new root (format ${f.kind})`,
        phase: 'disk',
        script: `mkdir -p "$root"\ncd "$payload"\n. ./IMGBUILD\nsetup\nis_mounted "$root" || { echo "setup() returned, but nothing is mounted at $root" >&2; exit 1; }\n`,
      },
    ];
  }
  const layout = diskLayout(spec, ctx.efi)!;
  const rootN = layout.partitions.find((p) => p.role === 'root')!.n;
  const esp = layout.partitions.find((p) => p.role === 'esp');
  const steps: ImgStep[] = [
    {
      id: 'partition',
      title: `partition ${ctx.disk} (${layout.table}, root ${f.sizeText}${esp ? ', EFI system partition 256 MiB' : ''}), make file systems, mount the root`,
      phase: 'disk',
      script: `wipefs -a -q "$disk"
sfdisk -q --wipe always "$disk" <<'SFDISK'
${sfdiskScript(layout).trimEnd()}
SFDISK
blockdev --rereadpt "$disk" 2>/dev/null || partx -u "$disk" 2>/dev/null || true
i=0; while [ ! -b "$(part ${rootN})" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b "$(part ${rootN})" ] || { echo "partition $(part ${rootN}) did not appear" >&2; exit 1; }
mkfs.${f.fs} -q -F -L root "$(part ${rootN})"
${esp ? `mkfs.vfat -F 32 -n EFI "$(part ${esp.n})" >/dev/null\n` : ''}mkdir -p "$root"
mount "$(part ${rootN})" "$root"
`,
    },
  ];
  // A step of its own: a payload that unpacks a tree onto the root (payloads/image) mounts
  // the ESP after it, since tar cannot give FAT's mount point an owner.
  if (esp) steps.push({id: 'esp', title: `mount the EFI system partition at /boot/efi`, phase: 'disk', script: `mkdir -p "$root/boot/efi"\nis_mounted "$root/boot/efi" || mount "$(part ${esp.n})" "$root/boot/efi"\n`});
  return steps;
}

function bootstrapStep(spec: ImgbuildSpec, ctx: PlanContext): ImgStep {
  const target = TARGET_MODULES[spec.target];
  const boot = spec.format.kind !== 'dir' ? [spec.kernel, ...target.bootloader.packages(ctx.efi)] : [];
  return target.bootstrap(spec, ctx, boot);
}

/** files/, secrets/, patches, templates: the project folders, target-independent. */
function projectSteps(spec: ImgbuildSpec): ImgStep[] {
  const steps: ImgStep[] = [];
  const copyTree = (dir: string, extra = '') =>
    `(cd "$payload/${dir}" && tar --owner=0 --group=0 --numeric-owner --exclude='*.makeimg.patch' --exclude='*.makeimg.template' -cf - .) | tar -xpf - -C "$root" --no-overwrite-dir --numeric-owner\n${extra}`;
  if (spec.project.files) {
    steps.push({id: 'files', title: 'copy files/ into the new root (root-owned, modes kept)', phase: 'customise', script: copyTree('files')});
  }
  if (spec.project.secrets) {
    steps.push({
      id: 'secrets',
      title: 'copy secrets/ into the new root (root-owned, readable by root only)',
      phase: 'customise',
      script: copyTree('secrets', `(cd "$payload/secrets" && find . -type f) | while IFS= read -r f; do chmod go-rwx "$root/$f"; done\n`),
    });
  }
  if (spec.patches.length) {
    const pairs = spec.patches.map((p) => `${q(p)} ${q(`/${p.slice('files/'.length, -'.makeimg.patch'.length)}`)}`);
    steps.push({
      id: 'patches',
      title: `apply ${spec.patches.length} patch${spec.patches.length > 1 ? 'es' : ''} (all checked with --dry-run first)`,
      phase: 'customise',
      script: `set -- ${pairs.join(' ')}
check() { while [ $# -gt 0 ]; do
  [ -f "$root$2" ] || { echo "$1: $2 does not exist in the new system" >&2; exit 1; }
  patch -N --dry-run -i "$payload/$1" "$root$2" >/dev/null || { echo "$1 does not apply to $2" >&2; exit 1; }
  shift 2; done; }
check "$@"
while [ $# -gt 0 ]; do patch -N -i "$payload/$1" "$root$2"; shift 2; done
`,
    });
  }
  if (spec.templates.length) {
    steps.push({
      id: 'templates',
      title: `install ${spec.templates.length} rendered template${spec.templates.length > 1 ? 's' : ''}`,
      phase: 'customise',
      // Rendered by the agent before the disk was touched (an unknown variable stops it there).
      script: `(cd "$work/templates" && tar --owner=0 --group=0 --numeric-owner -cf - .) | tar -xpf - -C "$root" --no-overwrite-dir --numeric-owner\n`,
    });
  }
  return steps;
}

function systemStep(spec: ImgbuildSpec, ctx: PlanContext): ImgStep {
  const {format: net, names, enable: enableNet} = TARGET_MODULES[spec.target].network;
  return {
    id: 'system',
    title: `fstab, hostname, network (${net}, ${names === 'kernel' ? 'by the kernel\'s interface names' : 'by MAC'}), authorized keys, SSH host keys`,
    phase: 'customise',
    script: `${spec.format.kind === 'dir' ? '' : `# fstab from what is mounted under the new root, by UUID
awk -v r="$root" '$1 ~ "^/dev/" && ($2 == r || index($2, r "/") == 1) {print $1, $2, $3}' /proc/mounts | while read -r dev dir fs; do
  uuid=$(blkid -s UUID -o value "$dev")
  mp=\${dir#"$root"}; [ -n "$mp" ] || mp=/
  case $fs in vfat) opts=umask=0077 pass=2 ;; ext*) opts=errors=remount-ro pass=1 ;; *) opts=defaults pass=2 ;; esac
  [ "$mp" = / ] || [ "$pass" != 1 ] || pass=2
  printf 'UUID=%s %s %s %s 0 %s\\n' "$uuid" "$mp" "$fs" "$opts" "$pass"
done > "$root/etc/fstab"
`}hn=\${ANEMOS_HOSTNAME:-$imgname}
short=\${hn%%.*}
echo "$short" > "$root/etc/hostname"
if ! grep -q "[[:space:]]$short\\$" "$root/etc/hosts" 2>/dev/null; then
  [ -s "$root/etc/hosts" ] || printf '127.0.0.1\\tlocalhost\\n::1\\t\\tlocalhost ip6-localhost ip6-loopback\\n' > "$root/etc/hosts"
  if [ "$hn" = "$short" ]; then printf '127.0.1.1\\t%s\\n' "$short"; else printf '127.0.1.1\\t%s %s\\n' "$hn" "$short"; fi >> "$root/etc/hosts"
fi
anemos-netconf render --format ${net}${names === 'kernel' ? ' --names kernel' : ''} --network ${q(ctx.networkJson)} "$root"
${enableNet}mkdir -p "$root/root/.ssh"
chmod 700 "$root/root/.ssh"
cp ${q(ctx.authorizedKeys)} "$root/root/.ssh/authorized_keys"
chmod 600 "$root/root/.ssh/authorized_keys"
# The old system's SSH identity, so known_hosts entries stay valid (when sshd is installed).
if [ -d "$root/etc/ssh" ] && [ -d ${q(ctx.hostKeysDir)} ]; then
  for k in ${q(ctx.hostKeysDir)}/ssh_host_*_key; do
    [ -f "$k" ] || continue
    install_key="$root/etc/ssh/$(basename "$k")"
    cp "$k" "$install_key"; chmod 600 "$install_key"; rm -f "$install_key.pub"
  done
fi
`,
  };
}

function servicesStep(spec: ImgbuildSpec): ImgStep | undefined {
  const target = TARGET_MODULES[spec.target];
  const sshd = target.sshService(spec.packages);
  const services = unique([...(sshd ? [sshd] : []), ...spec.services]);
  if (!services.length) return undefined;
  return {id: 'services', title: `enable ${services.join(', ')}`, phase: 'customise', script: target.enableServices(services)};
}

function provisionStep(spec: ImgbuildSpec): ImgStep | undefined {
  if (!spec.functions.provision) return undefined;
  return {
    id: 'provision',
    title: 'provision() inside the new system (chroot)',
    phase: 'customise',
    script: `bind_system
trap 'rm -rf "$root/tmp/anemos-provision"; unbind_system' EXIT
rm -rf "$root/tmp/anemos-provision" && mkdir -p "$root/tmp/anemos-provision"
cp "$payload/IMGBUILD" "$root/tmp/anemos-provision/IMGBUILD"
in_root ANEMOS_HOSTNAME="\${ANEMOS_HOSTNAME:-}" ANEMOS_DISK="$disk" IMGNAME="$imgname" TARGET="$target" \\
  sh -ec 'cd /tmp/anemos-provision && . ./IMGBUILD && provision'
`,
  };
}

function bootloaderStep(spec: ImgbuildSpec, ctx: PlanContext): ImgStep | undefined {
  if (spec.format.kind === 'dir') return undefined;
  // Written into /etc/default/grub (sourced by sh) and from there unquoted into grub.cfg.
  const args = ctx.kernelArgs.filter((a) => KERNEL_ARG.test(a)).join(' ');
  const serial = ctx.kernelArgs.some((a) => a.startsWith('console=ttyS'));
  // UEFI: GRUB at the removable path (EFI/BOOT/BOOTX64.EFI), which firmware boots with no
  // entry of its own, then as the distribution installs it, with its boot entry in the
  // firmware's variables, first in the boot order (grub-install calls efibootmgr, replacing
  // an entry of the same name). The entries the old system left are the agent's to tidy.
  const install = ctx.efi
    ? `in_root grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram
if is_mounted "$root/sys/firmware/efi/efivars" && in_root sh -c 'command -v efibootmgr' >/dev/null; then
  in_root grub-install --target=x86_64-efi --efi-directory=/boot/efi || echo "anemos: the firmware boot entry could not be written; the firmware boots the removable path EFI/BOOT/BOOTX64.EFI" >&2
else
  echo "anemos: no firmware boot entry written (no efibootmgr in the new system, or no EFI variables here); the firmware boots the removable path EFI/BOOT/BOOTX64.EFI" >&2
fi`
    : 'in_root grub-install --target=i386-pc "$disk"';
  const target = TARGET_MODULES[spec.target];
  return {
    id: 'bootloader',
    title: `GRUB (${ctx.efi ? 'UEFI: removable path and a boot entry' : `BIOS, on ${ctx.disk ?? 'the disk'}`}) from the new system's own packages`,
    phase: 'bootloader',
    script: `bind_system
trap unbind_system EXIT
mkdir -p "$root/etc/default"
cat >> "$root/etc/default/grub" <<'GRUB'

# Written by anemos: the consoles and NIC naming the previous system used.
GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX ${args}"
GRUB_TIMEOUT=1
${serial ? 'GRUB_TERMINAL="console serial"\nGRUB_SERIAL_COMMAND="serial --speed=115200"\n' : ''}GRUB
${target.bootloader.before(ctx)}# sshd needs public halves of the carried host keys.
[ ! -d "$root/etc/ssh" ] || in_root sh -c 'for k in /etc/ssh/ssh_host_*_key; do [ ! -f "$k" ] || [ -f "$k.pub" ] || ssh-keygen -y -f "$k" > "$k.pub"; done'
${install}
${target.bootloader.mkconfig}
`,
  };
}

function finishStep(spec: ImgbuildSpec): ImgStep {
  return {
    id: 'unmount',
    title: spec.functions.cleanup && spec.format.kind !== 'raw' ? 'cleanup(), then unmount the new root' : 'unmount the new root',
    phase: 'finish',
    script: `printf 'imgname=%s\\ntarget=%s\\ndeployed_by=anemos\\n' "$imgname" "$target" > "$root/etc/anemos-deployed"
sync
${spec.functions.cleanup && spec.format.kind !== 'raw' ? 'cd "$payload"\n. ./IMGBUILD\ncleanup\n' : ''}for m in $(awk -v r="$root" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r); do umount "$m"; done
`,
  };
}

export function planImgbuild(spec: ImgbuildSpec, ctx: PlanContext): ImgStep[] {
  const steps: (ImgStep | undefined)[] = [
    ...(TARGET_MODULES[spec.target].prepare?.(spec, ctx) ?? []),
    ...diskSteps(spec, ctx),
    bootstrapStep(spec, ctx),
    ...projectSteps(spec),
    systemStep(spec, ctx),
    servicesStep(spec),
    provisionStep(spec),
    bootloaderStep(spec, ctx),
    finishStep(spec),
  ];
  return steps.filter((s): s is ImgStep => s !== undefined);
}
