// An installation ISO as the tests use one: Debian's netboot installer (the
// debian-installer-12-netboot-amd64 package) laid out as Debian's media lay it out
// (install.amd/ with linux and initrd.gz, and a .disk/info), made by xorriso.

import {execFileSync} from 'node:child_process';
import {copyFileSync, mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

export const DI_DIR = '/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64';
export const DI_KERNEL = join(DI_DIR, 'linux');
export const DI_INITRD = join(DI_DIR, 'initrd.gz');

/** DIR/media/ID.iso; DIR/media is what anemos serve --media takes. */
export function debianInstallerIso(dir: string, id = 'debian-12-netboot'): {media: string; iso: string; id: string} {
  const tree = join(dir, `${id}-tree`);
  mkdirSync(join(tree, 'install.amd'), {recursive: true});
  mkdirSync(join(tree, '.disk'), {recursive: true});
  copyFileSync(DI_KERNEL, join(tree, 'install.amd', 'linux'));
  copyFileSync(DI_INITRD, join(tree, 'install.amd', 'initrd.gz'));
  writeFileSync(join(tree, '.disk', 'info'), 'Debian GNU/Linux 12 "Bookworm" - netboot amd64 (debian-installer-12-netboot-amd64)');
  const media = join(dir, 'media');
  mkdirSync(media, {recursive: true});
  const iso = join(media, `${id}.iso`);
  execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'DEBIAN_NETBOOT', '-o', iso, tree], {stdio: ['ignore', 'ignore', 'pipe']});
  return {media, iso, id};
}
