// anemos inventory: host facts plus block devices, for the operator and for tooling.

import {gatherHostFacts} from '../adapters/host-facts.js';
import {realRunner} from '../adapters/process.js';
import {describePlatform} from '../core/host-facts.js';
import {describeNetwork} from '../core/network-describe.js';
import {gatherHostHardware} from '../adapters/hardware-sources.js';
import {describeHardware, formatSize} from '../core/inventory.js';

export interface Inventory {
  data: Record<string, unknown>;
  text: string[];
}

/** `now`: when it is gathered (the inventory's timestamp). */
export async function gatherInventory(now: Date = new Date()): Promise<Inventory> {
  const facts = await gatherHostFacts();
  const hardware = gatherHostHardware(now);
  const lsblk = await realRunner.run('lsblk', ['-J', '-b', '-o', 'NAME,SIZE,TYPE,MODEL,SERIAL,MOUNTPOINT,FSTYPE'], {allowFail: true});
  const disks = lsblk.exitCode === 0 ? (JSON.parse(lsblk.stdout).blockdevices as {name: string; size: number; type: string; model?: string}[]) : [];
  const MiB = 1048576;
  const text = [
    `hostname: ${facts.hostname}`,
    `hardware: ${describeHardware(hardware)}`,
    `memory: ${Math.round(facts.memory.totalBytes / MiB)} MiB total, ${Math.round(facts.memory.availableBytes / MiB)} MiB available`,
    `kexec: ${facts.kexec.tool ?? 'not installed'}${facts.kexec.loadDisabled ? ' (disabled until reboot)' : ''}; lockdown ${facts.kexec.lockdown}; systemd ${facts.kexec.systemd ? 'yes' : 'no'}`,
    `platform: ${describePlatform(facts.platform)}`,
    `boot: ${facts.boot.grubReboot ? 'GRUB (grub-reboot available)' : 'no grub-reboot'}${facts.boot.bootFreeBytes !== undefined ? `; /boot free ${Math.round(facts.boot.bootFreeBytes / MiB)} MiB` : ''}`,
    `ssh: ${facts.ssh.authorizedKeys.length} authorized key(s) for root; host keys: ${Object.keys(facts.ssh.hostKeys).join(', ') || 'none readable'}`,
    `firmware: ${facts.firmware.map((f) => f.path).join(', ') || 'none needed'}`,
    'disks:',
    ...disks.filter((d) => d.type === 'disk').map((d) => `  /dev/${d.name} ${formatSize(d.size)}${d.model ? ` ${d.model.trim()}` : ''}`),
    'network:',
    ...(facts.network.ok ? describeNetwork(facts.network.config).map((l) => `  ${l}`) : [`  cannot be carried: ${facts.network.message}`]),
  ];
  return {data: {...facts, disks, hardware}, text};
}
