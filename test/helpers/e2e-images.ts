// Root filesystems and the provider disk for the end-to-end test, built with mmdebstrap
// from Debian's mirror and cached under .cache/e2e by the exact recipe (suite + packages).

import {execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {existsSync, mkdirSync, readFileSync, renameSync} from 'node:fs';
import {join} from 'node:path';
import {REPO} from './kernel.js';

export const E2E_CACHE = join(REPO, '.cache', 'e2e');
const MIRROR = 'http://deb.debian.org/debian';

/** The provider: what a cloud ships as "Debian 12", plus what anemos needs on a host (nodejs 18, kexec-tools). */
export const PROVIDER_PACKAGES = ['linux-image-cloud-amd64', 'systemd-sysv', 'openssh-server', 'nodejs', 'kexec-tools', 'ifupdown', 'iproute2', 'initramfs-tools', 'zstd'];
/** The new system the image payload installs: Debian 13, booting with its own GRUB. */
export const TARGET_SUITE = 'trixie';
export const TARGET_PACKAGES = ['linux-image-cloud-amd64', 'grub-pc', 'openssh-server', 'systemd-sysv', 'initramfs-tools', 'zstd', 'ifupdown'];

export function rootfsTarball(suite: string, packages: string[], ext: 'tar' | 'tar.zst'): string {
  mkdirSync(E2E_CACHE, {recursive: true});
  const key = createHash('sha256').update(`${suite} ${packages.join(',')}`).digest('hex').slice(0, 12);
  const out = join(E2E_CACHE, `${suite}-${key}.${ext}`);
  if (!existsSync(out)) {
    const t0 = Date.now();
    execFileSync('mmdebstrap', ['--quiet', '--variant=apt', `--include=${packages.join(',')}`, suite, `${out}.tmp.${ext}`, MIRROR], {stdio: ['ignore', 'ignore', 'inherit']});
    renameSync(`${out}.tmp.${ext}`, out);
    process.stderr.write(`built ${out} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  return out;
}

export function providerDisk(tarball: string, operatorPub: string): string {
  const key = createHash('sha256').update(tarball).update(readFileSync(operatorPub)).update(readFileSync(join(REPO, 'scripts', 'make-debian-disk.sh'))).digest('hex').slice(0, 12);
  const out = join(E2E_CACHE, `provider-${key}.raw`);
  if (!existsSync(out)) {
    execFileSync(join(REPO, 'scripts', 'make-debian-disk.sh'), ['--tar', tarball, '--out', out, '--authorized-key', operatorPub, '--hostname', 'provider', '--marker', 'provider-image'], {stdio: ['ignore', 'ignore', 'inherit']});
  }
  return out;
}
