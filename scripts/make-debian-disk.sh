#!/usr/bin/env bash
# Make a bootable BIOS/GRUB raw disk from a Debian root filesystem tarball, without loop
# partitions (they are not scanned on this machine): sfdisk on the image file, mke2fs -d
# for a populated ext4, dd it to the partition offset, GRUB's boot.img + core.img by hand.
# Used for the "provider" VM of the end-to-end test: a VPS as a cloud provider ships it,
# with a static network configuration (ifupdown) and root's SSH key.
#
#   make-debian-disk.sh --tar ROOTFS.tar --out DISK.raw [--size 3G] [--hostname provider]
#       [--authorized-key FILE] [--address 10.0.2.15/24] [--gateway 10.0.2.2] [--dns 10.0.2.3]
#       [--marker TEXT] [--ramoops ADDR] [--dhcp] [--address6 ADDR/PREFIX --gateway6 ADDR]
#       [--uefi [--secure-boot DIR]] [--no-ipv4 --mgmt-address ADDR/PREFIX] [--bond]
# --no-ipv4 (with --address6): eth0 has IPv6 only; --mgmt-address: a second NIC (eth1) with
# this IPv4 address and no route, for a management network (the tests' SSH).
# --uefi: a GPT disk for UEFI firmware instead: an EFI system partition (vda1, FAT32, GRUB
# at the removable path EFI/BOOT/BOOTX64.EFI, as a cloud image ships it) and the root on vda2.
# --secure-boot DIR: the boot chain Secure Boot accepts: DIR holds the unpacked shim-signed
# and grub-efi-amd64-signed packages; shim (signed by Microsoft) at the removable path loads
# Debian's signed GRUB, which reads a grub.cfg beside it and boots the Debian-signed kernel.
# --bond: eth0 and eth1 in an active-backup bond (bond0, eth0 preferred) that carries the
# address, by systemd-networkd (the bare-metal shape: two NICs to two switches).
# --dhcp / --address6: the network by systemd-networkd instead (as netplan-based clouds
# have it): IPv4 by DHCP, and a static IPv6 address and default route beside it.
# --ramoops ADDR: the kernel sets 1 MiB at ADDR aside (memmap=) for ramoops, loaded at boot,
# so pstore keeps a kernel log across a warm reboot (anemos status reads it there).
set -euo pipefail
tarball="" out="" size=3G hostname=provider key="" address=10.0.2.15/24 gateway=10.0.2.2 dns=10.0.2.3 marker="" ramoops="" dhcp="" address6="" gateway6="" uefi="" secureboot="" noipv4="" mgmt="" bond=""
while [ $# -gt 0 ]; do
  case $1 in
    --tar) tarball=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --hostname) hostname=$2; shift 2 ;;
    --authorized-key) key=$2; shift 2 ;;
    --address) address=$2; shift 2 ;;
    --gateway) gateway=$2; shift 2 ;;
    --dns) dns=$2; shift 2 ;;
    --marker) marker=$2; shift 2 ;;
    --ramoops) ramoops=$2; shift 2 ;;
    --dhcp) dhcp=yes; shift ;;
    --address6) address6=$2; shift 2 ;;
    --gateway6) gateway6=$2; shift 2 ;;
    --uefi) uefi=yes; shift ;;
    --secure-boot) secureboot=$2; shift 2 ;;
    --no-ipv4) noipv4=yes; shift ;;
    --mgmt-address) mgmt=$2; shift 2 ;;
    --bond) bond=yes; shift ;;
    *) echo "make-debian-disk: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$tarball" ] && [ -n "$out" ] || { echo "usage: make-debian-disk.sh --tar ROOTFS.tar --out DISK.raw [...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "make-debian-disk: run as root (file ownership inside the image)" >&2; exit 4; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"
tar --numeric-owner -xpf "$tarball" -C "$root"

kernel=$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -1)
initrd=initrd.img-${kernel#vmlinuz-}
[ -f "$root/boot/$initrd" ] || { echo "make-debian-disk: $initrd missing in the tarball (initramfs-tools not included?)" >&2; exit 6; }

# System identity as a provider would set it up.
echo "$hostname" > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$hostname" > "$root/etc/hosts"
if [ -n "$dhcp$address6$bond" ]; then
  printf 'auto lo\niface lo inet loopback\n' > "$root/etc/network/interfaces"
  mkdir -p "$root/etc/systemd/network" "$root/etc/systemd/system/multi-user.target.wants" "$root/etc/systemd/system/sockets.target.wants"
  uplink=eth0
  if [ -n "$bond" ]; then
    uplink=bond0
    printf '[NetDev]\nName=bond0\nKind=bond\n\n[Bond]\nMode=active-backup\nMIIMonitorSec=100ms\n' > "$root/etc/systemd/network/05-bond0.netdev"
    printf '[Match]\nName=eth0\n\n[Network]\nBond=bond0\nPrimarySlave=yes\n' > "$root/etc/systemd/network/10-eth0.network"
    printf '[Match]\nName=eth1\n\n[Network]\nBond=bond0\n' > "$root/etc/systemd/network/10-eth1.network"
  fi
  {
    printf '[Match]\nName=%s\n\n[Network]\nDHCP=%s\nIPv6AcceptRA=no\n' "$uplink" "$([ -n "$dhcp" ] && echo ipv4 || echo no)"
    [ -n "$dhcp$noipv4" ] || printf 'Address=%s\nGateway=%s\n' "$address" "$gateway"
    [ -n "$address6" ] && printf 'Address=%s\n' "$address6"
    [ -n "$gateway6" ] && printf 'Gateway=%s\n' "$gateway6"
  } > "$root/etc/systemd/network/20-$uplink.network"
  [ -z "$mgmt" ] || printf '[Match]\nName=eth1\n\n[Network]\nAddress=%s\nIPv6AcceptRA=no\nLinkLocalAddressing=no\n' "$mgmt" > "$root/etc/systemd/network/20-eth1.network"
  ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
  ln -sf /lib/systemd/system/systemd-networkd.socket "$root/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
else
  cat > "$root/etc/network/interfaces" <<EOF
auto lo
iface lo inet loopback

auto eth0
iface eth0 inet static
	address $address
	gateway $gateway
EOF
fi
rm -f "$root/etc/resolv.conf"
echo "nameserver $dns" > "$root/etc/resolv.conf"
rootdev=/dev/vda1
if [ -n "$uefi" ]; then
  rootdev=/dev/vda2
  mkdir -p "$root/boot/efi"
  printf '/dev/vda2 / ext4 errors=remount-ro 0 1\n/dev/vda1 /boot/efi vfat umask=0077 0 1\n' > "$root/etc/fstab"
else
  echo "/dev/vda1 / ext4 errors=remount-ro 0 1" > "$root/etc/fstab"
fi
if [ -n "$key" ]; then
  install -d -m 700 "$root/root/.ssh"
  install -m 600 "$key" "$root/root/.ssh/authorized_keys"
fi
[ -n "$marker" ] && echo "$marker" > "$root/etc/provider-marker"

kargs=""
if [ -n "$ramoops" ]; then
  # Single quotes: "$" starts a variable in GRUB's script.
  kargs=" 'memmap=1M\$$ramoops' ramoops.mem_address=$ramoops ramoops.mem_size=0x100000 ramoops.record_size=0x10000"
  mkdir -p "$root/etc/modules-load.d" && echo ramoops > "$root/etc/modules-load.d/ramoops.conf"
fi
mkdir -p "$root/boot/grub"
cat > "$root/boot/grub/grub.cfg" <<EOF
serial --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
menuentry 'Debian (provider image)' {
	linux /boot/$kernel root=$rootdev ro net.ifnames=0 console=tty0 console=ttyS0,115200$kargs
	initrd /boot/$initrd
}
EOF

# Root file system first: its size is what the partition table leaves for it.
part_field() { sfdisk -J "$out.tmp" | python3 -c 'import json,sys; print(json.load(sys.stdin)["partitiontable"]["partitions"][int(sys.argv[1])][sys.argv[2]])' "$1" "$2"; }
truncate -s "$size" "$out.tmp"
if [ -n "$uefi" ]; then
  # GPT: a 128 MiB EFI system partition, then the root. GRUB finds its configuration on the
  # root by the prefix built into BOOTX64.EFI; OVMF boots the removable path with no NVRAM entry.
  printf 'label: gpt\nstart=2048, size=128MiB, type=uefi, name=EFI\ntype=linux, name=root\n' | sfdisk -q "$out.tmp"
  esp_start=$(part_field 0 start) esp_sectors=$(part_field 0 size) start=$(part_field 1 start) sectors=$(part_field 1 size)
  mkfs.vfat -F 32 -n EFI -C "$work/esp.img" "$((esp_sectors / 2))" >/dev/null
  mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
  if [ -n "$secureboot" ]; then
    # Debian's signed GRUB is one image with its modules inside; it reads grub.cfg from
    # /EFI/debian, or from beside itself: both point it at the root's /boot/grub.
    printf 'set root=(hd0,gpt2)\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n' > "$work/stub.cfg"
    mmd -i "$work/esp.img" ::/EFI/debian
    mcopy -i "$work/esp.img" "$secureboot/usr/lib/shim/shimx64.efi.signed" ::/EFI/BOOT/BOOTX64.EFI
    mcopy -i "$work/esp.img" "$secureboot/usr/lib/shim/mmx64.efi.signed" ::/EFI/BOOT/mmx64.efi
    mcopy -i "$work/esp.img" "$secureboot/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" ::/EFI/BOOT/grubx64.efi
    mcopy -i "$work/esp.img" "$work/stub.cfg" ::/EFI/BOOT/grub.cfg
    mcopy -i "$work/esp.img" "$work/stub.cfg" ::/EFI/debian/grub.cfg
  else
    grub-mkimage -O x86_64-efi -p '(hd0,gpt2)/boot/grub' -o "$work/BOOTX64.EFI" part_gpt ext2 fat normal configfile linux serial terminal search echo test efi_gop
    mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
  fi
  dd if="$work/esp.img" of="$out.tmp" bs=512 seek="$esp_start" conv=notrunc,sparse status=none
else
  # MBR: a 1 MiB gap for GRUB's core image, then one bootable ext4 partition.
  echo 'label: dos
start=2048, type=83, bootable' | sfdisk -q "$out.tmp"
  start=$(part_field 0 start) sectors=$(part_field 0 size)
fi
mke2fs -q -t ext4 -L root -d "$root" "$work/part.img" "$((sectors / 2))k"
dd if="$work/part.img" of="$out.tmp" bs=512 seek="$start" conv=notrunc,sparse status=none

if [ -z "$uefi" ]; then
  grub-mkimage -O i386-pc -p '(hd0,msdos1)/boot/grub' -o "$work/core.img" biosdisk part_msdos ext2 normal configfile linux serial terminal search echo test
  [ "$(stat -c %s "$work/core.img")" -lt $(((start - 1) * 512)) ] || { echo "make-debian-disk: core.img does not fit the gap" >&2; exit 6; }
  dd if=/usr/lib/grub/i386-pc/boot.img of="$out.tmp" bs=440 count=1 conv=notrunc status=none
  dd if="$work/core.img" of="$out.tmp" bs=512 seek=1 conv=notrunc status=none
fi
mv "$out.tmp" "$out"
echo "$out: $size, $([ -n "$uefi" ] && echo "GPT, UEFI${secureboot:+ with Secure Boot (shim)}" || echo "MBR, BIOS"), kernel $kernel, hostname $hostname, $address via $gateway"
