// anemos serve --boot: the boot services beside the registry, in its process and on its
// database. proxyDHCP on the boot interface (the site's DHCP keeps giving the addresses),
// TFTP of the iPXE binaries, and the boot listener (HTTP: the iPXE scripts, the deploy
// environment, the machines' segments and the agents' reports) on the interface's address.

import {readdirSync, renameSync, writeFileSync} from 'node:fs';
import {mkdir, readFile, rename, stat, writeFile} from 'node:fs/promises';
import {join} from 'node:path';
import type {AddressInfo} from 'node:net';
import {sendMagicPackets, startDhcpServer, type DhcpServer} from '../../adapters/dhcp-server.js';
import {sha256File} from '../../adapters/fetch.js';
import {interfaceAddress} from '../../adapters/host-network.js';
import {commandFailed, realRunner} from '../../adapters/process.js';
import {which} from '../../adapters/which.js';
import {GRUB_EFI_MODULES, LOCAL_DISK_EFI, localDiskEfiArgs, localDiskGrubConfig} from '../../core/netboot/local-disk.js';
import {startTftpServer, type TftpServer} from '../../adapters/tftp-server.js';
import {TFTP_PORT} from '../../core/netboot/tftp.js';
import {ipxeBinary} from '../../core/netboot/pxe.js';
import type {FullDhcp} from '../../core/netboot/full-dhcp.js';
import type {Idle} from '../../core/netboot/boot-decision.js';
import {Leases, parseRange, type Lease} from '../../core/netboot/leases.js';
import {artifactError, usageError} from '../../shared/errors.js';
import type {Registry} from '../registry/registry.js';
import {createRegistryServer, type Limits} from '../registry/server.js';
import {BootService, type BootFile} from './boot-service.js';
import {MediaLibrary} from './media.js';
import {readLiveImage} from '../live.js';

export const DHCP_MODES = ['proxy', 'full', 'off'] as const;
export type DhcpMode = (typeof DHCP_MODES)[number];

export interface BootServeOptions {
  /** --boot-interface: the boot segment's interface; the services listen on its IPv4 address. */
  interface: string;
  dhcp: DhcpMode;
  /** --dhcp-range START-END: the addresses --dhcp full gives (required with it, refused without it). */
  dhcpRange?: string;
  /** --dhcp-lease: seconds a full DHCP lease lasts. */
  leaseSeconds?: number;
  discover: boolean;
  /** --discover-idle: what a discovered machine does while it waits for a deployment (its record's attributes.idle wins). */
  idle?: Idle;
  /** --boot-http-port: the boot listener's port on that address. */
  httpPort: number;
  /** --boot-environment: a directory of anemos initramfs build (vmlinuz, initramfs.cpio.zst, SHA256SUMS). */
  environment: string;
  /** --ipxe-dir: Debian's ipxe package's files. */
  ipxeDir: string;
  /** --media DIR: installation ISOs for desired deployments that name an installer. */
  media?: string;
  /** --images DIR: live images a desired deployment's live.image names. */
  images?: string;
  /** --boot-ssh-keys: a file of public keys let into network-booted deploy environments. */
  sshKeys?: string;
  /** --boot-cmdline: kernel arguments (the console). */
  cmdline: string;
  /** Where payloads a desired deployment names are fetched to, checked and kept (by sha256). */
  cacheDir: string;
  /** Ports for a test that cannot bind the real ones; 67, 4011 and 69 otherwise. */
  ports?: {dhcp?: number; pxe?: number; tftp?: number};
}

export interface RunningBoot {
  address: string;
  httpBase: string;
  service: BootService;
  /** Wake-on-LAN for these MACs on the boot segment; the number of packets sent. */
  wake(macs: string[]): Promise<number>;
  close(): Promise<void>;
}

/** The environment's files, each checked against the SHA256SUMS beside them before anything is served. */
async function environmentFiles(dir: string): Promise<{kernel: BootFile; base: BootFile}> {
  let sums: string;
  try {
    sums = await readFile(join(dir, 'SHA256SUMS'), 'utf8');
  } catch {
    throw usageError('boot-environment', `--boot-environment ${dir} has no SHA256SUMS: it is not a directory made by anemos initramfs build.`, `Build one: anemos initramfs build -o ${dir}`);
  }
  const file = async (name: string): Promise<BootFile> => {
    const want = sums.match(new RegExp(`^([0-9a-f]{64})\\s+\\*?${name.replace('.', '\\.')}$`, 'm'))?.[1];
    const path = join(dir, name);
    if (!want) throw usageError('boot-environment', `${join(dir, 'SHA256SUMS')} has no line for ${name}.`, `Build the directory again: anemos initramfs build -o ${dir}`);
    const size = await stat(path).then((s) => s.size, () => undefined);
    if (size === undefined) throw usageError('boot-environment', `${path} is missing.`, `Build the directory again: anemos initramfs build -o ${dir}`);
    const got = await sha256File(path);
    if (got !== want) throw artifactError('boot-environment-sha256', `${path} has sha256 ${got}, not the ${want} its SHA256SUMS says: it is not served.`, `Build the directory again: anemos initramfs build -o ${dir}`);
    return {path, size, sha256: got};
  };
  return {kernel: await file('vmlinuz'), base: await file('initramfs.cpio.zst')};
}

