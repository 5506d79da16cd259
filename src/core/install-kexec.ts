// --install-kexec: kexec-tools from the host's own package manager, chosen by
// /etc/os-release. Only when asked: installing software changes the host before the
// deploy, so by default a host without kexec uses the one-shot GRUB entry instead.

export interface OsRelease {
  id: string;
  idLike: string[];
}

export function parseOsRelease(text: string): OsRelease {
  const get = (k: string) => new RegExp(`^${k}=["']?([^"'\\n]*)`, 'm').exec(text)?.[1]?.trim() ?? '';
  return {id: get('ID'), idLike: get('ID_LIKE').split(/\s+/).filter(Boolean)};
}

/** The commands that install kexec-tools, or undefined for a distribution we do not know. */
export function installKexecCommands(os: OsRelease): string[][] | undefined {
  const family = [os.id, ...os.idLike];
  if (family.some((f) => f === 'debian' || f === 'ubuntu')) {
    return [
      // Debian asks whether every reboot should become a kexec (kexec-load.service): no,
      // the host's reboots stay as they were.
      ['sh', '-c', 'echo "kexec-tools kexec-tools/load_kexec boolean false" | debconf-set-selections'],
      ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'update', '-q'],
      ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-q', '--no-install-recommends', 'kexec-tools'],
    ];
  }
  if (family.some((f) => ['fedora', 'rhel', 'centos', 'rocky', 'almalinux'].includes(f))) return [['dnf', 'install', '-y', 'kexec-tools']];
  if (family.includes('alpine')) return [['apk', 'add', 'kexec-tools']];
  if (family.includes('arch')) return [['pacman', '-S', '--noconfirm', '--needed', 'kexec-tools']];
  if (family.some((f) => f === 'suse' || f.startsWith('opensuse'))) return [['zypper', '--non-interactive', 'install', 'kexec-tools']];
  return undefined;
}
