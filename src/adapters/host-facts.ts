// Probe the host once into HostFacts. Reads /proc, /sys, /etc and asks iproute2,
// modinfo and which-style lookups; changes nothing.

import {join} from 'node:path';
import {firmwarePath} from '../core/deploy-plan.js';
import {EFI_GLOBAL_GUID} from '../core/efi-boot.js';
import {mountOf, NOT_A_DISK, parseSecureBoot, type HostDisk, type HostFacts} from '../core/host-facts.js';
import {parseOsRelease} from '../core/install-kexec.js';
import {EFIVARS_DIR, RAMOOPS_PARAMS, type RamoopsParams} from '../core/last-deploy.js';
import {parseNetwork} from '../core/network.js';
import {AnemosError} from '../shared/errors.js';
import {hostFiles, localHost, type Host, type HostFiles} from './host-files.js';
import {gatherNetworkCaptures} from './host-network.js';
import type {Runner} from './process.js';

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
async function boundDrivers(runner: Runner): Promise<string[]> {
  // One command for all devices: over SSH, one round trip instead of one per device.
  const r = await runner.run('sh', ['-c', 'for d in /sys/class/net/* /sys/class/block/*; do readlink "$d/device/driver" || readlink "$d/device/device/driver"; done 2>/dev/null; true']);
  return [...new Set(r.stdout.split('\n').map((l) => l.trim().split('/').pop() ?? '').filter(Boolean))].sort();
}

/**
 * The firmware files these drivers declare (modinfo -F firmware) that exist under the
 * firmware directory, plain or compressed (.zst, .xz) as the kernel loads them.
 * modinfoArgs select another kernel's modules (-b DIR -k VERSION), for tests.
 */
export async function collectFirmware(runner: Runner, drivers: string[], o: {firmwareDir?: string; modinfoArgs?: string[]; files?: HostFiles} = {}): Promise<HostFacts['firmware']> {
  const files = o.files ?? hostFiles;
  const dir = o.firmwareDir ?? '/lib/firmware';
  const out: HostFacts['firmware'] = [];
  for (const driver of drivers) {
    const r = await runner.run('modinfo', [...(o.modinfoArgs ?? []), '-F', 'firmware', driver], {allowFail: true});
    if (r.exitCode !== 0) continue; // built-in driver without module info
    for (const fw of r.stdout.split('\n').map((l) => l.trim()).filter(Boolean)) {
      for (const candidate of [fw, `${fw}.zst`, `${fw}.xz`]) {
        // Declared but not installed: the driver works without it or falls back.
        const st = await files.stat(join(dir, candidate));
        if (!st?.isFile) continue;
        if (!out.some((f) => f.path === candidate)) out.push({path: candidate, size: st.size});
        break;
      }
    }
  }
  return out;
}

async function hostKeys(files: HostFiles): Promise<Record<string, string>> {
  const keys: Record<string, string> = {};
  for (const type of ['ed25519', 'ecdsa', 'rsa']) {
    const p = `/etc/ssh/ssh_host_${type}_key`;
    if ((await files.stat(p))?.isFile) keys[`ssh_host_${type}_key`] = p;
  }
  return keys;
}

/** Sizes of listed firmware files, keyed as the planner reads them (firmwarePath); null where absent. */
export async function statFirmware(paths: string[], files: HostFiles = hostFiles): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  for (const p of paths) {
    const rel = firmwarePath(p);
    // A path outside /lib/firmware is the planner's to refuse; it is not even looked at.
    if (rel !== undefined) out[rel] = await files.stat(join('/lib/firmware', rel)).then((s) => (s?.isFile ? s.size : null));
  }
  return out;
}

export interface GatherOptions {
  /** Firmware files anemos.conf lists: their sizes are read too. */
  firmware?: string[];
  /** More keys allowed into the deploy environment: the SSH user's own, when that is not root. */
  extraAuthorizedKeys?: string[];
}

