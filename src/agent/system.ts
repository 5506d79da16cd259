// The agent's contact with the machine: /sys, /proc, and running commands. Small and
// side-effecting; the decisions are made in the pure modules beside it.

import {readdirSync, readFileSync} from 'node:fs';
import type {Link} from './net-setup.js';
import {parseBlockStat, type WriteCounters} from './disk-writes.js';

/** Network interfaces and their MACs, from sysfs (another root for anemos-netconf's tests). */
export function readLinks(sysfs = '/sys'): Link[] {
  const links: Link[] = [];
  for (const name of readdirSync(`${sysfs}/class/net`)) {
    if (name === 'lo') continue;
    try {
      links.push({name, mac: readFileSync(`${sysfs}/class/net/${name}/address`, 'utf8').trim()});
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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
