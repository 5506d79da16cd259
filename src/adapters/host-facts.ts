// Probe the host once into HostFacts. Reads /proc, /sys, /etc and asks iproute2,
// modinfo and which-style lookups; changes nothing.

import {access, readdir, readFile, readlink, stat, statfs} from 'node:fs/promises';
import {constants} from 'node:fs';
import {basename, join} from 'node:path';
import {hostname} from 'node:os';
import {firmwarePath} from '../core/deploy-plan.js';
import {mountOf, type HostFacts} from '../core/host-facts.js';
import {parseNetwork} from '../core/network.js';
import {AnemosError} from '../shared/errors.js';
import {gatherNetworkCaptures} from './host-network.js';
import type {Runner} from './process.js';

export interface HostPaths {
  root: string;
}

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined; // absent on this host: the fact is "unknown", judged by the planner
  }
}

export async function which(cmd: string, pathEnv = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of [...pathEnv.split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function parseLockdown(text: string | undefined): HostFacts['kexec']['lockdown'] {
  if (text === undefined) return 'none'; // no lockdown LSM: nothing is locked down
  const m = /\[(none|integrity|confidentiality)\]/.exec(text);
  return (m?.[1] as HostFacts['kexec']['lockdown']) ?? 'unknown';
}

function parseMeminfo(text: string | undefined): HostFacts['memory'] {
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text ?? '')?.[1] ?? 0) * 1024;
  return {totalBytes: kb('MemTotal'), availableBytes: kb('MemAvailable')};
}

/** Drivers bound to network interfaces and block devices: /sys/class/{net,block}/X/device/driver. */
async function boundDrivers(): Promise<string[]> {
  const drivers = new Set<string>();
  for (const cls of ['/sys/class/net', '/sys/class/block']) {
    let names: string[] = [];
    try {
      names = await readdir(cls);
    } catch {
      continue; // no such class in this kernel
    }
    for (const n of names) {
      for (const link of [join(cls, n, 'device', 'driver'), join(cls, n, 'device', 'device', 'driver')]) {
        try {
          drivers.add(basename(await readlink(link)));
          break;
        } catch {
          // virtual device (lo, loop, dm): no driver link
        }
      }
    }
  }
  return [...drivers].sort();
}

async function firmwareFor(runner: Runner): Promise<HostFacts['firmware']> {
  return collectFirmware(runner, await boundDrivers());
}

/**
 * The firmware files these drivers declare (modinfo -F firmware) that exist under the
 * firmware directory, plain or compressed (.zst, .xz) as the kernel loads them.
 * modinfoArgs select another kernel's modules (-b DIR -k VERSION), for tests.
 */
export async function collectFirmware(runner: Runner, drivers: string[], o: {firmwareDir?: string; modinfoArgs?: string[]} = {}): Promise<HostFacts['firmware']> {
  const dir = o.firmwareDir ?? '/lib/firmware';
  const out: HostFacts['firmware'] = [];
  for (const driver of drivers) {
    const r = await runner.run('modinfo', [...(o.modinfoArgs ?? []), '-F', 'firmware', driver], {allowFail: true});
    if (r.exitCode !== 0) continue; // built-in driver without module info
    for (const fw of r.stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
      for (const candidate of [fw, `${fw}.zst`, `${fw}.xz`]) {
        try {
          const st = await stat(join(dir, candidate));
          if (st.isFile() && !out.some((f) => f.path === candidate)) out.push({path: candidate, size: st.size});
          break;
        } catch {
          // declared but not installed: the driver works without it or falls back
        }
      }
    }
  }
  return out;
}

async function hostKeys(): Promise<Record<string, string>> {
  const keys: Record<string, string> = {};
  for (const type of ['ed25519', 'ecdsa', 'rsa']) {
    const p = `/etc/ssh/ssh_host_${type}_key`;
    if ((await read(p)) !== undefined) keys[`ssh_host_${type}_key`] = p;
  }
  return keys;
}

/** Sizes of listed firmware files, keyed as the planner reads them (firmwarePath); null where absent. */
export async function statFirmware(paths: string[]): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  for (const p of paths) {
    const rel = firmwarePath(p);
    // A path outside /lib/firmware is the planner's to refuse; it is not even looked at.
    if (rel !== undefined) out[rel] = await stat(join('/lib/firmware', rel)).then((s) => (s.isFile() ? s.size : null), () => null);
  }
  return out;
}

export interface GatherOptions {
  /** Firmware files anemos.conf lists: their sizes are read too. */
  firmware?: string[];
}

export async function gatherHostFacts(runner: Runner, opts: GatherOptions = {}): Promise<HostFacts> {
  let network: HostFacts['network'];
  try {
    network = {ok: true, config: parseNetwork(await gatherNetworkCaptures(runner))};
  } catch (err) {
    if (!(err instanceof AnemosError)) throw err;
    network = {ok: false, code: err.code, message: err.message, ...(err.hint ? {hint: err.hint} : {})};
  }
  const authorized = (await read('/root/.ssh/authorized_keys')) ?? '';
  let bootFreeBytes: number | undefined;
  try {
    const s = await statfs('/boot');
    bootFreeBytes = s.bavail * s.bsize;
  } catch {
    bootFreeBytes = undefined;
  }
  const grubCfg = (await read('/boot/grub/grub.cfg')) !== undefined ? '/boot/grub/grub.cfg' : undefined;
  const bootMount = mountOf((await read('/proc/self/mountinfo')) ?? '', '/boot');
  return {
    isRoot: process.getuid?.() === 0,
    hostname: hostname(),
    cmdline: ((await read('/proc/cmdline')) ?? '').trim(),
    kexec: {
      tool: await which('kexec'),
      loadDisabled: (await read('/proc/sys/kernel/kexec_load_disabled'))?.trim() === '1',
      lockdown: parseLockdown(await read('/sys/kernel/security/lockdown')),
      systemd: await stat('/run/systemd/system').then((s) => s.isDirectory(), () => false),
    },
    memory: parseMeminfo(await read('/proc/meminfo')),
    network,
    ssh: {
      authorizedKeys: authorized.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')),
      hostKeys: await hostKeys(),
    },
    firmware: await firmwareFor(runner),
    ...(opts.firmware?.length ? {firmwareFiles: await statFirmware(opts.firmware)} : {}),
    boot: {
      ...(await which('grub-reboot').then((p) => (p ? {grubReboot: p} : {}))),
      ...(grubCfg ? {grubCfg} : {}),
      grubCustomHook: /41_custom|custom\.cfg/.test((grubCfg && (await read(grubCfg))) || ''),
      ...(bootFreeBytes !== undefined ? {bootFreeBytes} : {}),
      separateBoot: await Promise.all([stat('/boot'), stat('/')]).then(([b, r]) => b.dev !== r.dev, () => false),
      ...(bootMount ? {filesystem: {type: bootMount.type, source: bootMount.source}} : {}),
    },
  };
}

/** Keys of the person at this machine: root's authorized_keys and ~/.ssh/id_*.pub. */
export async function operatorKeys(home = process.env.HOME ?? '/root'): Promise<string[]> {
  const keys = new Set<string>();
  const add = (text: string | undefined) => text?.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).forEach((l) => keys.add(l));
  add(await read('/root/.ssh/authorized_keys'));
  let names: string[] = [];
  try {
    names = await readdir(join(home, '.ssh'));
  } catch {
    names = []; // no ~/.ssh: only root's keys, if any
  }
  for (const n of names.filter((n) => /^id_.*\.pub$/.test(n)).sort()) add(await read(join(home, '.ssh', n)));
  return [...keys];
}
