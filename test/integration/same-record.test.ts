// One record, both paths: for one machine's record in one registry, the deploy environment
// a network boot is given (the segment anemos serve --boot composes, read back out of the
// bytes a client downloads) and the one `anemos deploy --from-registry` plans on the machine
// itself (the real CLI bundle, --dry-run --json) say the same: config.json, the network and
// the keys. What differs is said and checked too: a network boot reports with a token of
// its own boot, the host's deploy is recorded and given its token when it composes.

import {execFile} from 'node:child_process';
import {createHash} from 'node:crypto';
import {createReadStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {basename, join} from 'node:path';
import {promisify} from 'node:util';
import {gunzipSync} from 'node:zlib';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openEmbedded} from '../../src/adapters/db.js';
import {gatherHostHardware} from '../../src/adapters/hardware-sources.js';
import {readCpio} from '../../src/core/cpio.js';
import {BootService} from '../../src/services/netboot/boot-service.js';
import {Registry} from '../../src/services/registry/registry.js';
import {createRegistryServer} from '../../src/services/registry/server.js';
import {REPO} from '../helpers/kernel.js';
import {serveInProcess} from '../helpers/registry.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const VERSION = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;

describe('one record, both paths: a network boot and deploy --from-registry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-same-record-'));
  let registry: Registry;
  let api: {url: string; close(): Promise<void>};
  let www: Server;
  let bootListener: Server;
  let bootBase: string;
  let operator: string;
  const published: Record<string, {url: string; sha256: string}> = {};

  const listen = async (s: Server) => {
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    registry = await Registry.open(await openEmbedded(join(dir, 'registry')));
    api = await serveInProcess(registry);
    operator = (await registry.createToken({role: 'operator', note: 'same-record'})).token;
    // What the desired deployment names, published on a web server (the boot service fetches and checks them).
    mkdirSync(join(dir, 'www'));
    for (const [name, bytes] of [['vmlinuz', 'a kernel'], ['initramfs.cpio.zst', 'an initramfs'], ['payload.tar.gz', 'a payload']] as const) writeFileSync(join(dir, 'www', name), bytes);
    www = createServer((q, s) => createReadStream(join(dir, 'www', basename(q.url ?? ''))).on('error', () => ((s.statusCode = 404), s.end())).pipe(s));
    const wwwBase = await listen(www);
    for (const [key, name] of [['kernel', 'vmlinuz'], ['initramfs', 'initramfs.cpio.zst'], ['payload', 'payload.tar.gz']]) published[key!] = {url: `${wwwBase}/${name}`, sha256: sha256(readFileSync(join(dir, 'www', name!)))};
    // The boot service on the same registry, its boot listener on loopback (a deploy environment of two small files: nothing boots here).
    const env = (name: string, bytes: string) => (writeFileSync(join(dir, name), bytes), {path: join(dir, name), size: bytes.length, sha256: sha256(Buffer.from(bytes))});
    let service: BootService | undefined;
    bootListener = createRegistryServer(registry, {version: VERSION, bootOnly: true, boot: {handle: (q, s, u, l) => service!.handle(q, s, u, l)}});
    bootBase = await listen(bootListener);
    service = new BootService({registry, address: '127.0.0.1', httpBase: bootBase, discover: false, kernel: env('env-vmlinuz', 'k'), base: env('env-base', 'b'), cacheDir: join(dir, 'cache'), cmdline: '', authorizedKeys: [], cliVersion: VERSION, log: () => undefined});
  });

  afterAll(async () => {
    www?.close();
    bootListener?.close();
    await api?.close();
  });

  it('config.json, network.json and the keys a PXE client downloads are those deploy --from-registry plans for the same record', async () => {
    // This host, as the registry knows it: its MACs, a desired deployment with its own network and keys, ready.
    const macs = gatherHostHardware().nics.map((n) => n.mac);
    expect(macs.length).toBeGreaterThan(0);
    const mac = macs[0]!;
    const {machine} = await registry.createDeployment({machine: {macs, hostname: 'self'}, id: 'dep-20261207T050000Z-00000001', mode: 'test'}, await registry.authenticate(operator));
    const network = {interfaces: {[mac]: {mac, name: 'eth0', addresses: [{address: '203.0.113.10', prefix: 24, family: 4}], routes: [{to: 'default', via: '203.0.113.1', family: 4}]}}, dns: {servers: ['203.0.113.53'], search: ['example.net']}};
    const keys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1zvQ6H4ZCjxL0aFfHmF0D8R4qvZP2bcJzVHZc6b8Zx operator@same-record'];
    await registry.setDesired(machine, {...published, config: {hostname: 'same-one', deploy: {disk: '/dev/vda', timeout: '45m'}, network, access: {ssh_authorized_keys: keys}, cmdline: 'console=ttyS0'}} as never, 'test');
    await registry.patchMachine(machine, {state: 'ready'}, 'test');

    // The host's path: the real CLI, as an operator runs it on the machine (nothing downloaded, nothing changed).
    const r = await promisify(execFile)(process.execPath, [join(REPO, 'dist', 'anemos.cjs'), 'deploy', '--dry-run', '--json', '--config', join(dir, 'no-such.conf'), '--from-registry', api.url], {env: {...process.env, HOME: dir, ANEMOS_REGISTRY_TOKEN: operator}});
    const host = JSON.parse(r.stdout).plan;

    // The network path: the script this MAC is given, and the segment it names, as a client downloads them.
    const script = await (await fetch(`${bootBase}/boot/ipxe?mac=${mac}&firmware=bios`)).text();
    const segmentUrl = script.match(/initrd --name machine\.img (\S+)/)?.[1];
    expect(segmentUrl, script).toBeDefined();
    const segment = gunzipSync(Buffer.from(await (await fetch(segmentUrl!)).arrayBuffer()));
    const {entries} = readCpio(segment);
    const file = (path: string) => {
      const e = entries.find((x) => x.path === path);
      expect(e, `${path} in the segment (${entries.map((x) => x.path).join(', ')})`).toBeDefined();
      return segment.subarray(e!.dataOffset, e!.dataOffset + e!.size).toString();
    };
    const pxe = {config: JSON.parse(file('anemos/config.json')), network: JSON.parse(file('anemos/network.json')), keys: file('anemos/ssh/authorized_keys')};

    // What differs, by design: a network boot's report carries the token of its own boot
    // (the host's deploy is given its deployment's token when it composes, after this plan).
    expect(pxe.config.report).toEqual({url: bootBase, token: expect.stringMatching(/^anm_/), deployment: expect.stringMatching(/^dep-/)});
    expect(host.bootConfig.report).toBeUndefined();
    const {report: _report, ...pxeConfig} = pxe.config;
    // The rest is the same: mode, version, hostname, disk, timeouts, the payload (file and sha256), ...
    expect(pxeConfig).toEqual(host.bootConfig);
    expect(pxeConfig).toMatchObject({mode: 'deploy', hostname: 'same-one', timeout: 2700, payload: {sha256: published.payload!.sha256}});
    // ... the network the record names, and the keys it lets in.
    expect(pxe.network).toEqual(host.network);
    expect(pxe.network.interfaces[mac].addresses).toEqual([{address: '203.0.113.10', prefix: 24, family: 4}]);
    expect(pxe.keys.trim().split('\n')).toEqual(host.authorizedKeys);
    expect(host.authorizedKeys).toEqual(keys);
    // And both boot the deploy environment the record names, with the record's kernel arguments.
    expect(host.artifacts.map((a: {name: string; url: string}) => [a.name, a.url])).toEqual([['kernel', published.kernel!.url], ['initramfs', published.initramfs!.url], ['payload', published.payload!.url]]);
    expect(script).toContain(`${bootBase}/boot/sha256/${published.kernel!.sha256}`);
    expect(script).toContain(`${bootBase}/boot/sha256/${published.initramfs!.sha256}`);
    expect(host.cmdline).toContain('console=ttyS0');
    expect(script).toMatch(/^kernel \S+ .* console=ttyS0 anemos\.mode=deploy \|\| goto retry$/m);
  }, 60_000);
});
