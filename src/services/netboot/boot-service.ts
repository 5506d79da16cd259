// Network boot in anemos serve: what a DHCP request is answered with, and the HTTP side
// (/boot/...): the iPXE script bootDecision calls for, the deploy environment's kernel and
// base (the same bytes for every machine), and each machine's own segment, composed at
// request time from its record and served once per boot under a signed URL that expires.
// The boot path is unauthenticated by nature (firmware holds no token): it reveals nothing
// a machine could not learn by booting, and a segment, which carries its boot's token,
// only to the holder of the URL its script gave.

import {createHmac, randomBytes, timingSafeEqual} from 'node:crypto';
import {createReadStream, createWriteStream, existsSync} from 'node:fs';
import {mkdir, rename, stat} from 'node:fs/promises';
import {dirname, join} from 'node:path';
import {Readable} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import type {IncomingMessage, ServerResponse} from 'node:http';
import {createGzip, gzipSync} from 'node:zlib';
import {stringify} from 'yaml';
import {fetchArtifact, sha256File} from '../../adapters/fetch.js';
import {realRunner} from '../../adapters/process.js';
import {makeHostKeys} from '../../adapters/ssh-keygen.js';
import {liveLayerFile, payloadFileName, type BootConfig} from '../../core/boot-contract.js';
import {applyDesired, parseConfig, type Config, type DesiredConfig} from '../../core/config.js';
import {buildCpio, writeCpio} from '../../core/cpio.js';
import {ANSWER_FILE_NAME, AnswerError, renderAnswer, type ReportTo} from '../../core/netboot/answer-file.js';
import {bootDecision, installerRefused, type BootDecision, type Idle} from '../../core/netboot/boot-decision.js';
import type {InstallerKind, InstallerMedia, InstallerSpec} from '../../core/netboot/installer-media.js';
import {IsoError, type IsoImage} from '../../core/iso9660.js';
import {rangeOf} from '../../core/netboot/http-range.js';
import type {DhcpMessage, DhcpReply} from '../../core/netboot/dhcp.js';
import {ipxeRetryScript, ipxeScript, type EnvironmentFiles} from '../../core/netboot/ipxe-script.js';
import {LOCAL_DISK_EFI} from '../../core/netboot/local-disk.js';
import {fullAnswer, type FullDhcp} from '../../core/netboot/full-dhcp.js';
import type {Lease} from '../../core/netboot/leases.js';
import {classifyRequest, proxyAnswer, type BootRequest} from '../../core/netboot/pxe.js';
import {bootConfigOf, newDeploymentId} from '../../core/deploy-plan.js';
import {AnemosError, configError} from '../../shared/errors.js';
import type {NetworkConfig} from '../../core/network.js';
import {planSegments, type SegmentInputs} from '../../core/segments.js';
import {liveBoot, liveRamNeed, type LiveImage, type LiveLayer} from '../../core/live/image.js';
import {attributeValues} from '../../core/imgbuild.js';
import {readLiveImage} from '../live.js';
import type {InstallerExplained} from '../registry/api.js';
import {sendJson, sendText} from '../registry/http.js';
import {RegistryError, type MachineRecord, type Registry} from '../registry/registry.js';
import {identifyIso, type MediaItem, type MediaLibrary} from './media.js';
import type {OpenIso} from '../../adapters/iso-file.js';

export interface BootFile {
  path: string;
  size: number;
  sha256: string;
}

export interface BootServiceOptions {
  registry: Registry;
  /** This server's address on the boot segment. */
  address: string;
  /** http://ADDRESS:PORT of the boot listener (the scripts, the files, the agents' reports). */
  httpBase: string;
  /** --discover: machines no record has boot the deploy environment and register. */
  discover: boolean;
  /** --discover-idle: what a registered machine does while it waits (its record's attributes.idle wins). */
  idle?: Idle;
  /** The deploy environment: kernel and base initramfs (anemos initramfs build's output). */
  kernel: BootFile;
  base: BootFile;
  /** iPXE for UEFI, which a UEFI HTTP Boot client is given by HTTP. */
  efi?: BootFile;
  /** The GRUB that boots a UEFI machine's disk (core/netboot/local-disk.ts); without it, back to the firmware. */
  localDiskEfi?: BootFile;
  /** Where payloads are fetched to and kept (by sha256), with their initrds. */
  cacheDir: string;
  /** Kernel arguments before anemos' own (the console). */
  cmdline: string;
  /** Who may SSH into a network-booted deploy environment. */
  authorizedKeys: string[];
  cliVersion: string;
  log: (line: string) => void;
  now?: () => Date;
  /** How long a boot's URLs and its token's use by iPXE last. */
  urlSeconds?: number;
  /** How often a waiting machine asks whether it has something else to boot. */
  pollSeconds?: number;
  /** How long a register or test boot's token reports (the machine waits in RAM that long at most). */
  tokenHours?: number;
  /** The key that signs this service's links: shared by every process on the database (Registry.secret); one of its own otherwise. */
  secret?: Buffer;
  /** --media DIR: the installation ISOs a desired deployment's installer: names. */
  media?: MediaLibrary;
  /** --images DIR: the live images (anemos image build's out/ directories, one per name) a desired deployment's live.image names. */
  images?: string;
  /** --dhcp full: this server gives every client on the boot network its address, from this table; `kept` is called when it changes. */
  dhcpFull?: FullDhcp & {kept: (leases: Lease[]) => void};
}

/** An installation ISO this service serves: identified, its image open. */
type ServedMedia = MediaItem & {media: InstallerMedia; iso: IsoImage};

