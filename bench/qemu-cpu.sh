#!/usr/bin/env bash
# Why our VMs run "-cpu max,cx16=off": boot Debian 13's kernel N times per CPU model under
# QEMU TCG (no root fs, so each boot panics on purpose after the network stack is up and
# ends in ~4 s) and count the boots that crashed before that. Usage: bench/qemu-cpu.sh [N]
# Needs the trixie rootfs the e2e tests cache (.cache/e2e/trixie-*.tar.zst).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
rootfs=$(ls .cache/e2e/trixie-*.tar.zst 2>/dev/null | head -1 || true)
if [ -z "$rootfs" ]; then
  echo "no .cache/e2e/trixie-*.tar.zst yet: run npx vitest run test/e2e/imgbuild.test.ts once" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xf "$rootfs" --zstd -C "$work" --wildcards './boot/vmlinuz-*'
kernel=$(ls "$work"/boot/vmlinuz-* | head -1)
for cpu in max max,cx16=off; do
  crashed=0
  for i in $(seq 1 "$runs"); do
    log="$work/serial.log"
    rm -f "$log"
    timeout 120 qemu-system-x86_64 -accel tcg -cpu "$cpu" -smp 1 -m 1024 -nographic -no-reboot \
      -serial "file:$log" -monitor none -kernel "$kernel" \
      -append 'console=ttyS0 panic=-1 root=/dev/nonexistent' \
      -netdev user,id=n0 -device virtio-net-pci,netdev=n0 >/dev/null 2>&1 || true
    if grep -q 'Fatal exception\|Oops\|general protection' "$log"; then
      crashed=$((crashed + 1))
      echo "  $cpu boot $i: $(grep -m1 'RIP:' "$log" | sed 's/^\[[^]]*\] //')"
    fi
  done
  echo "-cpu $cpu: $crashed of $runs boots crashed before mounting root"
done
