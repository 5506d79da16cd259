#!/usr/bin/env bash
# Print anemos' figures. Needs "npm run build"; the VM parts build the base initramfs if
# needed. The end-to-end phase timings come from the last e2e run (npm test or demo);
# the Debian IMGBUILD figures from the last test/e2e/imgbuild.test.ts run (BENCH_IMGBUILD=1
# reruns it alone; npm test runs it beside the other VM tests: 1074–1473 s there, 1139 s
# alone, on a host whose speed varied as much through one day).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "## compose and CLI start"
npx vite-node bench/compose.ts
echo "## machine registry (anemos serve --tls auto: the embedded database, then PostgreSQL; a connection per request as the agent makes them, then connections kept)"
npx vite-node bench/registry.ts 1000 both
BENCH_KEEPALIVE=1 npx vite-node bench/registry.ts 1000 postgres
echo "## network boot (bench/netboot.ts: a swarm of PXE clients in a lab of network namespaces; root only)"
if [ "$(id -u)" = 0 ]; then npx vite-node bench/netboot.ts "${BENCH_NETBOOT_CLIENTS:-500}"; else echo "(skipped: it makes network namespaces, which needs root)"; fi
echo "## deploy environment"
npx vite-node bench/deploy-env.ts
echo "## end-to-end deploy phases (from the last run of test/e2e/deploy.test.ts, seconds)"
if [ -f .cache/e2e/timings.json ]; then cat .cache/e2e/timings.json; else echo "(none yet: run npm test or scripts/demo.sh)"; fi
echo "## Debian IMGBUILD deploy (test/e2e/imgbuild.test.ts: blank 4 GiB disk, QEMU TCG, seconds; downloaded_mib = what the target fetched)"
if [ "${BENCH_IMGBUILD:-0}" = 1 ] || [ ! -f .cache/e2e/imgbuild-timings.json ]; then
  echo "(running it now, alone: about 20 minutes; BENCH_IMGBUILD=1 reruns it every time)"
  npx vitest run test/e2e/imgbuild.test.ts >/dev/null
fi
node -e '
const t = require("./.cache/e2e/imgbuild-timings.json");
console.log(`measured ${t.when}`);
console.log(`bootstrap ${t.bootstrap} s | customisation ${t.customisation} s | bootloader ${t.bootloader} s | disk ${t.disk} s | unmount ${t.unmount} s | IMGBUILD total ${t.total} s`);
console.log(`downloaded by the target: ${t.downloaded_mib} MiB`);
console.log(`power-on of the deploy environment → reboot: ${t.power_on_to_reboot} s; new disk power-on → SSH: ${t.disk_boot_to_ssh} s`);
'
echo "## live image by kexec (test/e2e/live-boot.test.ts: a Debian 12 server boots base + web into RAM, QEMU TCG, 1 GiB; seconds, sizes)"
if [ "${BENCH_LIVE:-0}" = 1 ] || [ ! -f .cache/e2e/live-timings.json ]; then
  echo "(running it now, alone: about 7 minutes; BENCH_LIVE=1 reruns it every time)"
  npx vitest run test/e2e/live-boot.test.ts >/dev/null
fi
node -e '
const t = require("./.cache/e2e/live-timings.json");
console.log(`measured ${t.when}`);
console.log(`kexec → image mounted ${t["kexec → live image mounted"]} s | kexec → live SSH ${t["kexec → live SSH"]} s | anemos deploy until kexec ${t["anemos deploy until kexec"]} s`);
console.log(`layers: base ${t["layer base (bytes)"]} bytes, web ${t["layer web (bytes)"]} bytes; host layer ${t["host layer (KiB)"]} KiB`);
console.log(`live system: ${t["live system: RAM used (MiB)"]} MiB used, ${t["live system: RAM available (MiB)"]} MiB available of 1024 MiB`);
const every = t["every_boot: anemos deploy → live SSH (reboot, firmware, GRUB)"];
if (every !== undefined) console.log(`from the disk (live.every_boot): anemos deploy → live SSH ${every} s (a reboot through the firmware and GRUB, the layers read by GRUB)`);
'
echo "## live image by network boot (test/e2e/network-boot.test.ts, Live: a blank machine boots base + web into RAM from the registry, QEMU TCG, 1 GiB; seconds)"
if [ -f .cache/e2e/live-netboot-timings.json ]; then
  node -e '
const t = require("./.cache/e2e/live-netboot-timings.json");
console.log(`measured ${t.when} (beside the other network-boot cases when run by npm test)`);
console.log(`power-on → registered ${t["power-on → registered"].toFixed(1)} s | ready → web live SSH ${t["ready → web'"'"'s live SSH"].toFixed(1)} s (its next ask, a reboot, iPXE, the image) | reboot → base live SSH ${t["reboot → base'"'"'s live SSH"].toFixed(1)} s`);
'
else
  echo "(no run yet: npx vitest run test/e2e/network-boot.test.ts -t Live, about 7 minutes)"
fi
echo "## QEMU TCG guest CPU (bench/qemu-cpu.sh: crashes of Debian 13's kernel per CPU model; BENCH_QEMU_CPU=N boots each)"
if [ -n "${BENCH_QEMU_CPU:-}" ]; then bash bench/qemu-cpu.sh "$BENCH_QEMU_CPU"; else echo "(skipped: BENCH_QEMU_CPU=30 runs it, about 4 minutes)"; fi