/** A fetch of installation media that failed is tried again after this long (not on every ask: ISOs are large). */
const FETCH_RETRY_MS = 10 * 60_000;

/** How often a live system reports its drift. */
const DRIFT_SECONDS = 300;

/** Segments made for a script and not fetched yet, by deployment: at most this many kept. */
const MAX_PENDING = 1024;

const hexMac = (mac: string) => mac.replace(/:/g, '');
/** The network a network-booted machine has when its record names none: DHCP on the NIC it booted with. */
const dhcpNetwork = (mac: string): NetworkConfig => ({version: 1, interfaces: {[mac]: {mac, name: 'eth0', dhcp4: true, slaac: false, addresses: [], routes: []}}, dns: {servers: [], search: []}, skipped: []});
/** A layer's initrd by its sha256 and its place in the chain (its file name there): /boot/layer/KEY.img. */
const layerKey = (l: LiveLayer, index: number) => `${l.sha256}-${String(index).padStart(2, '0')}`;
const macOf = (hex: string) => (/^[0-9a-f]{12}$/.test(hex) ? hex.match(/../g)!.join(':') : undefined);

export class BootService {
  private readonly secret: Buffer;
  private readonly pending = new Map<string, {bytes: Buffer; expires: number}>();
  /** Installer boots whose answer file has not expired, by deployment: rendered from the record when it is asked for. */
  private readonly answers = new Map<string, {mac: string; token: string; expires: number}>();
  /** Installation media records name by URL, by sha256: fetched once, checked, opened. */
  private readonly fetched = new Map<string, {at: number; item?: ServedMedia; problem?: string}>();
  private readonly opened: OpenIso[] = [];
  /** Kernels and initramfs images desired deployments name, by sha256, fetched once. */
  private readonly artifacts = new Map<string, Promise<BootFile>>();
  /** Payload initrds by sha256, made once (a second machine asking meanwhile waits for the same). */
  private readonly payloads = new Map<string, Promise<BootFile>>();
  /** Live layers' initrds by sha256 and place in their chain (the file name the agent reads), made once. */
  private readonly layers = new Map<string, Promise<BootFile>>();
  private readonly now: () => Date;

  constructor(private readonly o: BootServiceOptions) {
    this.now = o.now ?? (() => new Date());
    this.secret = o.secret ?? randomBytes(32);
  }

  private sign(path: string): string {
    return createHmac('sha256', this.secret).update(path).digest('base64url');
  }

  /** A path under /boot/ with an expiry and a signature: /boot/KIND/PARTS.../EXPIRES/SIG. */
  private signed(kind: string, parts: string[], seconds = this.o.urlSeconds ?? 3600): string {
    const expires = Math.floor(this.now().getTime() / 1000) + seconds;
    const path = `/boot/${kind}/${parts.join('/')}/${expires}`;
    return `${path}/${this.sign(path)}`;
  }

