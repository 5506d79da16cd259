// Root filesystems and the provider disk for the end-to-end test, built with mmdebstrap
// from Debian's mirror and cached under .cache/e2e by the exact recipe (suite + packages).

import {createHash} from 'node:crypto';
import {existsSync, mkdirSync, readFileSync, renameSync} from 'node:fs';
import {join} from 'node:path';
import {runLong} from './deploy-env.js';
import {REPO} from './kernel.js';

export const E2E_CACHE = join(REPO, '.cache', 'e2e');
const MIRROR = 'http://deb.debian.org/debian';

/** The provider: what a cloud ships as "Debian 12" (with GRUB's tools), plus what anemos needs on a host (nodejs 18, kexec-tools). */
export const PROVIDER_PACKAGES = ['linux-image-cloud-amd64', 'systemd-sysv', 'openssh-server', 'nodejs', 'kexec-tools', 'ifupdown', 'iproute2', 'initramfs-tools', 'zstd', 'grub-pc'];
/** A stock Debian 12 as a provider ships it: no Node, no kexec-tools, nothing of anemos (anemos deploy --host drives it). */
export const STOCK_PROVIDER_PACKAGES = ['linux-image-cloud-amd64', 'systemd-sysv', 'openssh-server', 'ifupdown', 'iproute2', 'initramfs-tools', 'grub-pc', 'curl', 'sudo'];
/** The new system the image payload installs: Debian 13, booting with its own GRUB. */
export const TARGET_SUITE = 'trixie';
export const TARGET_PACKAGES = ['linux-image-cloud-amd64', 'grub-pc', 'openssh-server', 'systemd-sysv', 'initramfs-tools', 'zstd', 'ifupdown'];

export async function rootfsTarball(suite: string, packages: string[], ext: 'tar' | 'tar.zst'): Promise<string> {
  mkdirSync(E2E_CACHE, {recursive: true});
  const key = createHash('sha256').update(`${suite} ${packages.join(',')}`).digest('hex').slice(0, 12);
  const out = join(E2E_CACHE, `${suite}-${key}.${ext}`);
  if (!existsSync(out)) {
    const t0 = Date.now();
    await runLong('mmdebstrap', ['--quiet', '--variant=apt', `--include=${packages.join(',')}`, suite, `${out}.tmp.${ext}`, MIRROR]);
    renameSync(`${out}.tmp.${ext}`, out);
    process.stderr.write(`built ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  return out;
}

export async function providerDisk(tarball: string, operatorPub: string): Promise<string> {
  const key = createHash('sha256').update(tarball).update(readFileSync(operatorPub)).update(readFileSync(join(REPO, 'scripts', 'make-debian-disk.sh'))).digest('hex').slice(0, 12);
  const out = join(E2E_CACHE, `provider-${key}.raw`);
  if (!existsSync(out)) {
    await runLong(join(REPO, 'scripts', 'make-debian-disk.sh'), ['--tar', tarball, '--out', out, '--authorized-key', operatorPub, '--hostname', 'provider', '--marker', 'provider-image']);
  }
  return out;
}
