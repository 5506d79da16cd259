// The agent's contact with the machine: /sys, /proc, and running commands. Small and
// side-effecting; the decisions are made in the pure modules beside it.

import {existsSync, readdirSync, readFileSync, sleep} from './runtime.js';
import type {Link} from './net-setup.js';
import {parseBlockStat, type WriteCounters} from './disk-writes.js';

/** Network interfaces and their MACs, from sysfs (another root for anemos-netconf's tests). */
export function readLinks(sysfs = '/sys'): Link[] {
  const links: Link[] = [];
  for (const name of readdirSync(`${sysfs}/class/net`)) {
    if (name === 'lo') continue;
    const dir = `${sysfs}/class/net/${name}`;
    try {
      // NICs only: a bond or VLAN made here shares a NIC's MAC.
      const devtype = existsSync(`${dir}/uevent`) ? readFileSync(`${dir}/uevent`, 'utf8').match(/^DEVTYPE=(.*)$/m)?.[1] : undefined;
      if (devtype && ['bond', 'vlan', 'bridge'].includes(devtype)) continue;
      // A bond member's own MAC: its current one is the bond's.
      const perm = `${dir}/bonding_slave/perm_hwaddr`;
      links.push({name, mac: readFileSync(existsSync(perm) ? perm : `${dir}/address`, 'utf8').trim()});
    } catch {
      // an interface that vanished between readdir and read
    }
  }
  return links;
}

export function readWriteCounters(): WriteCounters {
  const counters: WriteCounters = {};
  for (const dev of readdirSync('/sys/block')) {
    try {
      counters[dev] = parseBlockStat(readFileSync(`/sys/block/${dev}/stat`, 'utf8'));
    } catch {
      // a device that vanished
    }
  }
  return counters;
}

export {sleep};
