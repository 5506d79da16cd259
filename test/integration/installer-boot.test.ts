// anemos serve --boot --media DIR on a lab segment (namespaces this test makes): a machine
// whose desired deployment names Debian's installer is given the installer's kernel and
// initrd read out of an ISO (xorriso-made from Debian's netboot package) byte for byte, and
// ranges of them; its preseed, rendered from its record, under a signed link that a
// changed signature or another file does not reach; nothing outside the ISO (paths that
// climb, encoded or not); the explain endpoint shows the answer file; a record whose
// answer file cannot hold (no root disk, an unknown variable) is not booted into an
// installer, and says why. The preseed's report command, run by the installer's own wget
// (from Debian's initrd, in a chroot), records the deployment as succeeded, and the
// machine's next network boot goes to its disk.

import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {createHash} from 'node:crypto';
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {DI_INITRD, DI_KERNEL, debianInstallerIso} from '../helpers/installer-iso.js';
import {fakeEnvironment, startNetLab, type NetLab} from '../helpers/netlab.js';
import {CLI, makeToken, startServe, type RunningServe} from '../helpers/registry.js';

const MACHINE = '52:54:00:77:00:01';
const DISKLESS = '52:54:00:77:00:02';
const FROM_URL = '52:54:00:77:00:03';
const WWW_PORT = 8098;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('anemos serve --boot --media: installers from ISO files', {timeout: 180_000}, () => {
  let work: string;
  let lab: NetLab;
  let client: (argv: string[]) => string[];
  let serve: RunningServe;
  let admin: string;
  let base: string;
  let www: ChildProcess | undefined;
  let isoSha: string;

  const run = (argv: string[], input?: string, env?: Record<string, string>) => execFileSync(argv[0]!, argv.slice(1), {input, maxBuffer: 256 * 1024 * 1024, env: {...process.env, ...env}});
  const cli = (args: string[]) => run(lab.exec([process.execPath, CLI, ...args, '--registry', serve.url]), undefined, {ANEMOS_REGISTRY_TOKEN: admin}).toString();
  const curl = (url: string, extra: string[] = []): {status: number; body: Buffer} => {
    const out = run(client(['curl', '-s', '--path-as-is', '-o', '-', '-w', '\n%{http_code}', ...extra, url]));
    const nl = out.lastIndexOf(10);
    return {status: Number(out.subarray(nl + 1).toString()), body: out.subarray(0, nl)};
  };
  const script = (mac: string) => curl(`${base}/boot/ipxe?mac=${mac}&firmware=bios`).body.toString();

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'anemos-installer-'));
    lab = startNetLab(work, `i${process.pid}`);
    client = lab.client('10.77.0.51');
    const {media, iso} = debianInstallerIso(work);
    isoSha = sha(readFileSync(iso));
    // A web server on the segment the ISO is published on, for a record that names it by URL.
    const site = `require('http').createServer((q, s) => require('fs').createReadStream(process.argv[1]).on('error', () => (s.statusCode = 404, s.end())).pipe(s)).listen(${WWW_PORT}, '${lab.address}')`;
    const argv = lab.exec([process.execPath, '-e', site, iso]);
    www = spawn(argv[0]!, argv.slice(1), {stdio: 'ignore'});
    writeFileSync(join(media, 'not-an-installer.iso'), Buffer.alloc(40 * 2048));
    const data = join(work, 'registry');
    admin = makeToken(data, 'admin');
    serve = await startServe(['--data', data, '--boot', '--boot-interface', lab.bridge, '--boot-environment', fakeEnvironment(work), '--media', media, '--boot-cmdline', 'console=ttyS0'], {wrap: lab.exec([])});
    base = `http://${lab.address}:8067`;
    for (const mac of [MACHINE, DISKLESS, FROM_URL]) {
      const report = JSON.stringify({machine: {macs: [mac], hostname: mac === MACHINE ? 'web1.example.net' : 'web2.example.net'}});
      expect(run(lab.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `authorization: Bearer ${admin}`, '-H', 'content-type: application/json', '--data-binary', report, `${serve.url}/api/v1/reports`])).toString()).toBe('200');
    }
    const desired = (extra: string) => {
      const f = join(work, `desired-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(f, `installer:\n  media: debian-12-netboot\n${extra}`);
      return f;
    };
    // The record names its disk (it has no inventory); the other names none, and has none to choose from.
    cli(['machines', 'set', MACHINE, '--state', 'ready', '--desired-config', desired('  disk: vda\n  packages: [nginx]\n  vars: {MIRROR: mirror.example.net}\n')]);
    cli(['machines', 'set', DISKLESS, '--state', 'ready', '--installer', 'debian-12-netboot']);
  }, 180_000);

  afterAll(async () => {
    await serve?.stop();
    www?.kill();
    lab?.close();
  });

  it('lists the media it found in the ISO files, and the one it could not identify, in its log and through the API', () => {
    expect(serve.output()).toMatch(/boot: media debian-12-netboot: debian 12 amd64 \(preseed\), kernel install\.amd\/linux, initrd install\.amd\/initrd\.gz/);
    expect(serve.output()).toMatch(/boot: media not-an-installer: not offered: not an ISO 9660 image: no volume descriptor/);
    // The same through the API (no file paths of the server's).
    const api = JSON.parse(run(lab.exec(['curl', '-s', '-H', `authorization: Bearer ${admin}`, `${serve.url}/api/v1/boot/media`])).toString());
    expect(api.media).toEqual([
      {id: 'debian-12-netboot', size: expect.any(Number), volume: 'DEBIAN_NETBOOT', names: 'rockridge', media: {distribution: 'debian', release: '12', arch: 'amd64', kernel: 'install.amd/linux', initrd: 'install.amd/initrd.gz', kind: 'preseed', label: expect.stringContaining('netboot')}},
      {id: 'not-an-installer', size: 40 * 2048, problem: expect.stringContaining('no volume descriptor')},
    ]);
  });

  it('explain shows the installer and the preseed rendered from the record; a record with no root disk is not booted, and says why', () => {
    const e = JSON.parse(cli(['machines', 'explain', MACHINE, '--json']));
    expect(e).toMatchObject({boot: 'installer', installer: {media: 'debian-12-netboot', distribution: 'debian', kind: 'preseed'}});
    expect(e.installer.answer).toContain('d-i partman-auto/disk string /dev/vda');
    expect(e.installer.answer).toContain('d-i netcfg/get_hostname string web1');
    expect(e.installer.answer).toContain('d-i mirror/http/hostname string mirror.example.net');
    // A template with a variable nobody knows: not booted, and said.
    writeFileSync(join(work, 'odd.preseed'), 'd-i netcfg/get_hostname string {{HOSTNAME}}\nd-i foo/bar string {{NOPE}}\n');
    cli(['machines', 'set', DISKLESS, '--installer', 'debian-12-netboot', '--answer-template', join(work, 'odd.preseed')]);
    expect(JSON.parse(cli(['machines', 'explain', DISKLESS, '--json'])).rule).toMatch(/but its preseed answer file does not hold: installer\.template: unknown variable \{\{NOPE\}\}/);
    expect(() => cli(['machines', 'set', DISKLESS, '--installer', '../etc'])).toThrow(/--installer \.\.\/etc: installer\.media: .*Nothing was sent to the registry/);
    cli(['machines', 'set', DISKLESS, '--installer', 'debian-12-netboot']);
    const none = JSON.parse(cli(['machines', 'explain', DISKLESS, '--json']));
    expect(none).toMatchObject({boot: 'none'});
    expect(none.rule).toMatch(/but its preseed answer file does not hold: no root disk: its inventory lists no disk, and installer\.disk names none: it is not booted into an installer that would stop at a question$/);
    expect(script(DISKLESS)).toMatch(/^#!ipxe\necho anemos: .*no root disk.*\nexit 1\n$/);
    // The machine's page in the web UI: the media and the answer file; the other's reason.
    const page = (id: string) => run(lab.exec(['curl', '-s', '-H', `cookie: anemos_token=${admin}`, `${serve.url}/machines/${id}`])).toString();
    expect(page(e.machine.id)).toMatch(/<div id="installer"><h3>Installer<\/h3><p>debian-12-netboot: debian 12 amd64, preseed\..*<pre id="answer-file">[^<]*d-i partman-auto\/disk string \/dev\/vda/s);
    expect(page(none.machine.id)).toMatch(/<div id="installer"><h3>Installer<\/h3><p class="error">Not booted: its preseed answer file does not hold: no root disk/);
  });

  it("serves the installer's kernel and initrd out of the ISO, whole and by range, and its preseed under a signed link", async () => {
    const s = script(MACHINE);
    const kernel = s.match(/^kernel (\S+) initrd=initrd\.gz console=ttyS0 auto=true priority=critical url=(\S+)\/preseed\.cfg interface=auto \|\| goto retry$/m);
    expect(kernel, s).toBeTruthy();
    expect(kernel![1]).toBe(`${base}/boot/media/debian-12-netboot/install.amd/linux`);
    const initrdUrl = s.match(/^initrd --name initrd\.gz (\S+) \|\| goto retry$/m)![1]!;
    expect(sha(curl(kernel![1]!).body)).toBe(sha(readFileSync(DI_KERNEL)));
    const initrd = readFileSync(DI_INITRD);
    expect(sha(curl(initrdUrl).body)).toBe(sha(initrd));
    const part = curl(initrdUrl, ['-H', 'Range: bytes=1000000-1999999', '-D', join(work, 'range-headers')]);
    expect(part.status).toBe(206);
    expect(part.body.equals(initrd.subarray(1_000_000, 2_000_000))).toBe(true);
    expect(readFileSync(join(work, 'range-headers'), 'utf8')).toMatch(new RegExp(`content-range: bytes 1000000-1999999/${initrd.length}`, 'i'));
    expect(curl(initrdUrl, ['-H', `Range: bytes=${initrd.length}-`]).status).toBe(416);
    // The whole image, for installers that take it whole (subiquity's url=).
    expect(curl(`${base}/boot/media/debian-12-netboot.iso`, ['-I']).status).toBe(200);

    const answer = kernel![2]!;
    const preseed = curl(`${answer}/preseed.cfg`);
    expect(preseed.status).toBe(200);
    expect(preseed.body.toString()).toMatch(/^d-i preseed\/late_command string .*wget -q -O \/dev\/null --header 'Authorization: Bearer anm_[^']+'/m);
    await expect.poll(() => serve.output()).toMatch(new RegExp(`boot: ${MACHINE} \\(machine \\S+\\) fetched its preseed answer file preseed\\.cfg`));
    expect(curl(`${answer}/ks.cfg`).status).toBe(404);
    const forged = answer.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(curl(`${forged}/preseed.cfg`).status).toBe(404);
  });

  it('fetches media a record names by URL once, checks its sha256, and boots it meanwhile telling the machine to ask again; a wrong sha256 is refused', async () => {
    const desiredFile = (sha256: string) => {
      const f = join(work, `url-${sha256.slice(0, 8)}.yaml`);
      writeFileSync(f, `installer:\n  media: {url: 'http://${lab.address}:${WWW_PORT}/debian.iso', sha256: '${sha256}'}\n  disk: sda\n`);
      return f;
    };
    cli(['machines', 'set', FROM_URL, '--state', 'ready', '--desired-config', desiredFile('0'.repeat(64))]);
    const first = script(FROM_URL);
    expect(first).toMatch(/^#!ipxe\necho anemos: its installation media http:\S+ is being fetched and checked; asking again in 10 s\nsleep 10\nchain --replace /);
    await expect.poll(() => JSON.parse(cli(['machines', 'explain', FROM_URL, '--json'])).rule, {timeout: 30_000}).toMatch(/could not be fetched: .*sha256/i);
    expect(script(FROM_URL)).toMatch(/\nexit 1\n$/);
    cli(['machines', 'set', FROM_URL, '--desired-config', desiredFile(isoSha)]);
    script(FROM_URL);
    await expect.poll(() => script(FROM_URL), {timeout: 30_000}).toMatch(new RegExp(`^kernel ${base.replace(/\./g, '\\.')}/boot/media/sha256-${isoSha.slice(0, 16)}/install\\.amd/linux `, 'm'));
    const kernelUrl = script(FROM_URL).match(/^kernel (\S+)/m)![1]!;
    expect(sha(curl(kernelUrl).body)).toBe(sha(readFileSync(DI_KERNEL)));
    // The curls above ran synchronously: the server's output is read once the test yields.
    await expect.poll(() => serve.output()).toMatch(/boot: installation media http:\S+: debian 12 amd64 \(preseed\), served as sha256-/);
  });

  it('serves nothing outside the ISO files', () => {
    for (const path of ['/boot/media/debian-12-netboot/../../../etc/passwd', '/boot/media/debian-12-netboot/install.amd/..%2f..%2f.disk/info', '/boot/media/..%2f..%2fetc%2fpasswd', '/boot/media/debian-12-netboot/%2e%2e/%2e%2e/etc/passwd', '/boot/media/not-an-installer/x', '/boot/media/debian-12-netboot/install.amd', '/boot/media/debian-12-netboot/%E0%A4%A']) {
      const r = curl(`${base}${path}`);
      expect([400, 404], path).toContain(r.status);
      expect(r.body.toString()).not.toMatch(/root:x:0/);
    }
  });

  it("the preseed's report command, run by the installer's own wget, records the deployment as succeeded; the next boot is the disk", () => {
    const answer = script(MACHINE).match(/url=(\S+)\/preseed\.cfg/)![1]!;
    const late = curl(`${answer}/preseed.cfg`).body.toString().match(/^d-i preseed\/late_command string .*'; (wget .*)$/m)![1]!;
    // debian-installer's own root: its wget (GNU wget, from the netboot initrd), as the late command runs in it.
    const root = join(work, 'di-root');
    mkdirSync(root);
    run(['sh', '-c', `zcat ${DI_INITRD} | (cd ${root} && cpio -id --quiet)`]);
    run(client(['chroot', root, '/bin/sh', '-c', late]));
    const shown = JSON.parse(cli(['machines', 'show', MACHINE, '--json'])).machine;
    expect(shown).toMatchObject({state: 'deployed', lastDeployment: {outcome: 'succeeded'}});
    expect(JSON.parse(cli(['machines', 'explain', MACHINE, '--json']))).toMatchObject({boot: 'local-disk'});
    expect(script(MACHINE)).toContain('sanboot --no-describe --drive 0x80');
  });
});
