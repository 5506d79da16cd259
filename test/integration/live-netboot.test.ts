// A live image from the registry, as a network-booted machine downloads it: anemos serve
// --images DIR serves the image a desired deployment's live.image names, each layer as an
// initrd of its own (the file the deploy environment mounts, byte for byte), with a
// config.json in live mode; each boot is recorded with the layers it ran. What cannot be
// booted is said in the script and not booted: a path instead of a name, an image the
// server does not have, a stale parent, a layer damaged after its build. (The layers here
// are small files, not squashfs: the server checks and carries them, the VM test mounts them.)

import {execFile, execFileSync} from 'node:child_process';
import {promisify} from 'node:util';
import {createHash} from 'node:crypto';
import {mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs';
import type {Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {gunzipSync} from 'node:zlib';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openEmbedded} from '../../src/adapters/db.js';
import {readCpio} from '../../src/core/cpio.js';
import {DRIFT_REPORT} from '../../src/agent/live.js';
import {BootService} from '../../src/services/netboot/boot-service.js';
import {Registry} from '../../src/services/registry/registry.js';
import {renderMachine} from '../../src/services/registry/ui.js';
import {loadInventoryFixture} from '../helpers/inventory.js';
import {createRegistryServer} from '../../src/services/registry/server.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const MAC = '52:54:00:26:00:01';
const {inventory: INVENTORY} = loadInventoryFixture('cloud-vm-virtio');

describe('live images from the registry: what a network-booted machine is given', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-live-netboot-'));
  const images = join(dir, 'images');
  let registry: Registry;
  let listener: Server;
  let base: string;
  let machine: string;
  const layer: Record<string, Buffer> = {};
  /** The private host keys of the machine's first live boot, by file name. */
  let hostKeys: Record<string, string> = {};

  /** A build directory as anemos image build leaves it: layer.squashfs and its manifest. */
  const build = (at: string, name: string, bytes: Buffer, parent?: {name: string; dir: string}) => {
    mkdirSync(at, {recursive: true});
    writeFileSync(join(at, 'layer.squashfs'), bytes);
    const manifest = {format: 'anemos-live-layer/1', name, sha256: sha256(bytes), size: bytes.length, treeBytes: bytes.length * 3, ...(parent ? {parent: {name: parent.name, sha256: JSON.parse(readFileSync(join(at, parent.dir, 'manifest.json'), 'utf8')).sha256, dir: parent.dir}} : {})};
    writeFileSync(join(at, 'manifest.json'), JSON.stringify(manifest));
  };

  const desire = async (live: Record<string, unknown>) => {
    await registry.setDesired(machine, {config: {hostname: 'live-one', live}} as never, 'test');
  };
  const script = async () => (await fetch(`${base}/boot/ipxe?mac=${MAC}&firmware=bios`)).text();
  const initrds = (text: string) => [...text.matchAll(/^initrd --name (\S+) (\S+)/gm)].map((m) => ({name: m[1]!, url: m[2]!}));
  const unpack = async (url: string) => {
    const bytes = gunzipSync(Buffer.from(await (await fetch(url)).arrayBuffer()));
    return readCpio(bytes).entries.filter((e) => e.type === 'file').map((e) => ({path: e.path, data: bytes.subarray(e.dataOffset, e.dataOffset + e.size)}));
  };

  beforeAll(async () => {
    // Two projects as a user lays them out, and the library anemos serve reads: links to their out/ directories.
    layer.base = Buffer.from('the base layer '.repeat(1000));
    layer.web = Buffer.from('the web layer '.repeat(100));
    build(join(dir, 'projects/base/out'), 'base', layer.base);
    build(join(dir, 'projects/web/out'), 'web', layer.web, {name: 'base', dir: '../../base/out'});
    mkdirSync(images);
    symlinkSync(join(dir, 'projects/web/out'), join(images, 'web'));
    symlinkSync(join(dir, 'projects/base/out'), join(images, 'base'));
    // A copy whose base was rebuilt since web was built on it, and one whose web layer was damaged after its build.
    build(join(dir, 'stale/base/out'), 'base', Buffer.from('another base'));
    build(join(dir, 'stale/web/out'), 'web', layer.web, {name: 'base', dir: '../../base/out'});
    build(join(dir, 'stale/base/out'), 'base', Buffer.from('rebuilt since'));
    symlinkSync(join(dir, 'stale/web/out'), join(images, 'web-stale'));
    // (Bytes of its own: the server keeps each layer it checked by sha256, and would serve those.)
    build(join(dir, 'damaged/web/out'), 'web', Buffer.from('a web layer built elsewhere'), {name: 'base', dir: '../../../projects/base/out'});
    writeFileSync(join(dir, 'damaged/web/out/layer.squashfs'), 'a web layer built elsewhere, then changed');
    symlinkSync(join(dir, 'damaged/web/out'), join(images, 'web-damaged'));

    registry = await Registry.open(await openEmbedded(join(dir, 'registry')));
    const env = (name: string, bytes: string) => (writeFileSync(join(dir, name), bytes), {path: join(dir, name), size: bytes.length, sha256: sha256(bytes)});
    let service: BootService | undefined;
    listener = createRegistryServer(registry, {version: '0.0.0', bootOnly: true, boot: {handle: (q, s, u, l) => service!.handle(q, s, u, l)}});
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
    service = new BootService({registry, address: '127.0.0.1', httpBase: base, discover: false, kernel: env('vmlinuz', 'k'), base: env('base.img', 'b'), cacheDir: join(dir, 'cache'), cmdline: 'console=ttyS0', authorizedKeys: [], cliVersion: '0.0.0', log: () => undefined, images});
    const operator = await registry.authenticate((await registry.createToken({role: 'operator', note: 'live-netboot'})).token);
    machine = (await registry.createDeployment({machine: {macs: [MAC], hostname: 'live-one'}, id: 'dep-20261207T050000Z-00000001', mode: 'test'}, operator)).machine;
    await desire({image: 'web', tmpfs: '256M', persist: [{path: '/var/lib/app', label: 'data'}]});
    await registry.patchMachine(machine, {state: 'ready', attributes: {role: 'frontend', 'rack-id': 7}}, 'test');
  });

  afterAll(() => listener?.close());

  it('boots the named image: each layer an initrd holding the file the deploy environment mounts, config.json in live mode, the boot recorded with its layers', async () => {
    const text = await script();
    expect(text).toMatch(/boots it into RAM \(its disk is not written\)/);
    expect(text).toMatch(/^kernel \S+ .* console=ttyS0 anemos\.mode=live \|\| goto retry$/m);
    const files = initrds(text);
    expect(files.map((f) => f.name)).toEqual(['base.img', 'machine.img', 'live-0.img', 'live-1.img']);
    // The layers, bottom first, each as the kexec path carries it.
    expect(await unpack(files[2]!.url)).toEqual([{path: 'anemos/live/00-base.squashfs', data: layer.base}]);
    expect(await unpack(files[3]!.url)).toEqual([{path: 'anemos/live/01-web.squashfs', data: layer.web}]);
    const config = JSON.parse((await unpack(files[1]!.url)).find((f) => f.path === 'anemos/config.json')!.data.toString());
    expect(config).toMatchObject({
      mode: 'live',
      hostname: 'live-one',
      live: {image: 'web', tmpfs_mib: 256, persist: [{path: '/var/lib/app', label: 'data'}], attributes: {ATTR_ROLE: 'frontend', ATTR_RACK_ID: '7'}, layers: [{name: 'base', file: '00-base.squashfs', sha256: sha256(layer.base)}, {name: 'web', file: '01-web.squashfs', sha256: sha256(layer.web)}]},
      report: {url: base, token: expect.stringMatching(/^anm_/)},
    });
    expect(config).not.toHaveProperty('payload');
    // Its SSH identity, made once by the registry: the private keys in its segment, the public ones on its record.
    const segment = await unpack(files[1]!.url);
    hostKeys = Object.fromEntries(segment.filter((f) => f.path.startsWith('anemos/ssh/host_keys/')).map((f) => [f.path.split('/').pop()!, f.data.toString()]));
    expect(Object.keys(hostKeys).sort()).toEqual(['ssh_host_ecdsa_key', 'ssh_host_ed25519_key']);
    const publicOf = (name: string) => {
      writeFileSync(join(dir, name), hostKeys[name]!, {mode: 0o600});
      return execFileSync('ssh-keygen', ['-y', '-f', join(dir, name)], {encoding: 'utf8'}).trim();
    };
    expect((await registry.getMachine(machine)).sshHostKeys).toEqual([publicOf('ssh_host_ed25519_key'), publicOf('ssh_host_ecdsa_key')]);
    // The record keeps what each boot ran: the layers by sha256, under the image's name.
    const [dep] = (await registry.deployments({machine})).items;
    expect(dep).toMatchObject({id: config.report.deployment, mode: 'deploy', source: 'network boot (live)'});
    expect(dep!.artifacts).toEqual([
      {name: 'live web: layer base', url: 'image web', sha256: sha256(layer.base)},
      {name: 'live web: layer web', url: 'image web', sha256: sha256(layer.web)},
    ]);
    // The layers' links are by sha256 and place: anything else is not there.
    expect((await fetch(`${base}/boot/layer/${'0'.repeat(64)}-00.img`)).status).toBe(404);
    expect((await fetch(`${base}/boot/layer/${sha256(layer.base)}-00.img/../../../etc/passwd`)).status).toBe(404);
  });

  it("the live system's reporter (bash, /dev/tcp) posts its drift with the token its boot gave it, names and all; the page shows it; another token, or the same after the next boot, is refused", async () => {
    const config = JSON.parse((await unpack(initrds(await script()).find((f) => f.name === 'machine.img')!.url)).find((f) => f.path === 'anemos/config.json')!.data.toString());
    expect(config.live.drift).toEqual({url: base, token: expect.stringMatching(/^anm_/), seconds: 300});
    // The reporter as the host layer carries it, its paths here; the listing of a live system (drift.test.ts runs the real one).
    const root = join(dir, 'reporter');
    mkdirSync(root);
    const listing = ['f\t120\t1\t0\tetc/nginx/nginx.conf', 'f\t6\t0\t0\troot/a "quoted" \\ name', 'd\t4096\t0\t0\tsrv/new', 'f\t10\t0\t0\tsrv/new/één', 'c\t0\t1\t1\tetc/issue'].join('\n');
    writeFileSync(join(root, 'listing'), `${listing}\n`);
    writeFileSync(join(root, 'drift-list'), `cat ${join(root, 'listing')}\n`);
    const report = (token: string) => {
      const {hostname, port} = new URL(base);
      writeFileSync(join(root, 'drift.env'), `ANEMOS_DRIFT_HOST=${hostname}\nANEMOS_DRIFT_PORT=${port}\nANEMOS_DRIFT_TOKEN=${token}\n`);
      writeFileSync(join(root, 'drift-report'), DRIFT_REPORT.replace('/etc/anemos/drift.env', join(root, 'drift.env')).replace('/usr/lib/anemos/drift-list', join(root, 'drift-list')));
      // Not spawnSync: the registry answering it runs in this process.
      return promisify(execFile)('bash', [join(root, 'drift-report')], {encoding: 'utf8'}).then(
        (r) => ({stdout: r.stdout, status: 0}),
        (e: {stdout: string; code: number}) => ({stdout: e.stdout, status: e.code}),
      );
    };
    const r = await report(config.live.drift.token);
    expect(r.stdout).toBe('anemos drift report: HTTP/1.1 200 OK\n');
    expect(r.status).toBe(0);
    const m = await registry.getMachine(machine);
    expect(m.drift).toMatchObject({deployment: config.report.deployment, summary: {added: 3, changed: 1, removed: 1, bytes: 136}, left: 0});
    expect(m.drift!.entries).toEqual([
      {path: '/etc/issue', kind: 'removed', type: 'other', size: 0},
      {path: '/etc/nginx/nginx.conf', kind: 'changed', type: 'file', size: 120},
      {path: '/root/a "quoted" \\ name', kind: 'added', type: 'file', size: 6},
      {path: '/srv/new', kind: 'added', type: 'dir', size: 10, entries: 1},
    ]);
    // The machine's page, as an operator sees it.
    const page = renderMachine({label: 'operator', kind: 'operator', mayWrite: false}, m, [], false, undefined, [], [], {});
    expect(page).toContain('<section id="drift">');
    expect(page).toContain('<code>/root/a &quot;quoted&quot; \\ name</code>');
    expect(page).toContain('3 added, 1 changed, 1 removed; 136 bytes written since boot');
    // The boot's own report token is not for this; a made-up one is refused; the next boot revokes this one.
    expect((await report(config.report.token)).stdout).toMatch(/^anemos drift report: HTTP\/1\.1 403/);
    expect((await report(`anm_00000000_${'x'.repeat(32)}`)).stdout).toMatch(/^anemos drift report: HTTP\/1\.1 401/);
    await script();
    const after = await report(config.live.drift.token);
    expect(after.stdout).toMatch(/^anemos drift report: HTTP\/1\.1 401/);
    expect(after.status).toBe(1);
  });

  it('a rollback is a desired deployment naming the other image: the next boot runs it', async () => {
    await desire({image: 'base'});
    const files = initrds(await script());
    expect(files.map((f) => f.name)).toEqual(['base.img', 'machine.img', 'live-0.img']);
    // The same SSH identity as its first live boot.
    const segment = await unpack(files[1]!.url);
    expect(Object.fromEntries(segment.filter((f) => f.path.startsWith('anemos/ssh/host_keys/')).map((f) => [f.path.split('/').pop()!, f.data.toString()]))).toEqual(hostKeys);
    expect(await unpack(files[2]!.url)).toEqual([{path: 'anemos/live/00-base.squashfs', data: layer.base}]);
  });

  it('does not boot a live image on a machine whose inventory has too little RAM for it, and says how much it needs', async () => {
    const small = '52:54:00:26:00:02';
    const operator = await registry.authenticate((await registry.createToken({role: 'operator', note: 'live-netboot ram'})).token);
    const made = await registry.createDeployment({machine: {macs: [small], hostname: 'small'}, id: 'dep-20261207T050000Z-00000002', mode: 'test'}, operator);
    await registry.report({machine: {macs: [small]}, inventory: {...INVENTORY, memory: {totalBytes: 512 * 1048576, dimms: []}}}, await registry.authenticate(made.token.token));
    await registry.setDesired(made.machine, {config: {hostname: 'small', live: {image: 'web', tmpfs: '1G'}}} as never, 'test');
    await registry.patchMachine(made.machine, {state: 'ready'}, 'test');
    const text = await (await fetch(`${base}/boot/ipxe?mac=${small}&firmware=bios`)).text();
    expect(text).toMatch(/^exit 1$/m);
    expect((await registry.getMachine(made.machine)).lastBoot!.rule).toMatch(/has 512 MiB of RAM, and the live image web needs about 1280 MiB: 0 MiB of layers \+ 1024 MiB writable \(live\.tmpfs\) \+ 256 MiB for the system/);
    // With a tmpfs it can hold, it boots.
    await registry.setDesired(made.machine, {config: {hostname: 'small', live: {image: 'web', tmpfs: '128M'}}} as never, 'test');
    expect(initrds(await (await fetch(`${base}/boot/ipxe?mac=${small}&firmware=bios`)).text()).map((f) => f.name)).toEqual(['base.img', 'machine.img', 'live-0.img', 'live-1.img']);
  });

  it('does not boot what cannot be booted, and says why: a path, an image it does not have, a stale parent, a damaged layer', async () => {
    const refused = async (live: Record<string, unknown>, why: RegExp) => {
      await desire(live);
      const text = await script();
      expect(text).toMatch(/^exit 1$/m);
      expect(text).not.toMatch(/^initrd /m);
      // The script's line is cut at 300 characters; the record keeps the whole rule.
      expect((await registry.getMachine(machine)).lastBoot).toMatchObject({boot: 'none', rule: expect.stringMatching(why)});
    };
    await refused({image: '../projects/web/out'}, /names an image of anemos serve --images by its name, not a path/);
    await refused({image: 'db'}, /live image db is not in \S+images \(anemos serve --images\)/);
    await refused({image: 'web-stale'}, /web was built on base [0-9a-f]{12}…, and \S+ now holds base [0-9a-f]{12}…: web is stale/);
    await refused({image: 'web-damaged'}, /The live layer web \(\S+\) does not match its sha256/);
  });
});
