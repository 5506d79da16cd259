// Root filesystems and the provider disk for the end-to-end test, built with mmdebstrap
// from Debian's mirror and cached under .cache/e2e by the exact recipe (suite + packages).

import {createHash} from 'node:crypto';
import {cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {execFile} from 'node:child_process';
import {join} from 'node:path';
import {ensureBase, runLong, sshKeypair} from './deploy-env.js';
import {CLI, REPO} from './kernel.js';
import {keptPath, Vm, type QemuOptions} from './qemu.js';
import {hostKeyFingerprint, scpTo, sshRun} from './ssh.js';

export const E2E_CACHE = join(REPO, '.cache', 'e2e');
const MIRROR = 'http://deb.debian.org/debian';

/**
 * The provider: what a cloud ships as "Debian 12" (with GRUB's tools for BIOS and UEFI, as
 * Debian's cloud images boot either), plus what anemos needs on a host (nodejs 18, kexec-tools).
 */
export const PROVIDER_PACKAGES = ['linux-image-cloud-amd64', 'systemd-sysv', 'openssh-server', 'nodejs', 'kexec-tools', 'ifupdown', 'iproute2', 'initramfs-tools', 'zstd', 'grub-pc', 'grub-efi-amd64-bin', 'efibootmgr'];
/** A stock Debian 12 as a provider ships it: no Node, no kexec-tools, nothing of anemos (anemos deploy --host drives it). */
export const STOCK_PROVIDER_PACKAGES = ['linux-image-cloud-amd64', 'systemd-sysv', 'openssh-server', 'ifupdown', 'iproute2', 'initramfs-tools', 'grub-pc', 'curl', 'sudo'];
/** The new system the image payload installs: Debian 13, booting with its own GRUB: BIOS or UEFI, with Secure Boot too (shim and signed GRUB), one image for all, as Debian's cloud images are. */
export const TARGET_SUITE = 'trixie';
export const TARGET_PACKAGES = ['linux-image-cloud-amd64', 'grub-pc', 'grub-efi-amd64-bin', 'efibootmgr', 'shim-signed', 'grub-efi-amd64-signed', 'openssh-server', 'systemd-sysv', 'initramfs-tools', 'zstd', 'ifupdown'];
/**
 * On a Debian provider over SSH: GRUB as Debian installs it (grub-install, update-grub:
 * grubenv, next_entry, 41_custom), with the serial console the VM is watched through, and an
 * operator's own line in custom.cfg, which anemos' entries must leave alone.
 */
export const DEBIAN_GRUB_SETUP = [
  'mkdir -p /etc/default/grub.d',
  `printf '%s\\n' 'GRUB_CMDLINE_LINUX="net.ifnames=0 console=tty0 console=ttyS0,115200"' 'GRUB_TERMINAL="console serial"' 'GRUB_SERIAL_COMMAND="serial --speed=115200"' 'GRUB_TIMEOUT=1' > /etc/default/grub.d/50-console.cfg`,
  'grub-install /dev/vda >/dev/null 2>&1',
  'update-grub >/dev/null 2>&1',
  'echo "kept by the operator" > /boot/grub/custom.cfg',
].join(' && ');

/** The new system's root file system as a tarball (slim: see SLIM). */
export const targetTarball = () => rootfsTarball(TARGET_SUITE, TARGET_PACKAGES, 'tar.zst', {slim: true});

/**
 * Build under a lock of the output's own, checking again inside it: scripts/test.sh runs two
 * vitest processes, and on a clean clone both may want the same tarball or disk; the second
 * one waits and uses the first one's. Different outputs build side by side (one lock for all
 * kept one half idle while the other built what only it needed).
 */
async function buildOnce(out: string, cmd: string, args: string[]): Promise<void> {
  if (existsSync(out)) return;
  const tmp = `${out}.tmp`;
  // "$1" is the output, "$2" where the command writes; the rest is the command.
  const script = '[ -e "$1" ] && exit 0; out=$1 tmp=$2; shift 2; rm -rf "$tmp" && "$@" && mv "$tmp" "$out"';
  await runLong('flock', [`${out}.lock`, 'sh', '-c', script, 'sh', out, tmp, cmd, ...args.map((a) => a.replace('{TMP}', tmp))]);
}

/**
 * What a slim root file system leaves out, as Debian's container images do: documentation,
 * manual pages and translations (the copyright files stay). The target is unpacked inside a
 * TCG guest by every deploy e2e, where its 10,400 files took 73 s; without these it has 6,700
 * files and 229 MiB instead of 285.
 */
const SLIM = ['path-exclude=/usr/share/doc/*', 'path-include=/usr/share/doc/*/copyright', 'path-exclude=/usr/share/man/*', 'path-exclude=/usr/share/info/*', 'path-exclude=/usr/share/locale/*'];

export async function rootfsTarball(suite: string, packages: string[], ext: 'tar' | 'tar.zst', o: {slim?: boolean} = {}): Promise<string> {
  mkdirSync(E2E_CACHE, {recursive: true});
  const dpkg = o.slim ? SLIM : [];
  const key = createHash('sha256').update(`${suite} ${packages.join(',')}${dpkg.map((d) => ` ${d}`).join('')}`).digest('hex').slice(0, 12);
  const out = join(E2E_CACHE, `${suite}-${key}.${ext}`);
  if (!existsSync(out)) {
    const t0 = Date.now();
    // mmdebstrap picks the format from the name: the temporary one must end in .tar/.tar.zst too.
    const opts = dpkg.map((d) => `--dpkgopt='${d}'`).join(' ');
    await buildOnce(out, 'sh', ['-c', `mmdebstrap --quiet --variant=apt ${opts} --include=${packages.join(',')} ${suite} "$0.${ext}" ${MIRROR} && mv "$0.${ext}" "$0"`, '{TMP}']);
    process.stderr.write(`${out} ready after ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  return out;
}

export interface ProviderDiskOptions {
  ramoops?: string;
  dhcp?: boolean;
  address6?: string;
  gateway6?: string;
  uefi?: boolean;
  /** The unpacked shim-signed and grub-efi-amd64-signed (secureBootFiles()). */
  secureBoot?: string;
  noIpv4?: boolean;
  mgmtAddress?: string;
  dns?: string;
  /** eth0 and eth1 in an active-backup bond carrying the address. */
  bond?: boolean;
}

export async function providerDisk(tarball: string, operatorPub: string, o: ProviderDiskOptions = {}): Promise<string> {
  const extra = [
    ...(o.ramoops ? ['--ramoops', o.ramoops] : []),
    ...(o.dhcp ? ['--dhcp'] : []),
    ...(o.address6 ? ['--address6', o.address6] : []),
    ...(o.gateway6 ? ['--gateway6', o.gateway6] : []),
    ...(o.uefi ? ['--uefi'] : []),
    ...(o.secureBoot ? ['--secure-boot', o.secureBoot] : []),
    ...(o.noIpv4 ? ['--no-ipv4'] : []),
    ...(o.mgmtAddress ? ['--mgmt-address', o.mgmtAddress] : []),
    ...(o.dns ? ['--dns', o.dns] : []),
    ...(o.bond ? ['--bond'] : []),
  ];
  const key = createHash('sha256').update(tarball).update(readFileSync(operatorPub)).update(readFileSync(join(REPO, 'scripts', 'make-debian-disk.sh'))).update(extra.join(' ')).digest('hex').slice(0, 12);
  const out = join(E2E_CACHE, `provider-${key}.raw`);
  await buildOnce(out, join(REPO, 'scripts', 'make-debian-disk.sh'), ['--tar', tarball, '--out', '{TMP}', '--authorized-key', operatorPub, '--hostname', 'provider', '--marker', 'provider-image', ...extra]);
  return out;
}

/**
 * Debian 12's Secure Boot chain, unpacked (not installed) into .cache/e2e: shim signed by
 * Microsoft (shim-signed) and GRUB signed by Debian (grub-efi-amd64-signed), for the
 * provider disk's ESP (make-debian-disk.sh --secure-boot).
 */
export async function secureBootFiles(): Promise<string> {
  const out = join(E2E_CACHE, 'secureboot-bookworm');
  const script = 'set -e; mkdir -p "$1/debs"; chmod 755 "$1/debs"; cd "$1/debs"; apt-get download shim-signed shim-helpers-amd64-signed grub-efi-amd64-signed >/dev/null 2>&1; mkdir -p "$1/root"; for d in *.deb; do dpkg-deb -x "$d" "$1/root"; done; mv "$1/root" "$1/files"';
  await buildOnce(out, 'sh', ['-c', script, 'sh', '{TMP}']);
  return join(out, 'files');
}

/** payloads/image copied to DIR/image-payload, its image.conf naming the target tarball at URL (and any more settings). */
export function imagePayload(dir: string, url: string, target: string, buildId: string, more: Record<string, string> = {}): string {
  const payload = join(dir, 'image-payload');
  cpSync(join(REPO, 'payloads', 'image'), payload, {recursive: true});
  const sha = createHash('sha256').update(readFileSync(target)).digest('hex');
  writeFileSync(join(payload, 'image.conf'), [`IMAGE_URL=${url}`, `IMAGE_SHA256=${sha}`, 'IMAGE_KIND=rootfs', 'ROOT_FS=ext4', `IMAGE_BUILD_ID=${buildId}`, ...Object.entries(more).map(([k, v]) => `${k}=${v}`), ''].join('\n'));
  return payload;
}

/**
 * What every provider e2e starts with: a scratch directory, the operator's key, the base,
 * the provider (Debian 12) and target (Debian 13) root filesystems, and a sparse copy of the
 * provider disk made with these options (the cached 3 GiB disk holds ~0.5 GiB of data).
 */
export async function providerSetup(prefix: string, options: ProviderDiskOptions) {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const operator = sshKeypair(E2E_CACHE, 'operator');
  const base = await ensureBase();
  const provider = await rootfsTarball('bookworm', PROVIDER_PACKAGES, 'tar');
  const target = await targetTarball();
  const disk = join(work, 'provider.raw');
  const image = await providerDisk(provider, `${operator.priv}.pub`, options);
  await new Promise((res, rej) => execFile('cp', ['--sparse=always', image, disk], (e) => (e ? rej(e) : res(undefined))));
  return {work, operator, base, target, disk};
}

/**
 * The anemos.conf of an image deploy: the kernel (the base's, or another at `kernel`) and the
 * base from the test server at URL, payloads/image as a directory on the provider.
 */
export function imageDeployConf(url: string, base: {kernel: string; initramfs: string}, o: {kernel?: {path: string; file: string}; boot?: string} = {}): string {
  const kernel = o.kernel ?? {path: 'vmlinuz', file: base.kernel};
  const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
  // Quoted: an IPv6 URL's brackets would read as a YAML list.
  return [
    `kernel: {url: '${url}/${kernel.path}', sha256: ${sha(kernel.file)}}`,
    `initramfs: {url: '${url}/initramfs.cpio.zst', sha256: ${sha(base.initramfs)}}`,
    'payload: {url: /root/image-payload}',
    'deploy: {disk: /dev/vda, timeout: 20m, network_timeout: 60s}',
    o.boot ?? 'boot: {delay: 1}',
  ].join('\n');
}

/**
 * Boot the provider VM and wait for its SSH (on `port`), then copy anemos to
 * /usr/local/bin and each local file or directory to its place (remote path → local path).
 * Returns the VM, its SSH host key fingerprint and the seconds from power-on to SSH.
 */
export async function bootProvider(options: QemuOptions, key: string, port: number, files: Record<string, string>, sshWithinMs = 240_000): Promise<{vm: Vm; fingerprint: string; seconds: number}> {
  const t0 = Date.now();
  const vm = new Vm(options);
  await sshRun(key, port, 'true', sshWithinMs);
  const seconds = Number(((Date.now() - t0) / 1000).toFixed(1));
  await scpTo(key, port, CLI, '/usr/local/bin/anemos');
  for (const [remote, local] of Object.entries(files)) await scpTo(key, port, local, remote);
  return {vm, fingerprint: await hostKeyFingerprint(port), seconds};
}

/** A provider e2e's end: the VM killed, the server closed, its timings and kept serial log printed. */
export async function endProviderE2e(name: string, vm: Vm | undefined, server: {close(): Promise<void>} | undefined, timings: Record<string, number>, serialLog: string): Promise<void> {
  vm?.kill();
  await server?.close();
  if (Object.keys(timings).length) process.stderr.write(`${name} e2e timings (s): ${JSON.stringify(timings)}\nserial log (kept after the run): ${keptPath(serialLog)}\n`);
}

/**
 * The two live layers of the live-image tests, built once per recipe and CLI under their
 * lock (the kexec and the network-boot tests run in the two vitest processes and share
 * them): base (Debian 13 with systemd and sshd) and web (from= base: nginx, a page, and
 * conffs/: a template rendered for each host at boot, and a file as it is). Returns the
 * directory of the two projects, each with its out/; and the seconds the build took, when
 * this call built them.
 */
export async function liveImages(): Promise<{dir: string; seconds?: number}> {
  const files: Record<string, string> = {
    'base/IMGBUILD': ['imgname=base', 'target=debian', 'format=live', 'debian_suite=trixie', 'kernel=none', 'packages="systemd-sysv openssh-server iproute2"', ''].join('\n'),
    'web/IMGBUILD': ['imgname=web', 'target=debian', 'format=live', 'from=../base', 'debian_suite=trixie', 'kernel=none', 'packages="nginx"', ''].join('\n'),
    'web/files/var/www/html/index.html': '<h1>anemos live web</h1>\n',
    'web/conffs/var/www/html/host.txt.makeimg.template': '{{SHORT_HOSTNAME}} {{IPV4}}/{{IPV4_PREFIX}} {{IMGNAME}}\n',
    'web/conffs/etc/host-note': 'from conffs\n',
  };
  const h = createHash('sha256').update(readFileSync(CLI));
  for (const [f, text] of Object.entries(files)) h.update(f).update(text);
  const out = join(E2E_CACHE, `live-images-${h.digest('hex').slice(0, 16)}`);
  if (existsSync(out)) return {dir: out};
  const src = mkdtempSync(join(tmpdir(), 'anemos-live-projects-'));
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(src, f, '..'), {recursive: true});
    writeFileSync(join(src, f), text);
  }
  mkdirSync(E2E_CACHE, {recursive: true});
  const t0 = Date.now();
  await buildOnce(out, 'sh', ['-c', 'cp -a "$1" "$2" && "$3" image build "$2/web" --with-parents >/dev/null', 'sh', src, '{TMP}', CLI]);
  return {dir: out, seconds: Number(((Date.now() - t0) / 1000).toFixed(1))};
}