async function ipxeFiles(dir: string): Promise<{efi: BootFile}> {
  for (const name of [ipxeBinary('bios'), ipxeBinary('uefi')]) {
    const ok = await stat(join(dir, name)).then((s) => s.isFile(), () => false);
    if (!ok) throw usageError('boot-ipxe-missing', `${join(dir, name)} is missing: network boot chainloads iPXE from there.`, dir === '/usr/lib/ipxe' ? 'Install Debian\'s ipxe package (apt-get install ipxe), or pass --ipxe-dir DIR.' : 'Pass the directory of undionly.kpxe and snponly.efi (Debian\'s ipxe package puts them in /usr/lib/ipxe).');
  }
  const path = join(dir, ipxeBinary('uefi'));
  return {efi: {path, size: (await stat(path)).size, sha256: await sha256File(path)}};
}

/**
 * The GRUB that boots a UEFI machine's disk, built into the cache from Debian's
 * grub-efi-amd64-bin; without that package, UEFI machines sent to their disk go back to
 * their firmware, which is said once here.
 */
async function localDiskEfi(cacheDir: string, log: (line: string) => void): Promise<BootFile | undefined> {
  const tool = await which('grub-mkstandalone');
  const modules = await stat(join(GRUB_EFI_MODULES, 'normal.mod')).then(() => true, () => false);
  if (!tool || !modules) {
    log(`boot: no ${!tool ? 'grub-mkstandalone' : GRUB_EFI_MODULES}: a UEFI machine sent to its disk goes back to its firmware's boot order, which may try other network boots first (install grub-efi-amd64-bin for the quick way)`);
    return undefined;
  }
  const dir = join(cacheDir, 'boot');
  await mkdir(dir, {recursive: true, mode: 0o700});
  const cfg = join(dir, 'local-disk.cfg');
  const path = join(dir, LOCAL_DISK_EFI);
  await writeFile(cfg, localDiskGrubConfig());
  const args = localDiskEfiArgs(cfg, `${path}.part`);
  const r = await realRunner.run(tool, args, {timeoutMs: 60_000});
  if (r.exitCode !== 0) throw commandFailed(tool, args, r.exitCode, r.stderr, 'grub-mkstandalone comes with grub-common and grub-efi-amd64-bin; reinstall them.');
  await rename(`${path}.part`, path);
  return {path, size: (await stat(path)).size, sha256: await sha256File(path)};
}

/** The lease table of --dhcp full, from the range and the leases kept in the cache (written again at each change). */
async function fullDhcp(o: BootServeOptions, address: string, prefix: number, log: (line: string) => void): Promise<FullDhcp & {kept: (leases: Lease[]) => void}> {
  if (!o.dhcpRange) throw usageError('dhcp-range', '--dhcp full needs --dhcp-range START-END: the addresses it may give on the boot network.', `For example --dhcp-range ${address.replace(/\.\d+$/, '.100')}-${address.replace(/\.\d+$/, '.199')} (inside ${address}/${prefix}, without this server's address).`);
  const r = parseRange(o.dhcpRange, {address, prefix});
  if (!r.ok) throw usageError('dhcp-range', `${r.error}.`, `Name addresses inside ${address}/${prefix} on --boot-interface ${o.interface}, without ${address}.`);
  const file = join(o.cacheDir, 'dhcp-leases.json');
  const kept = await readFile(file, 'utf8').then(
    (t) => {
      try {
        const v = JSON.parse(t) as unknown;
        if (Array.isArray(v)) return v.filter((l): l is Lease => typeof l?.mac === 'string' && typeof l?.address === 'string' && typeof l?.expires === 'number');
      } catch {
        // said below
      }
      log(`boot: ${file} is not a lease table anemos wrote: starting with no leases (clients renewing others' addresses are refused and ask again)`);
      return [];
    },
    () => [],
  );
  await mkdir(o.cacheDir, {recursive: true, mode: 0o700});
  return {
    leases: new Leases(r.range, kept),
    server: address,
    leaseSeconds: o.leaseSeconds ?? 3600,
    // Written whole and renamed into place: a crash leaves the old table or the new one.
    kept: (leases) => {
      writeFileSync(`${file}.part`, `${JSON.stringify(leases, null, 1)}\n`, {mode: 0o600});
      renameSync(`${file}.part`, file);
    },
  };
}