  /** The parts of a signed path when its signature holds and it has not expired. */
  private verify(path: string, kind: string, count: number): string[] | undefined {
    const all = path.split('/').slice(3);
    if (all.length !== count + 2) return undefined;
    const sig = Buffer.from(all.pop()!);
    const expires = Number(all.at(-1));
    const want = Buffer.from(this.sign(`/boot/${kind}/${all.join('/')}`));
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) return undefined;
    if (!Number.isInteger(expires) || expires * 1000 < this.now().getTime()) return undefined;
    return all.slice(0, count);
  }

  /** What this MAC would boot now, from its record: an installer only when its media and its answer file hold. */
  async decide(req: Pick<BootRequest, 'mac'>): Promise<BootDecision> {
    const d = bootDecision(req, await this.o.registry.bootRecord(req.mac), {discover: this.o.discover, ...(this.o.idle ? {idle: this.o.idle} : {})});
    if (d.boot !== 'installer') return d;
    const i = await this.installer(req.mac);
    if ('pending' in i) return {...d, rule: `${d.rule}; ${i.pending}, meanwhile it is told to ask again`};
    return 'problem' in i ? installerRefused(d, i.problem) : d;
  }

  /** A record's media: one of --media DIR, or one fetched from its URL (started here, once; meanwhile the machine is told to ask again). */
  private mediaFor(media: InstallerSpec['media']): {item: ServedMedia} | {problem: string} | {pending: string} {
    if (typeof media === 'string') {
      const item = this.o.media?.get(media);
      if (item) return {item};
      const known = this.o.media?.list().find((m) => m.id === media);
      return {problem: !this.o.media ? `installer.media ${media}: this server has no installation media (anemos serve --media DIR)` : known ? `installer.media ${media} is not offered: ${known.problem}` : `installer.media ${media} is not among this server's media (${this.o.media.list().map((m) => m.id).join(', ') || 'none'})`};
    }
    const t = this.now().getTime();
    let f = this.fetched.get(media.sha256);
    if (!f || (f.problem && f.at + FETCH_RETRY_MS < t)) {
      const entry: {at: number; item?: ServedMedia; problem?: string} = {at: t};
      f = entry;
      this.fetched.set(media.sha256, entry);
      this.o.log(`boot: fetching installation media ${media.url} (checked against its sha256 before use)`);
      void fetchArtifact({name: 'installation media', url: media.url, sha256: media.sha256}, {cacheDir: this.o.cacheDir})
        .then((a) => identifyIso(a.path, `sha256-${media.sha256.slice(0, 16)}`))
        .then(({item, opened}) => {
          if (opened) this.opened.push(opened);
          if (item.media && item.iso) entry.item = item as ServedMedia;
          else entry.problem = `the ISO at ${media.url} is not offered: ${item.problem}`;
          this.o.log(`boot: installation media ${media.url}: ${entry.item ? `${item.media!.distribution} ${item.media!.release} ${item.media!.arch} (${item.media!.kind}), served as ${item.id}` : entry.problem}`);
        })
        .catch((err: Error) => {
          entry.problem = `installer.media ${media.url} could not be fetched: ${err.message}`;
          this.o.log(`boot: ${entry.problem}`);
        });
    }
    if (f.item) return {item: f.item};
    if (f.problem) return {problem: f.problem};
    return {pending: `its installation media ${media.url} is being fetched and checked`};
  }

  /** The media served under /boot/media/ID: --media DIR's, and those fetched from URLs. */
  private mediaById(id: string): ServedMedia | undefined {
    return this.o.media?.get(id) ?? [...this.fetched.values()].find((f) => f.item?.id === id)?.item;
  }

  /** Every installation ISO: --media DIR's, then those fetched for records (by URL). */
  mediaList(): MediaItem[] {
    const fetched = [...this.fetched.values()].flatMap((f) => (f.item ? [(({iso: _iso, ...m}) => m)(f.item)] : []));
    return [...(this.o.media?.list() ?? []), ...fetched];
  }

  /** Close the ISO files opened for fetched media. */
  async close(): Promise<void> {
    await Promise.all(this.opened.splice(0).map((o) => o.close()));
  }

  /** The installer as GET /api/v1/boot/explain shows it. */
  async explainInstaller(mac: string): Promise<InstallerExplained | {problem: string} | {pending: string}> {
    const i = await this.installer(mac);
    if ('problem' in i || 'pending' in i) return i;
    return {media: i.item.id, distribution: i.item.media.distribution, release: i.item.media.release, arch: i.item.media.arch, kind: i.kind, answer: i.answer};
  }

  /**
   * The installer this MAC's desired deployment names, with its answer file rendered from
   * the record now (and checked); or what stops it. Without a boot's report (explain, the
   * decision) the report command carries placeholders.
   */
  async installer(mac: string, report?: ReportTo): Promise<{machine: MachineRecord; item: ServedMedia; kind: InstallerKind; answer: string} | {problem: string} | {pending: string}> {
    const machine = await this.o.registry.getMachine(mac);
    const spec = machine.desired?.installer;
    if (!spec) return {problem: 'its desired deployment names no installer'};
    const found = this.mediaFor(spec.media);
    if (!('item' in found)) return found;
    const item = found.item;
    const kind = spec.kind ?? item.media.kind;
    const config = machine.desired?.config ?? {};
    const hostname = machine.hostname ?? (typeof config.hostname === 'string' ? config.hostname : `anemos-${hexMac(mac)}`);
    const dhcp = dhcpNetwork(mac);
    const network = config.network && typeof config.network === 'object' ? (this.desiredConfig(machine.id, {config: {network: config.network}}).network as NetworkConfig) : dhcp;
    const own = (config.access as {ssh_authorized_keys?: unknown} | undefined)?.ssh_authorized_keys;
    const keys = [...(Array.isArray(own) ? own.filter((k): k is string => typeof k === 'string') : []), ...this.o.authorizedKeys];
    try {
      const answer = renderAnswer({kind, spec, hostname, network, authorizedKeys: keys, disks: machine.inventory?.disks ?? [], report: report ?? {url: this.o.httpBase, token: 'TOKEN', deployment: 'DEPLOYMENT', mac}});
      return {machine, item, kind, answer};
    } catch (err) {
      if (err instanceof AnswerError) return {problem: `its ${kind} answer file does not hold: ${err.message}`};
      throw err;
    }
  }

  // ---------------------------------------------------------------- DHCP

  async answerDhcp(m: DhcpMessage, _from: {address: string; port: number}, via: 'dhcp' | 'pxe'): Promise<DhcpReply | undefined> {
    const full = this.o.dhcpFull;
    if (full && via === 'dhcp') {
      // The network's DHCP server: an address for every client, and the boot part for those anemos boots.
      const boot = m.type === 'discover' || m.type === 'request' ? await this.bootAnswer(m, via, true) : undefined;
      const a = fullAnswer(m, full, boot?.reply, this.now().getTime());
      if (a.changed) full.kept(full.leases.bound());
      this.o.log(`boot: DHCP ${m.type} from ${m.chaddr}: ${a.said}${boot ? `; ${boot.said}` : ''}`);
      return a.reply;
    }
    const boot = await this.bootAnswer(m, via, false);
    if (boot) this.o.log(`boot: DHCP ${boot.said}`);
    return boot?.reply;
  }

  /**
   * The boot part of an answer (a proxy answer: no address), and what was decided, for a
   * PXE or iPXE client; undefined for any other client. A proxy answers a discover on 67
   * and a request on 4011 (a request on 67 is the site DHCP's business); the full server
   * answers both on 67.
   */
  private async bootAnswer(m: DhcpMessage, via: 'dhcp' | 'pxe', full: boolean): Promise<{reply?: DhcpReply; said: string} | undefined> {
    const c = classifyRequest(m);
    if ('ignore' in c) return undefined;
    const req = c.boot;
    if (!full && (via === 'dhcp') !== (req.type === 'discover')) return undefined;
    let decision: BootDecision;
    try {
      decision = await this.decide(req);
    } catch (err) {
      // The registry cannot say now: boot iPXE, whose script waits and asks again.
      decision = {boot: 'environment', mode: 'register', rule: `the registry could not decide (${(err as Error).message})`};
    }
    const what = decision.boot === 'environment' ? `environment ${decision.mode}` : decision.boot;
    const said = `${full ? '' : `${m.type} from ${req.mac} `}(${req.client}, ${req.firmware}, port ${via === 'pxe' ? 4011 : 67}${m.giaddr !== '0.0.0.0' ? `, relayed by ${m.giaddr}` : ''}): ${decision.boot === 'none' ? 'no answer' : req.client === 'ipxe' ? 'the script' : 'iPXE'}; ${what}: ${decision.rule}`;
    if (decision.boot === 'none') return {said};
    return {reply: proxyAnswer(req, m, {address: this.o.address, httpBase: this.o.httpBase}), said};
  }

  // ---------------------------------------------------------------- HTTP

  /** A /boot/ request (GET or HEAD): answered here, whatever it is. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL, setLabel: (l: string) => void): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw Object.assign(new RegistryError(405, 'method-not-allowed', `${req.method} is not allowed on ${url.pathname}.`), {allow: 'GET, HEAD'});
    const p = url.pathname;
    if (p === '/boot/ipxe') {
      setLabel('GET /boot/ipxe');
      return this.script(res, url);
    }
    if (p === '/boot/env/vmlinuz' || p === '/boot/env/base.img') {
      setLabel(`GET ${p}`);
      return this.file(req, res, p.endsWith('vmlinuz') ? this.o.kernel : this.o.base);
    }
    if (p === '/boot/snponly.efi' && this.o.efi) {
      setLabel(`GET ${p}`);
      return this.file(req, res, this.o.efi);
    }
    if (p === `/boot/${LOCAL_DISK_EFI}` && this.o.localDiskEfi) {
      setLabel(`GET ${p}`);
      return this.file(req, res, this.o.localDiskEfi);
    }
    if (p.startsWith('/boot/m/')) {
      setLabel('GET /boot/m/{deployment}/machine.img');
      const parts = this.verify(p.replace(/\/machine\.img$/, ''), 'm', 1);
      const kept = parts && this.pending.get(parts[0]!);
      if (!kept || !p.endsWith('/machine.img')) throw new RegistryError(404, 'not-found', 'No such boot file, or its link expired.');
      const bytes = kept.bytes;
      res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': String(bytes.length), 'cache-control': 'no-store'});
      res.end(req.method === 'HEAD' ? undefined : bytes);
      return;
    }
    // What this server fetched (and checked) for a desired deployment, by sha256: a kernel or initramfs, or a payload's initrd.
    const cached = p.match(/^\/boot\/(?:sha256\/([0-9a-f]{64})|payload\/([0-9a-f]{64})\.img|layer\/([0-9a-f]{64}-\d{2})\.img)$/);
    if (cached) {
      setLabel(cached[1] ? 'GET /boot/sha256/{sha256}' : cached[2] ? 'GET /boot/payload/{sha256}.img' : 'GET /boot/layer/{sha256}-{index}.img');
      const made = cached[1] ? this.artifacts.get(cached[1]) : cached[2] ? this.payloads.get(cached[2]) : this.layers.get(cached[3]!);
      const f = made && (await made.catch(() => undefined));
      if (!f) throw new RegistryError(404, 'not-found', 'No such file on this server.');
      return this.file(req, res, f);
    }
    if (p.startsWith('/boot/media/')) {
      setLabel('GET /boot/media/{id}/{path}');
      return this.mediaFile(req, res, p);
    }
    if (p.startsWith('/boot/answer/')) {
      setLabel('GET /boot/answer/{deployment}/{file}');
      return this.answer(req, res, p);
    }
    if (p.startsWith('/boot/next/')) {
      setLabel('GET /boot/next/{mac}');
      const parts = this.verify(p, 'next', 1);
      const mac = parts && macOf(parts[0]!);
      if (!mac) throw new RegistryError(404, 'not-found', 'No such boot link, or it expired.');
      const decision = await this.decide({mac});
      return sendJson(res, 200, {boot: decision.boot, ...(decision.boot === 'environment' ? {mode: decision.mode} : {}), rule: decision.rule}, {'cache-control': 'no-store'});
    }
    setLabel('unmatched');
    throw new RegistryError(404, 'not-found', `Nothing at ${p}.`);
  }

  private file(req: IncomingMessage, res: ServerResponse, f: BootFile): void {
    res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': String(f.size), 'cache-control': 'no-store'});
    if (req.method === 'HEAD') return void res.end();
    const s = createReadStream(f.path);
    s.on('error', (err) => {
      this.o.log(`boot: reading ${f.path}: ${err.message}`);
      res.destroy();
    });
    s.pipe(res);
  }

  private async script(res: ServerResponse, url: URL): Promise<void> {
    const mac = (url.searchParams.get('mac') ?? '').toLowerCase();
    const firmware = url.searchParams.get('firmware') === 'uefi' ? 'uefi' : 'bios';
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw new RegistryError(400, 'bad-query', 'mac= must be a MAC address (aa:bb:cc:dd:ee:ff).');
    const send = (text: string) => sendText(res, 200, 'text/plain; charset=utf-8', text, {'cache-control': 'no-store'});
    const saw = (boot: string, rule: string) => this.o.registry.sawBoot({at: this.now().toISOString(), mac, client: 'ipxe', firmware, boot, rule});
    let decision: BootDecision;
    try {
      decision = await this.decide({mac});
      if (decision.boot === 'installer') return send(await this.installerScript(mac, firmware, decision));
      if (decision.boot !== 'environment') {
        await saw(decision.boot, decision.rule);
        this.o.log(`boot: ${mac} (${firmware}): ${decision.boot}: ${decision.rule}`);
        return send(ipxeScript(decision, firmware, undefined, this.o.localDiskEfi && `${this.o.httpBase}/boot/${LOCAL_DISK_EFI}`));
      }
      let files: EnvironmentFiles;
      try {
        files = {...(await this.environment(mac, decision.mode, decision.idle)), again: `${this.o.httpBase}/boot/ipxe?mac=${mac}&firmware=${firmware}`};
      } catch (err) {
        if (!(err instanceof AnemosError)) throw err;
        // The record cannot be booted as it is (its desired deployment does not hold): said, and not booted.
        const refused: BootDecision = {boot: 'none', rule: `${decision.rule}, but it cannot be composed: ${err.message}${err.hint ? ` ${err.hint}` : ''}`};
        await saw('none', refused.rule);
        this.o.log(`boot: ${mac}: ${refused.rule}`);
        return send(ipxeScript(refused, firmware));
      }
      await saw(`environment ${decision.mode}`, decision.rule);
      return send(ipxeScript(decision, firmware, files));
    } catch (err) {
      if (err instanceof RegistryError && err.status < 500) throw err;
      this.o.log(`boot: ${mac}: the registry could not decide: ${(err as Error).message}`);
      return send(ipxeRetryScript('the registry could not decide now', `${this.o.httpBase}/boot/ipxe?mac=${mac}&firmware=${firmware}`));
    }
  }

  /**
   * The deploy environment for this machine, this boot: the boot recorded as a deployment
   * (the machine registered first when it is new), config.json from its desired deployment
   * by the planner's own bootConfigOf (or, to register or be looked at, test mode asking for
   * its next boot), the network it booted with, the keys; the payload, fetched once into
   * the server's cache and checked, as an initrd of its own.
   */
  private async environment(mac: string, purpose: 'deploy' | 'live' | 'test' | 'register', idle?: 'poweroff'): Promise<Omit<EnvironmentFiles, 'again'>> {
    const deployment = newDeploymentId(this.now(), randomBytes(4).toString('hex'));
    const dhcp = dhcpNetwork(mac);
    let payload: {file: string; sha256: string; img: BootFile} | undefined;
    let live: {image: LiveImage; imgs: BootFile[]; hostKeys: Record<string, string>; attributes: Record<string, string>} | undefined;
    // A deploy or a live boot runs the machine's desired deployment, read as any anemos.conf is.
    const machine = purpose === 'deploy' || purpose === 'live' ? await this.o.registry.getMachine(mac) : undefined;
    const config: Config | undefined = machine && this.desiredConfig(machine.id, machine.desired!);
    if (machine && config && purpose === 'live') {
      const image = this.liveImage(machine, config);
      // Its SSH identity, kept by the registry: the same at every live boot (a kexec live boot carries the host's own).
      const hostKeys = await this.o.registry.machineHostKeys(machine.id, () => makeHostKeys(realRunner));
      live = {image, imgs: await Promise.all(image.layers.map((l, i) => this.layer(l, i))), hostKeys, attributes: attributeValues(machine.attributes)};
    } else if (machine && config) {
      if (config.payload && !/^https?:\/\//.test(config.payload.url)) throw configError('boot-payload-url', `Machine ${machine.id}'s desired payload is ${config.payload.url}: a network boot fetches it, so it must be an http(s) URL (with its sha256).`, 'Publish the payload on a web server the registry reaches; the boot network itself needs no route to it.');
      if (!config.payload) throw configError('boot-no-payload', `Machine ${machine.id}'s desired deployment names no payload: a network boot has nothing to deploy.`, `Set one: anemos machines set ${machine.id} --desired-config FILE with payload: {url, sha256}.`);
      payload = await this.payload(config.payload.url, config.payload.sha256!);
    }
    const booted = await this.o.registry.networkBoot({
      mac,
      deployment,
      mode: purpose === 'deploy' || purpose === 'live' ? 'deploy' : 'test',
      purpose,
      // What this boot runs, kept with it: a live boot's layers name the image, so the record says which image each boot ran.
      artifacts: payload ? [{name: 'payload', url: config!.payload!.url, sha256: payload.sha256}] : live ? live.image.layers.map((l) => ({name: `live ${live!.image.name}: layer ${l.name}`, url: `image ${config!.live!.image}`, sha256: l.sha256})) : [],
      hours: purpose === 'deploy' || purpose === 'live' ? Math.ceil(config!.deploy.timeout / 3600) + 1 : (this.o.tokenHours ?? 24),
      actor: 'anemos serve (network boot)',
    }, this.now());
    if (booted.discovered) this.o.log(`boot: ${mac} discovered: machine ${booted.machine}`);
    const hostname = config?.hostname ?? `anemos-${hexMac(mac)}`;
    const report = {url: this.o.httpBase, token: booted.token.token, deployment};
    const bootConfig: BootConfig = live
      ? {...bootConfigOf(config!, {mode: 'live', cliVersion: this.o.cliVersion, hostname}), live: {...liveBoot(live.image, config!.live!), attributes: live.attributes, ...(booted.drift ? {drift: {url: this.o.httpBase, token: booted.drift.token, seconds: DRIFT_SECONDS}} : {})}, report}
      : config
      ? {...bootConfigOf(config, {mode: 'deploy', cliVersion: this.o.cliVersion, hostname, payload: {file: payload!.file, sha256: payload!.sha256}}), report}
      : {
          version: 1,
          mode: 'test',
          cli_version: this.o.cliVersion,
          hostname,
          on_failure: 'stay',
          timeout: 3600,
          network_timeout: 120,
          report,
          next_boot: {url: `${this.o.httpBase}${this.signed('next', [hexMac(mac)], (this.o.tokenHours ?? 24) * 3600)}`, seconds: this.o.pollSeconds ?? 10, current: `environment ${purpose}`, ...(idle && purpose === 'register' ? {idle} : {})},
        };
    const network = config && config.network !== 'auto' ? config.network : dhcp;
    const keys = [...(config && config.access.ssh_authorized_keys !== 'host' ? config.access.ssh_authorized_keys : []), ...this.o.authorizedKeys];
    const bytes = await this.segment({config: bootConfig, network: {...network, hostname}, authorizedKeys: keys, ...(live ? {hostKeys: Object.fromEntries(Object.entries(live.hostKeys).map(([k, v]) => [k, Buffer.from(v)]))} : {})});
    this.keep(deployment, bytes);
    this.o.log(`boot: ${mac} gets the deploy environment (${purpose}), deployment ${deployment}: a ${bytes.length}-byte segment${payload ? ` and the payload (${payload.img.size} bytes)` : ''}${live ? ` and the live image ${live.image.name} (${live.image.layers.map((l, i) => `${l.name}: ${live!.imgs[i]!.size} bytes`).join(', ')})` : ''}`);
    // The deploy environment the desired deployment names (fetched once, checked), or the server's own.
    const kernel = config && config.kernel.url !== this.o.kernel.path ? `/boot/sha256/${(await this.artifact('kernel', config.kernel.url, config.kernel.sha256!)).sha256}` : '/boot/env/vmlinuz';
    const base = config && config.initramfs.url !== this.o.base.path ? `/boot/sha256/${(await this.artifact('initramfs', config.initramfs.url, config.initramfs.sha256!)).sha256}` : '/boot/env/base.img';
    return {
      kernel: `${this.o.httpBase}${kernel}`,
      initrds: [
        {name: 'base.img', url: `${this.o.httpBase}${base}`},
        {name: 'machine.img', url: `${this.o.httpBase}${this.signed('m', [deployment])}/machine.img`},
        ...(payload ? [{name: 'payload.img', url: `${this.o.httpBase}/boot/payload/${payload.sha256}.img`}] : []),
        ...(live ? live.imgs.map((img, i) => ({name: `live-${i}.img`, url: `${this.o.httpBase}/boot/layer/${layerKey(live!.image.layers[i]!, i)}.img`})) : []),
      ],
      cmdline: `${this.o.cmdline} ${config?.cmdline ?? ''} anemos.mode=${purpose === 'deploy' || purpose === 'live' ? purpose : 'test'}`.replace(/\s+/g, ' ').trim(),
    };
  }

  /**
   * An installer boot: recorded as a deployment (its token goes into the answer file's report
   * command), the kernel and initrd served from the ISO, the answer file under a signed link
   * that expires, and the kernel arguments its installer reads it with.
   */
  private async installerScript(mac: string, firmware: BootRequest['firmware'], decision: BootDecision): Promise<string> {
    const first = await this.installer(mac);
    if ('pending' in first) return ipxeRetryScript(first.pending, `${this.o.httpBase}/boot/ipxe?mac=${mac}&firmware=${firmware}`);
    if ('problem' in first) return ipxeScript(installerRefused(decision, first.problem), firmware);
    const {item, kind} = first;
    const deployment = newDeploymentId(this.now(), randomBytes(4).toString('hex'));
    const booted = await this.o.registry.networkBoot({mac, deployment, mode: 'deploy', purpose: 'deploy', artifacts: [{name: 'installer', url: `${this.o.httpBase}/boot/media/${item.id}.iso`, media: item.media}], hours: 24, actor: 'anemos serve (network boot)'}, this.now());
    const seconds = this.o.urlSeconds ?? 3600;
    const t = this.now().getTime();
    for (const [k, v] of this.answers) if (v.expires < t || this.answers.size >= MAX_PENDING) this.answers.delete(k);
    this.answers.set(deployment, {mac, token: booted.token.token, expires: t + seconds * 1000});
    const answer = `${this.o.httpBase}${this.signed('answer', [deployment], seconds)}`;
    const media = `${this.o.httpBase}/boot/media/${encodeURIComponent(item.id)}`;
    const own = first.machine.desired?.installer?.cmdline ?? '';
    const args: Record<InstallerKind, string> = {
      // debian-installer: the answer file after the network is up, and nothing asked that it answers.
      preseed: `auto=true priority=critical url=${answer}/${ANSWER_FILE_NAME.preseed} interface=auto`,
      kickstart: `inst.ks=${answer}/${ANSWER_FILE_NAME.kickstart} inst.repo=${media}/ ip=dhcp`,
      autoinstall: `ip=dhcp url=${media}.iso cloud-config-url=/dev/null autoinstall ds=nocloud-net;s=${answer}/`,
    };
    await this.o.registry.sawBoot({at: this.now().toISOString(), mac, client: 'ipxe', firmware, boot: `installer ${item.id}`, rule: decision.rule});
    this.o.log(`boot: ${mac} gets the installer of ${item.id} (${item.media.distribution} ${item.media.release} ${item.media.arch}, ${kind}), deployment ${deployment}`);
    return ipxeScript(decision, firmware, {
      kernel: `${media}/${item.media.kernel.split('/').map(encodeURIComponent).join('/')}`,
      initrds: [{name: item.media.initrd.split('/').pop()!, url: `${media}/${item.media.initrd.split('/').map(encodeURIComponent).join('/')}`}],
      cmdline: `${this.o.cmdline} ${args[kind]} ${own}`.replace(/\s+/g, ' ').trim(),
      again: `${this.o.httpBase}/boot/ipxe?mac=${mac}&firmware=${firmware}`,
    });
  }

  /** GET /boot/answer/DEPLOYMENT/EXPIRES/SIG/FILE: the answer file, rendered from the record now. */
  private async answer(req: IncomingMessage, res: ServerResponse, p: string): Promise<void> {
    const file = p.slice(p.lastIndexOf('/') + 1);
    const parts = this.verify(p.slice(0, p.lastIndexOf('/')), 'answer', 1);
    const kept = parts && this.answers.get(parts[0]!);
    if (!kept || kept.expires < this.now().getTime()) throw new RegistryError(404, 'not-found', 'No such answer file, or its link expired.');
    const i = await this.installer(kept.mac, {url: this.o.httpBase, token: kept.token, deployment: parts![0]!, mac: kept.mac});
    if (!('answer' in i)) {
      const why = 'problem' in i ? i.problem : i.pending;
      this.o.log(`boot: ${kept.mac} asked for its answer file, and it does not hold: ${why}`);
      throw new RegistryError(409, 'answer-refused', `The answer file of ${kept.mac} does not hold: ${why}.`);
    }
    const body = file === ANSWER_FILE_NAME[i.kind] ? i.answer : i.kind === 'autoinstall' && file === 'meta-data' ? `instance-id: ${parts![0]}\n` : undefined;
    if (body === undefined) throw new RegistryError(404, 'not-found', `A ${i.kind} boot has no ${file}.`);
    this.o.log(`boot: ${kept.mac} (machine ${i.machine.id}) fetched its ${i.kind} answer file ${file} (${Buffer.byteLength(body)} bytes), deployment ${parts![0]}`);
    sendText(res, 200, 'text/plain; charset=utf-8', req.method === 'HEAD' ? '' : body, {'cache-control': 'no-store'});
  }

  /** GET /boot/media/ID/PATH (a file in the ISO) or /boot/media/ID.iso (the image, for installers that want it whole): bytes served from where they lie, one range when asked. */
  private async mediaFile(req: IncomingMessage, res: ServerResponse, p: string): Promise<void> {
    const rest = p.slice('/boot/media/'.length);
    const whole = /^[^/]+\.iso$/.test(rest);
    const [rawId, ...segments] = whole ? [rest.slice(0, -4)] : rest.split('/');
    let names: string[];
    try {
      names = [rawId!, ...segments].map((x) => decodeURIComponent(x));
    } catch {
      throw new RegistryError(400, 'bad-path', 'The path is not valid percent-encoding.');
    }
    const item = this.mediaById(names[0]!);
    if (!item) throw new RegistryError(404, 'not-found', 'No such installation media on this server.');
    let size: number;
    let open: (start: number, end: number) => AsyncIterable<Buffer>;
    if (whole) {
      size = item.size;
      open = (start, end) => (start === end ? Readable.from([]) : createReadStream(item.file, {start, end: end - 1}));
    } else {
      let entry;
      try {
        entry = await item.iso.stat(names.slice(1).join('/'));
      } catch (err) {
        if (err instanceof IsoError) throw new RegistryError(404, 'not-found', `No such file in ${item.id}: ${err.message}.`);
        throw err;
      }
      if (!entry || entry.type !== 'file' || names.slice(1).some((n) => n.includes('/'))) throw new RegistryError(404, 'not-found', `No such file in ${item.id}.`);
      size = entry.size;
      open = (start, end) => item.iso.read(entry, start, end);
    }
    const range = rangeOf(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.writeHead(416, {'content-range': `bytes */${size}`});
      return void res.end();
    }
    const [start, end] = range ?? [0, size];
    res.writeHead(range ? 206 : 200, {'content-type': 'application/octet-stream', 'content-length': String(end - start), 'accept-ranges': 'bytes', 'cache-control': 'no-store', ...(range ? {'content-range': `bytes ${start}-${end - 1}/${size}`} : {})});
    if (req.method === 'HEAD') return void res.end();
    try {
      await pipeline(Readable.from(open(start, end)), res);
    } catch (err) {
      this.o.log(`boot: serving ${p}: ${(err as Error).message}`);
      res.destroy();
    }
  }

  /** The machine's desired deployment as a config (checked as any anemos.conf is), with the server's deploy environment. */
  private desiredConfig(machine: string, desired: DesiredConfig): Config {
    const base = stringify({kernel: {url: this.o.kernel.path, sha256: this.o.kernel.sha256}, initramfs: {url: this.o.base.path, sha256: this.o.base.sha256}});
    return parseConfig(applyDesired(base, desired, {url: this.o.httpBase}), `machine ${machine}'s desired deployment`);
  }

  /** A kernel or initramfs a desired deployment names: fetched once into the cache, its sha256 checked, then served by it. */
  private artifact(name: string, url: string, sha256: string): Promise<BootFile> {
    if (!/^https?:\/\//.test(url)) return Promise.reject(configError('boot-artifact-url', `The desired ${name} is ${url}: a network boot fetches it, so it must be an http(s) URL (with its sha256).`, `Publish it on a web server the registry reaches, or leave ${name} out to boot the server's own deploy environment (--boot-environment).`));
    const known = this.artifacts.get(sha256);
    if (known) return known;
    const made = fetchArtifact({name, url, sha256}, {cacheDir: this.o.cacheDir}).then((f) => ({path: f.path, size: f.size, sha256: f.sha256}));
    this.artifacts.set(sha256, made);
    made.catch(() => this.artifacts.delete(sha256));
    return made;
  }

  /** The payload as an initrd of its own (a gzip'd newc archive of anemos/payload.*): made once per sha256, kept in the cache. */
  private async payload(url: string, sha256: string): Promise<{file: string; sha256: string; img: BootFile}> {
    const file = payloadFileName(url);
    const made = this.payloads.get(sha256) ?? this.makePayload(url, sha256, file);
    this.payloads.set(sha256, made);
    made.catch(() => this.payloads.delete(sha256));
    return {file, sha256, img: await made};
  }

  private async makePayload(url: string, sha256: string, file: string): Promise<BootFile> {
    const fetched = await fetchArtifact({name: 'payload', url, sha256}, {cacheDir: this.o.cacheDir});
    const img = await this.initrd(`payload-${sha256}`, {payload: {file, data: {size: fetched.size, open: () => createReadStream(fetched.path)}}});
    this.o.log(`boot: payload ${sha256.slice(0, 12)}… fetched from ${url} and checked; its initrd is ${img.size} bytes`);
    return {...img, sha256};
  }

  /**
   * The live image a desired deployment names: one of --images DIR by name (its chain read
   * from the manifests, a stale or missing parent refused), and too little RAM refused when
   * the machine's inventory says how much it has.
   */
  private liveImage(machine: MachineRecord, config: Config): LiveImage {
    const name = config.live!.image;
    if (!this.o.images) throw configError('boot-live-images', `Machine ${machine.id}'s desired deployment boots the live image ${name}, and this server has no live images (anemos serve --images DIR).`, 'Start anemos serve with --images DIR, a directory of anemos image build out/ directories (or links to them), one per name.');
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name)) throw configError('boot-live-image-name', `Machine ${machine.id}'s desired live.image is ${JSON.stringify(name)}: a network boot names an image of anemos serve --images by its name, not a path.`, `Name one of the directories in ${this.o.images}.`);
    const dir = join(this.o.images, name);
    if (!existsSync(dir)) {
      throw configError('boot-live-image-unknown', `Machine ${machine.id}'s desired live image ${name} is not in ${this.o.images} (anemos serve --images).`, `Build it (anemos image build) and put its out/ directory, or a link to it, at ${join(this.o.images, name)}.`);
    }
    const {image, problem} = readLiveImage(dir);
    if (problem) throw configError(problem.code, `Machine ${machine.id}'s desired live image ${name}: ${problem.message}`, problem.hint);
    const has = machine.inventory?.memory.totalBytes;
    const layersBytes = image!.layers.reduce((n, l) => n + l.size, 0);
    const need = liveRamNeed({layersBytes, baseUnpackedBytes: 0, agentBytes: 0, tmpfsMib: config.live!.tmpfsMib});
    if (has && has < need.bytes) throw configError('live-ram', `Machine ${machine.id} has ${Math.round(has / 1048576)} MiB of RAM, and the live image ${image!.name} needs about ${need.words}.`, 'Give it a smaller live.tmpfs, a smaller image, or a machine with more RAM.');
    return image!;
  }

  /** A live layer as an initrd of its own (anemos/live/NN-name.squashfs in a gzip'd newc archive): checked against its manifest's sha256, made once, kept in the cache. */
  private layer(l: LiveLayer, index: number): Promise<BootFile> {
    const key = layerKey(l, index);
    const known = this.layers.get(key);
    if (known) return known;
    const made = (async () => {
      const got = await sha256File(l.file);
      if (got !== l.sha256) throw configError('live-layer-sha256', `The live layer ${l.name} (${l.file}) does not match its sha256: the manifest says ${l.sha256}, the file is ${got}.`, 'Build the image again (anemos image build --with-parents): the layer changed after its manifest was written.');
      const img = await this.initrd(`layer-${key}`, {layers: [{file: liveLayerFile(index, l.name), data: {size: l.size, open: () => createReadStream(l.file)}}]});
      this.o.log(`boot: live layer ${l.name} ${l.sha256.slice(0, 12)}… checked; its initrd is ${img.size} bytes`);
      return img;
    })();
    this.layers.set(key, made);
    made.catch(() => this.layers.delete(key));
    return made;
  }

  /** One segment of planSegments (the payload's, or a layer's) as a gzip'd newc archive in the cache (UEFI's iPXE joins initrds unpadded: see segment()). */
  private async initrd(name: string, inp: Pick<SegmentInputs, 'payload' | 'layers'>): Promise<BootFile> {
    const path = join(this.o.cacheDir, 'boot', `${name}.img`);
    await mkdir(dirname(path), {recursive: true, mode: 0o700});
    const [, spec] = planSegments({config: {} as BootConfig, network: {} as NetworkConfig, authorizedKeys: [], ...inp});
    await pipeline(Readable.from(writeCpio(spec!.entries)), createGzip({level: 1}), createWriteStream(`${path}.part`, {mode: 0o600}));
    await rename(`${path}.part`, path);
    return {path, size: (await stat(path)).size, sha256: ''};
  }

  private keep(deployment: string, bytes: Buffer): void {
    const t = this.now().getTime();
    for (const [k, v] of this.pending) if (v.expires < t || this.pending.size >= MAX_PENDING) this.pending.delete(k);
    this.pending.set(deployment, {bytes, expires: t + (this.o.urlSeconds ?? 3600) * 1000});
  }

  /**
   * The machine's segment: config.json, network.json and the keys, laid out by planSegments
   * as anemos deploy lays out its own, and compressed (UEFI's iPXE joins initrds unpadded: a
   * compressed archive is found wherever it starts, an uncompressed one only on 4 bytes).
   */
  async segment(inp: Pick<SegmentInputs, 'config' | 'network' | 'authorizedKeys' | 'hostKeys'>): Promise<Buffer> {
    const [spec] = planSegments(inp);
    return gzipSync(await buildCpio(spec!.entries));
  }
}
