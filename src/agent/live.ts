// Live mode: the image's layers (in the initramfs, or downloaded) are checked, mounted
// read-only, and stacked by overlayfs under this host's own layer and a tmpfs that takes
// every write; /init then switch_roots into the image's init. No disk is touched but the
// persist: file systems, mounted last. The host's layer is rendered here, at every boot,
// by the same "system" step an IMGBUILD's deploy runs (core/imgbuild-plan.ts): hostname,
// the carried network in the image's format, authorized keys, the host's SSH host keys;
// then the image's conffs/, its templates rendered with this host's values.
// It is the upper directory of a first overlay, so whatever the step changes is exactly
// what the host's layer holds; that overlay is unmounted and the layer becomes the top
// lower one. The running kernel's modules are mounted where the image has none for it.

import type {Runner} from '../shared/command.js';
import {LIVE_CONFFS, LIVE_ROOT, RUNTIME, type LiveBoot} from '../core/boot-contract.js';
import {renderTemplate, TEMPLATE_SUFFIX, templateValues} from '../core/imgbuild.js';
import {DRIFT_SCRIPT} from '../core/live/drift.js';
import type {NetworkConfig} from '../core/network.js';
import {planImgbuild, stepPrelude, type PlanContext} from '../core/imgbuild-plan.js';
import {configureSpec, detectTarget} from './configure.js';
import {AgentError} from './errors.js';
import type {AgentLog} from './log.js';
import {existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from './runtime.js';

/** Where the layers, the host's layer and the writable tmpfs are mounted; /run moves into the live system, so they stay visible there (anemos live diff reads rw/upper). */
export const LIVE_DIR = '/run/anemos/live';
export const LIVE_UPPER = `${LIVE_DIR}/rw/upper`;
export const LIVE_IMAGE_VIEW = `${LIVE_DIR}/image`;

export interface LivePaths {
  /** Where the initramfs holds the layers (CONTRACT.liveDir). */
  layersDir: string;
  networkJson: string;
  authorizedKeys: string;
  hostKeysDir: string;
}

async function must(runner: Runner, what: string, argv: string[]): Promise<string> {
  const r = await runner.run(argv[0]!, argv.slice(1), {allowFail: true});
  if (r.exitCode !== 0) throw new AgentError('live-mount', `${what} failed: ${argv.join(' ')}: ${(r.stderr.trim() || r.stdout.trim() || `exit ${r.exitCode}`).split('\n').slice(-3).join(' ')}`);
  return r.stdout;
}

/** Check, mount and stack the image; returns the init to switch to (written to RUNTIME.liveSwitch). */
export async function mountLive(runner: Runner, log: AgentLog, live: LiveBoot, host: {hostname: string; net: NetworkConfig}, paths: LivePaths): Promise<string> {
  const {hostname} = host;
  // Every layer against the sha256 the deploy checked: a layer damaged on the way stops here, before anything is mounted.
  await log.step('live verify', async () => {
    for (const l of live.layers) {
      const file = `${paths.layersDir}/${l.file}`;
      if (!existsSync(file)) throw new AgentError('live-layer-missing', `The layer ${l.name} (${file}) is not in the initramfs.`);
      const r = await runner.run('sha256sum', [file], {allowFail: true});
      const got = r.stdout.split(/\s/)[0];
      if (got !== l.sha256) throw new AgentError('live-layer-sha256', `The layer ${l.name} does not match its sha256 (expected ${l.sha256}, got ${got || r.stderr.trim()}).`);
    }
    log.info(`layers checked: ${live.layers.map((l) => `${l.name} ${l.sha256.slice(0, 12)}…`).join(', ')}`);
  });
  await runner.run('modprobe', ['-a', 'loop', 'squashfs', 'overlay'], {allowFail: true});
  const lowers: string[] = [];
  await log.step('live mount', async () => {
    for (const l of live.layers) {
      const dir = `${LIVE_DIR}/layers/${l.file.replace(/\.squashfs$/, '')}`;
      mkdirSync(dir, {recursive: true});
      await must(runner, `mounting the layer ${l.name}`, ['mount', '-t', 'squashfs', '-o', 'ro,loop', `${paths.layersDir}/${l.file}`, dir]);
      lowers.unshift(dir);
    }
  });
  const layer = `${LIVE_DIR}/host`;
  mkdirSync(`${layer}/upper`, {recursive: true});
  mkdirSync(`${layer}/work`, {recursive: true});
  mkdirSync(LIVE_ROOT, {recursive: true});
  await log.step('live host layer', async () => {
    await must(runner, "mounting the overlay that renders this host's layer", ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${layer}/upper,workdir=${layer}/work`, LIVE_ROOT]);
    try {
      await renderHostLayer(runner, log, live, host, paths);
    } finally {
      await runner.run('umount', [LIVE_ROOT], {allowFail: true});
    }
    const size = (await runner.run('du', ['-sk', `${layer}/upper`], {allowFail: true})).stdout.split(/\s/)[0];
    log.info(`this host's layer: ${size} KiB (${layer}/upper)`);
  });
  await log.step('live root', async () => {
    mkdirSync(`${LIVE_DIR}/rw`, {recursive: true});
    await must(runner, 'mounting the writable tmpfs', ['mount', '-t', 'tmpfs', '-o', `size=${live.tmpfs_mib}m,mode=0755`, 'tmpfs', `${LIVE_DIR}/rw`]);
    mkdirSync(LIVE_UPPER, {recursive: true});
    mkdirSync(`${LIVE_DIR}/rw/work`, {recursive: true});
    await must(runner, 'mounting the live root', ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${layer}/upper:${lowers.join(':')},upperdir=${LIVE_UPPER},workdir=${LIVE_DIR}/rw/work`, LIVE_ROOT]);
    // The image as booted (its layers and this host's, read-only), for anemos live diff to see what a directory
    // made again over one of the image's hides (overlayfs makes it opaque, an attribute sh cannot read).
    mkdirSync(LIVE_IMAGE_VIEW, {recursive: true});
    const view = await runner.run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${layer}/upper:${lowers.join(':')}`, LIVE_IMAGE_VIEW], {allowFail: true});
    if (view.exitCode !== 0) log.info(`the image's read-only view (${LIVE_IMAGE_VIEW}) could not be mounted: anemos live diff will not list what a directory made again hides (${view.stderr.trim()})`);
  });
  // The running kernel's modules, from the deploy environment's /usr (read-only, compressed: it stays in RAM
  // for them, 16 MiB, where a copy took 22 MiB and 5 s), where the image has none for this kernel.
  const kver = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  if (existsSync(`${LIVE_ROOT}/usr/lib/modules/${kver}/.anemos-mount`)) {
    await must(runner, "mounting the running kernel's modules", ['mount', '--bind', '-o', 'ro', `/usr/lib/modules/${kver}`, `${LIVE_ROOT}/usr/lib/modules/${kver}`]);
  }
  const init = '/sbin/init';
  // A link to /lib/systemd/systemd is followed inside the image, not here.
  const r = await runner.run('chroot', [LIVE_ROOT, '/bin/sh', '-c', `test -x ${init}`], {allowFail: true});
  if (r.exitCode !== 0) throw new AgentError('live-no-init', `The image ${live.image} has no ${init} to start (is systemd, or another init, in its packages?).`);
  // Last: the only disks a live boot writes.
  if (live.persist.length) {
    await log.step('live persist', async () => {
      for (const p of live.persist) {
        // Resolved inside the image: a link there (to /etc, say) would otherwise be followed here, in the deploy environment.
        const real = (await runner.run('chroot', [LIVE_ROOT, 'readlink', '-f', p.path], {allowFail: true})).stdout.trim();
        if (real !== p.path) throw new AgentError('live-persist-path', `persist: ${p.path} is a link in the image (to ${real || 'nothing'}), or under one: name the directory itself.`);
        let dev = (await runner.run('blkid', ['-L', p.label], {allowFail: true})).stdout.trim();
        if (!dev && p.format) dev = await formatEmpty(runner, log, p.format, p.label);
        if (!dev) throw new AgentError('live-persist-missing', `persist: ${p.path} is on the file system labelled ${p.label}, and no disk here has one (make it: mkfs.ext4 -L ${p.label} DEVICE, or name the empty disk to make it on: format: DEVICE).`);
        await must(runner, `mounting ${dev} (${p.label}) on ${p.path}`, ['mount', dev, `${LIVE_ROOT}${p.path}`]);
        log.info(`persist: ${p.path} is ${dev} (label ${p.label})`);
      }
    });
  }
  writeFileSync(RUNTIME.liveSwitch, `${init}\n`);
  return init;
}

/** mkfs.ext4 -L LABEL on DEVICE, only if it is empty: no partition table, no file system or other signature blkid knows. */
async function formatEmpty(runner: Runner, log: AgentLog, device: string, label: string): Promise<string> {
  if (!existsSync(device)) throw new AgentError('live-persist-format', `persist: ${label} is to be made on ${device}, and there is no such disk here.`);
  // blkid -p probes the device itself (not the cache): exit 2 when it finds nothing.
  const probe = await runner.run('blkid', ['-p', '-o', 'export', device], {allowFail: true});
  if (probe.exitCode !== 2) {
    throw new AgentError('live-persist-format', `persist: no file system is labelled ${label}, and ${device} is not empty (${probe.stdout.trim().split('\n').filter((l) => /^(TYPE|PTTYPE|LABEL)=/.test(l)).join(' ') || `blkid -p exit ${probe.exitCode}`}): it is not formatted.`);
  }
  const r = await runner.run('mkfs.ext4', ['-q', '-L', label, device], {allowFail: true});
  if (r.exitCode !== 0) throw new AgentError('live-persist-format', `mkfs.ext4 -L ${label} ${device} failed: ${r.stderr.trim()}`);
  log.info(`persist: ${device} was empty: made ext4 labelled ${label} on it`);
  return device;
}

async function renderHostLayer(runner: Runner, log: AgentLog, live: LiveBoot, host: {hostname: string; net: NetworkConfig}, paths: LivePaths): Promise<void> {
  const {hostname} = host;
  const osRelease = [`${LIVE_ROOT}/etc/os-release`, `${LIVE_ROOT}/usr/lib/os-release`].find((p) => existsSync(p));
  const target = osRelease ? detectTarget(readFileSync(osRelease, 'utf8')) : undefined;
  if (!target) throw new AgentError('live-target', `The image ${live.image} is not a system anemos knows (its os-release names none of the targets): its host layer cannot be written.`);
  const work = `${LIVE_DIR}/render`;
  const ctx: PlanContext = {root: LIVE_ROOT, payload: work, work, efi: false, kernelArgs: [], networkJson: paths.networkJson, authorizedKeys: paths.authorizedKeys, hostKeysDir: paths.hostKeysDir};
  const spec = configureSpec(target, hostname, {kind: 'dir'});
  const step = planImgbuild(spec, ctx).find((s) => s.id === 'system');
  if (!step) throw new Error('the IMGBUILD plan has no system step');
  mkdirSync(work, {recursive: true});
  const kver = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const script = `${stepPrelude(spec, ctx)}
${step.script}
# No host keys carried (access.host_keys: new): this host's own, made now (a layer carries none).
if [ -d "$root/etc/ssh" ] && ! ls "$root"/etc/ssh/ssh_host_*_key >/dev/null 2>&1 && [ -x "$root/usr/bin/ssh-keygen" ]; then chroot "$root" /usr/bin/ssh-keygen -A; fi
# Where the running kernel's modules are mounted (mountLive), for what the live system's udev loads later.
if [ -d /usr/lib/modules/${kver} ] && [ ! -e "$root/usr/lib/modules/${kver}" ]; then mkdir -p "$root/usr/lib/modules/${kver}" && : > "$root/usr/lib/modules/${kver}/.anemos-mount"; fi
${live.persist.map((p) => `mkdir -p "$root${p.path}"`).join('\n')}
`;
  writeFileSync(`${work}/host-layer.sh`, script, {mode: 0o755});
  const r = await runner.run('/bin/sh', [`${work}/host-layer.sh`], {allowFail: true, env: {PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ANEMOS_HOSTNAME: hostname}});
  for (const l of r.stdout.trim().split('\n').filter(Boolean)) log.info(`host layer: ${l}`);
  if (r.exitCode !== 0) throw new AgentError('live-host-layer', `This host's layer could not be written (exit ${r.exitCode}): ${r.stderr.trim().split('\n').slice(-3).join(' ')}. Rerun: sh ${work}/host-layer.sh`);
  await renderConffs(runner, log, templateValues(host.net, {hostname, imgname: live.image, target}), live.attributes ?? {});
  if (live.drift) await driftReporter(runner, log, live.drift);
  if (live.every_boot) {
    mkdirSync(`${LIVE_ROOT}/usr/local/sbin`, {recursive: true});
    writeFileSync(`${LIVE_ROOT}/usr/local/sbin/anemos-boot-os`, BOOT_OS_SCRIPT, {mode: 0o755});
    log.info('every boot runs this image (GRUB\'s default entry on this disk): anemos-boot-os makes the next boot the installed system, once');
  }
}

/**
 * A live boot from the disk at every boot (live.every_boot) failed before the switch: a reboot
 * would take GRUB's default, this image, and fail again. The next boot is the installed
 * system's entry instead, once (BOOT_OS_SCRIPT, run by the deploy environment's sh).
 */
export async function bootInstalledOnce(runner: Runner, log: AgentLog): Promise<void> {
  const script = `${LIVE_DIR}/boot-os`;
  mkdirSync(LIVE_DIR, {recursive: true});
  writeFileSync(script, BOOT_OS_SCRIPT, {mode: 0o755});
  const r = await runner.run('/bin/sh', [script, '0'], {allowFail: true, env: {PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TMPDIR: LIVE_DIR}});
  if (r.exitCode === 0) log.info(`${r.stdout.trim().replace(/; the boot after it .*$/, '')}: the installed system, not this image again`);
  else log.warn(`the next boot could not be turned to the installed system (${r.stderr.trim() || `exit ${r.exitCode}`}): GRUB's default, this image, boots again`);
}

/**
 * On a live system booted from its disk at every boot (live.every_boot): the next boot, once,
 * is GRUB's entry ENTRY (0 by default: the installed system's own), as grub-reboot would make
 * it, with no GRUB tools in the image. It finds the file system holding anemos-live and GRUB's
 * grubenv, and sets next_entry there; GRUB takes it at the next boot and clears it, and the
 * live entry stays the default for the boot after.
 */
export const BOOT_OS_SCRIPT = String.raw`#!/bin/sh
# anemos: make the next boot, once, GRUB's entry $1 (0: the installed system) instead of this live image.
set -eu
entry=${'$'}{1:-0}
case "$entry" in *[!A-Za-z0-9_.-]*|'') echo "anemos-boot-os: $entry is not a GRUB entry number or id" >&2; exit 2;; esac
mnt=$(mktemp -d)
trap 'umount "$mnt" 2>/dev/null || true; rmdir "$mnt"' EXIT
for name in $(sed -n '3,$ s/.* //p' /proc/partitions); do
  dev=/dev/$name
  mount "$dev" "$mnt" 2>/dev/null || continue
  for prefix in boot/ ''; do
    env="$mnt/${'$'}{prefix}grub/grubenv"
    if [ -e "$mnt/${'$'}{prefix}anemos-live/vmlinuz" ] && [ -f "$env" ]; then
      new="$env.anemos"
      { printf '# GRUB Environment Block\n'; grep -a -v -e '^#' -e '^next_entry=' "$env" || true; printf 'next_entry=%s\n' "$entry"; } > "$new"
      size=$(wc -c < "$new")
      if [ "$size" -gt 1024 ]; then rm -f "$new"; echo "anemos-boot-os: $env has no room for next_entry" >&2; exit 1; fi
      # GRUB writes grubenv in place: the same 1024 bytes, padded with #.
      head -c $((1024 - size)) /dev/zero | tr '\0' '#' >> "$new"
      dd if="$new" of="$env" conv=notrunc status=none
      rm -f "$new"
      sync
      echo "anemos-boot-os: the next boot is GRUB's entry $entry, once ($dev, /${'$'}{prefix}grub/grubenv); the boot after it runs this live image again"
      exit 0
    fi
  done
  umount "$mnt"
done
echo "anemos-boot-os: no disk here has anemos-live beside a GRUB grubenv" >&2
exit 1
`;

/**
 * A network boot's live system reports its drift to the registry by itself: a systemd timer
 * in this host's layer runs DRIFT_SCRIPT and posts the listing with bash's /dev/tcp (the
 * agent is gone once the image runs, and a minimal image has no HTTP client). Plain HTTP to
 * the boot listener, as the deploy environment's reports; the token lasts until the next boot.
 */
async function driftReporter(runner: Runner, log: AgentLog, drift: NonNullable<LiveBoot['drift']>): Promise<void> {
  const systemd = ['/usr/lib/systemd/systemd', '/lib/systemd/systemd'].some((p) => existsSync(`${LIVE_ROOT}${p}`));
  if (!systemd || !existsSync(`${LIVE_ROOT}/bin/bash`)) {
    log.warn('drift: the image has no systemd or no bash: its drift is not reported to the registry (anemos live diff --host lists it)');
    return;
  }
  // http://HOST:PORT (the contract's pattern); QuickJS has no URL.
  const m = /^http:\/\/\[?([^\]]+?)\]?:(\d+)$/.exec(drift.url);
  if (!m) throw new AgentError('live-drift-url', `live.drift.url ${drift.url} is not http://HOST:PORT.`);
  const [, hostname, port] = m;
  mkdirSync(`${LIVE_ROOT}/usr/lib/anemos`, {recursive: true});
  mkdirSync(`${LIVE_ROOT}/etc/anemos`, {recursive: true});
  mkdirSync(`${LIVE_ROOT}/etc/systemd/system/timers.target.wants`, {recursive: true});
  writeFileSync(`${LIVE_ROOT}/etc/anemos/drift.env`, `ANEMOS_DRIFT_HOST=${hostname}\nANEMOS_DRIFT_PORT=${port}\nANEMOS_DRIFT_TOKEN=${drift.token}\n`, {mode: 0o600});
  writeFileSync(`${LIVE_ROOT}/usr/lib/anemos/drift-list`, DRIFT_SCRIPT, {mode: 0o755});
  writeFileSync(`${LIVE_ROOT}/usr/lib/anemos/drift-report`, DRIFT_REPORT, {mode: 0o755});
  writeFileSync(`${LIVE_ROOT}/etc/systemd/system/anemos-drift.service`, `[Unit]\nDescription=anemos: report this live system's drift to the registry that booted it\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nExecStart=/usr/lib/anemos/drift-report\n`);
  writeFileSync(`${LIVE_ROOT}/etc/systemd/system/anemos-drift.timer`, `[Unit]\nDescription=anemos: report this live system's drift every ${drift.seconds} s\n\n[Timer]\nOnBootSec=60\nOnUnitActiveSec=${drift.seconds}\n\n[Install]\nWantedBy=timers.target\n`);
  await must(runner, 'enabling anemos-drift.timer', ['ln', '-sf', '/etc/systemd/system/anemos-drift.timer', `${LIVE_ROOT}/etc/systemd/system/timers.target.wants/anemos-drift.timer`]);
  log.info(`drift: reported to ${drift.url} every ${drift.seconds} s (anemos-drift.timer; systemctl start anemos-drift reports now)`);
}