export async function gatherHostFacts(host: Host = localHost, opts: GatherOptions = {}): Promise<HostFacts> {
  const {runner, files} = host;
  const read = (p: string) => files.read(p).catch(() => undefined); // unreadable: the fact is "unknown", judged by the planner
  let network: HostFacts['network'];
  try {
    network = {ok: true, config: parseNetwork(await gatherNetworkCaptures(host))};
  } catch (err) {
    if (!(err instanceof AnemosError)) throw err;
    network = {ok: false, code: err.code, message: err.message, ...(err.hint ? {hint: err.hint} : {})};
  }
  const authorized = [(await read('/root/.ssh/authorized_keys')) ?? '', ...(opts.extraAuthorizedKeys ?? [])].join('\n');
  const grubCfg = (await read('/boot/grub/grub.cfg')) !== undefined ? '/boot/grub/grub.cfg' : undefined;
  const bootMount = mountOf((await read('/proc/self/mountinfo')) ?? '', '/boot');
  const bootFreeBytes = await files.freeBytes('/boot');
  const [bootStat, rootStat] = [await files.stat('/boot'), await files.stat('/')];
  const grubReboot = await host.which('grub-reboot');
  const kexecTool = await host.which('kexec');
  const ramoopsDir = '/sys/module/ramoops/parameters';
  const ramoopsNames = await files.list(ramoopsDir);
  const ramoops: Record<string, string> = {};
  for (const n of RAMOOPS_PARAMS.filter((p) => ramoopsNames.includes(p))) {
    const v = (await read(`${ramoopsDir}/${n}`))?.trim();
    if (v) ramoops[n] = v;
  }
  const uefi = Boolean((await files.stat('/sys/firmware/efi'))?.isDirectory);
  const secureBoot = uefi ? parseSecureBoot(await read(`${EFIVARS_DIR}/SecureBoot-${EFI_GLOBAL_GUID}`)) : undefined;
  return {
    isRoot: await host.isRoot(),
    hostname: await host.hostname(),
    cmdline: ((await read('/proc/cmdline')) ?? '').trim(),
    kexec: {
      ...(kexecTool ? {tool: kexecTool} : {}),
      loadDisabled: (await read('/proc/sys/kernel/kexec_load_disabled'))?.trim() === '1',
      lockdown: parseLockdown(await read('/sys/kernel/security/lockdown')),
      systemd: Boolean((await files.stat('/run/systemd/system'))?.isDirectory),
    },
    memory: parseMeminfo(await read('/proc/meminfo')),
    os: parseOsRelease((await read('/etc/os-release')) ?? ''),
    network,
    ssh: {
      authorizedKeys: [...new Set(authorized.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')))],
      hostKeys: await hostKeys(files),
    },
    platform: {uefi, ...(secureBoot !== undefined ? {secureBoot} : {})},
    pstore: {
      efi: uefi,
      ...(ramoops.mem_address ? {ramoops: ramoops as unknown as RamoopsParams} : {}),
    },
    disks: await blockDisks(files),
    firmware: await collectFirmware(runner, await boundDrivers(runner), {files}),
    ...(opts.firmware?.length ? {firmwareFiles: await statFirmware(opts.firmware, files)} : {}),
    boot: {
      ...(grubReboot ? {grubReboot} : {}),
      ...(grubCfg ? {grubCfg} : {}),
      grubCustomHook: /41_custom|custom\.cfg/.test((grubCfg && (await read(grubCfg))) || ''),
      ...(bootFreeBytes !== undefined ? {bootFreeBytes} : {}),
      separateBoot: bootStat !== undefined && rootStat !== undefined && bootStat.dev !== rootStat.dev,
      ...(bootMount ? {filesystem: {type: bootMount.type, source: bootMount.source}} : {}),
    },
  };
}

/** The whole disks in /sys/block with their sizes and partitions: deploy.disk is checked against them. */
async function blockDisks(files: Host['files']): Promise<HostDisk[]> {
  const disks: HostDisk[] = [];
  for (const name of (await files.list('/sys/block')).filter((n) => !NOT_A_DISK.test(n)).sort()) {
    const sectors = Number((await files.read(`/sys/block/${name}/size`).catch(() => undefined))?.trim());
    const partitions = (await files.list(`/sys/block/${name}`)).filter((p) => p.startsWith(name) && p !== name);
    disks.push({name, sizeBytes: Number.isFinite(sectors) ? sectors * 512 : 0, partitions});
  }
  return disks;
}

/** Keys of the person at this machine: root's authorized_keys and ~/.ssh/id_*.pub. */
export async function operatorKeys(home = process.env.HOME ?? '/root'): Promise<string[]> {
  const keys = new Set<string>();
  const add = (text: string | undefined) => text?.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).forEach((l) => keys.add(l));
  const read = (p: string) => hostFiles.read(p).catch(() => undefined);
  add(await read('/root/.ssh/authorized_keys'));
  // No ~/.ssh: only root's keys, if any.
  const names = await hostFiles.list(join(home, '.ssh'));
  for (const n of names.filter((n) => /^id_.*\.pub$/.test(n)).sort()) add(await read(join(home, '.ssh', n)));
  return [...keys];
}