export async function startBootServices(registry: Registry, o: BootServeOptions & {version: string; limits?: Partial<Limits>; log: (line: string) => void}): Promise<RunningBoot> {
  const {address, prefix} = interfaceAddress(o.interface);
  const full = o.dhcp === 'full' ? await fullDhcp(o, address, prefix, o.log) : undefined;
  const env = await environmentFiles(o.environment);
  const ipxe = await ipxeFiles(o.ipxeDir);
  const localDisk = await localDiskEfi(o.cacheDir, o.log);
  const keys = o.sshKeys ? (await readFile(o.sshKeys, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')) : [];
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const media = o.media ? await MediaLibrary.load(o.media) : undefined;
    if (media) {
      closers.push(() => media.close());
      for (const m of media.list()) o.log(m.media ? `boot: media ${m.id}: ${m.media.distribution} ${m.media.release} ${m.media.arch} (${m.media.kind}), kernel ${m.media.kernel}, initrd ${m.media.initrd}` : `boot: media ${m.id}: not offered: ${m.problem}`);
    }
    if (o.images) {
      // Read again at each boot (an image built or linked later is served then): listed here for the operator.
      let names: string[];
      try {
        names = readdirSync(o.images).sort();
      } catch (err) {
        throw usageError('images-dir', `--images ${o.images} cannot be read: ${(err as Error).message}.`, 'Name a directory of anemos image build out/ directories, or links to them, one per image name.');
      }
      for (const n of names) {
        const {image, problem} = readLiveImage(join(o.images, n));
        o.log(image ? `boot: live image ${n}: ${image.layers.map((l) => `${l.name} ${l.sha256.slice(0, 12)}… ${l.size} bytes`).join(' → ')}` : `boot: live image ${n}: not offered: ${problem!.message}`);
      }
      if (!names.length) o.log(`boot: --images ${o.images} holds no image yet (each boot reads it again)`);
    }
    // The boot listener first: its address is in every answer.
    let service: BootService | undefined;
    const http = createRegistryServer(registry, {version: o.version, log: o.log, limits: o.limits, bootOnly: true, boot: {handle: (req, res, url, setLabel) => service!.handle(req, res, url, setLabel)}});
    await new Promise<void>((resolve, reject) => {
      http.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? usageError('boot-listen', `${address}:${o.httpPort} is in use by another process.`, 'Stop it, or pass another --boot-http-port.') : err));
      http.listen(o.httpPort, address, resolve);
    });
    closers.push(() => new Promise<void>((r) => (http.close(() => r()), http.closeAllConnections?.())));
    const httpBase = `http://${address}:${(http.address() as AddressInfo).port}`;
    service = new BootService({registry, address, httpBase, discover: o.discover, ...(o.idle ? {idle: o.idle} : {}), kernel: env.kernel, base: env.base, efi: ipxe.efi, localDiskEfi: localDisk, secret: await registry.secret('boot-links'), cacheDir: o.cacheDir, cmdline: o.cmdline, authorizedKeys: keys, cliVersion: o.version, log: o.log, ...(full ? {dhcpFull: full} : {}), ...(media ? {media} : {}), ...(o.images ? {images: o.images} : {})});
    closers.push(() => service!.close());
    const tftp: TftpServer = await startTftpServer({root: o.ipxeDir, address, port: o.ports?.tftp ?? TFTP_PORT, log: o.log});
    closers.push(() => tftp.close());
    let dhcp: DhcpServer | undefined;
    if (o.dhcp !== 'off') {
      dhcp = await startDhcpServer({address, port: o.ports?.dhcp, pxePort: o.ports?.pxe, answer: (m, from, via) => service!.answerDhcp(m, from, via), log: o.log});
      closers.push(() => dhcp!.close());
    }
    const dhcpSaid = o.dhcp === 'proxy' ? 'proxyDHCP, ' : o.dhcp === 'full' ? `DHCP for every client in ${o.dhcpRange} (--dhcp full; ${full!.leases.bound().length} leases kept), ` : 'no DHCP (--dhcp off), ';
    o.log(`boot: on ${o.interface} (${address}): ${dhcpSaid}TFTP of ${o.ipxeDir}, HTTP ${httpBase}/boot/; discovery ${o.discover ? 'on' : 'off'}; deploy environment ${env.kernel.sha256.slice(0, 12)}… + ${env.base.sha256.slice(0, 12)}… (${o.environment})`);
    return {address, httpBase, service, wake: (macs) => sendMagicPackets(address, macs), close};
  } catch (err) {
    await close();
    throw err;
  }
}