/** The live system's reporter: the listing as JSON (escaped with tr and sed), POSTed over bash's /dev/tcp; exit 0 on a 200. */
export const DRIFT_REPORT = String.raw`#!/bin/bash
# anemos: this live system's drift (what differs from the image it booted), to the registry that booted it.
set -eu
export LC_ALL=C
. /etc/anemos/drift.env
esc=$(sh /usr/lib/anemos/drift-list | tr -d '\001-\010\013-\037' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' | sed -e ':a' -e 'N' -e '$!ba' -e 's/\n/\\n/g')
body="{\"listing\":\"$esc\"}"
len=$(printf %s "$body" | wc -c)
exec 3<>"/dev/tcp/$ANEMOS_DRIFT_HOST/$ANEMOS_DRIFT_PORT"
printf 'POST /api/v1/drift HTTP/1.0\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$ANEMOS_DRIFT_HOST" "$ANEMOS_DRIFT_PORT" "$ANEMOS_DRIFT_TOKEN" "$len" "$body" >&3
status=
read -r status <&3 || true
status=$(printf %s "$status" | tr -d '\r')
echo "anemos drift report: $status"
case $status in "HTTP/1."?" 200"*) exit 0 ;; *) exit 1 ;; esac
`;

/** The image's conffs/ (every layer's, the top one's over its parents'): files as they are, templates rendered for this host. */
async function renderConffs(runner: Runner, log: AgentLog, values: ReturnType<typeof templateValues>, attributes: Record<string, string>): Promise<void> {
  const conffs = `${LIVE_ROOT}${LIVE_CONFFS}`;
  if (!existsSync(conffs)) return;
  await must(runner, "copying the image's conffs/", ['cp', '-a', `${conffs}/.`, `${LIVE_ROOT}/`]);
  const templates = (await must(runner, "listing the image's conffs/ templates", ['find', conffs, '-type', 'f', '-name', `*${TEMPLATE_SUFFIX}`])).split('\n').filter(Boolean);
  const problems: string[] = [];
  for (const t of templates) {
    const rel = t.slice(conffs.length);
    const copied = `${LIVE_ROOT}${rel}`;
    try {
      writeFileSync(copied.slice(0, -TEMPLATE_SUFFIX.length), renderTemplate(readFileSync(t, 'utf8'), values, `conffs${rel}`, attributes));
      await runner.run('chmod', ['--reference', t, copied.slice(0, -TEMPLATE_SUFFIX.length)], {allowFail: true});
    } catch (err) {
      problems.push((err as Error).message);
    }
    rmSync(copied, {force: true});
  }
  if (problems.length) throw new AgentError('live-conffs', `The image's conffs/ cannot be rendered for this host: ${problems.join(' ')}`);
  log.info(`host layer: conffs/ copied, ${templates.length} template${templates.length === 1 ? '' : 's'} rendered`);
}
