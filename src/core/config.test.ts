import {describe, expect, it} from 'vitest';
import type {NetworkConfig} from './network.js';
import {AnemosError} from '../shared/errors.js';
import {missingChecksums, parseConfig, type ParseConfigOptions} from './config.js';

const SHA = 'a'.repeat(64);
const minimal = `kernel: {url: https://example.org/vmlinuz, sha256: ${SHA}}\ninitramfs: {url: /srv/initramfs.cpio.zst, sha256: ${SHA}}\n`;

function problems(text: string, opts: ParseConfigOptions = {}): string[] {
  try {
    parseConfig(text, 'anemos.conf', opts);
  } catch (err) {
    expect(err).toBeInstanceOf(AnemosError);
    expect((err as AnemosError).exitCode).toBe(3);
    return (err as AnemosError).details;
  }
  throw new Error('expected a config error');
}

describe('config', () => {
  it('fills defaults for a minimal file', () => {
    const c = parseConfig(minimal, 'anemos.conf');
    expect(c.boot).toEqual({method: 'auto', delay: 3});
    expect(c.deploy).toEqual({on_failure: 'auto', timeout: 3600, network_timeout: 120});
    expect(c.access).toEqual({ssh_authorized_keys: 'host', host_keys: 'carry'});
    expect(c.network).toBe('auto');
    expect(c.firmware).toBe('auto');
    expect(c.cache_dir).toBe('/var/cache/anemos');
  });

  it('normalizes durations and sha256 case', () => {
    const c = parseConfig(minimal + `payload: {url: file:///p.tar.gz, sha256: ${'AB'.repeat(32)}}\ndeploy: {timeout: 30m, network_timeout: 90, disk: /dev/vda}\n`, 'x');
    expect(c.deploy.timeout).toBe(1800);
    expect(c.deploy.network_timeout).toBe(90);
    expect(c.payload?.sha256).toBe('ab'.repeat(32));
  });

  it('lists every problem with its YAML path and a hint', () => {
    const details = problems(
      `kernel: {url: https://k, sha256: nothex}\ninitramfs: {sha256: ${SHA}}\nboot: {method: pxe, dealy: 3}\ndeploy: {timeout: soon}\nfirmware: 7\nunknown_key: 1\n`,
    );
    expect(details).toEqual([
      expect.stringMatching(/^kernel\.sha256: .*sha256sum/),
      expect.stringMatching(/^initramfs\.url: is required/),
      expect.stringMatching(/^boot\.method: must be one of "auto", "kexec", "bootloader", not "pxe"/),
      expect.stringMatching(/^boot\.dealy: is not a known key — Did you mean "delay"\?/),
      expect.stringMatching(/^deploy\.timeout: .*"10m"/),
      expect.stringMatching(/^firmware: must be/),
      expect.stringMatching(/^unknown_key: is not a known key/),
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problems('kernel: [unclosed\n')[0]).toMatch(/line 2|line 1/);
  });

  it('rejects duplicate keys rather than keeping the last', () => {
    expect(problems(minimal + minimal.split('\n')[0] + '\n')[0]).toMatch(/unique|duplicate/i);
  });

  it('says which checksums are missing', () => {
    const c = parseConfig('kernel: {url: /k}\ninitramfs: {url: /i, sha256: ' + SHA + '}\npayload: {url: /p}\n', 'x', {allowUnverified: true});
    expect(missingChecksums(c)).toEqual(['kernel.sha256', 'payload.sha256']);
  });

  it('treats an empty file as missing the required keys', () => {
    expect(problems('')).toEqual([expect.stringMatching(/^kernel: is required/), expect.stringMatching(/^initramfs: is required/)]);
  });
});

describe('config: every problem in one run', () => {
  it('names an unknown key and a missing sha256 together', () => {
    const details = problems('kernel: {url: /k}\ninitramfs: {url: /i, sha256: ' + SHA + '}\nbogus: 1\n');
    expect(details).toEqual([expect.stringMatching(/^bogus: is not a known key/), expect.stringMatching(/^kernel\.sha256: is required — .*--allow-unverified/)]);
    expect(() => parseConfig('kernel: {url: /k}\ninitramfs: {url: /i}\n', 'x', {allowUnverified: true})).not.toThrow();
  });

  it('reads relative paths from the directory of the config file', () => {
    const c = parseConfig(`kernel: {url: out/vmlinuz, sha256: ${SHA}}\ninitramfs: {url: ./out/i.zst, sha256: ${SHA}}\npayload: {url: https://e.org/p.tar.gz, sha256: ${SHA}}\n`, 'x', {baseDir: '/srv/anemos'});
    expect([c.kernel.url, c.initramfs.url, c.payload?.url]).toEqual(['/srv/anemos/out/vmlinuz', '/srv/anemos/out/i.zst', 'https://e.org/p.tar.gz']);
  });

  it('a local path that names nothing is said as such (not as a missing sha256), read from the config file\'s directory', () => {
    const exists = (p: string) => p === '/srv/anemos/out/vmlinuz';
    const details = problems(`kernel: {url: out/vmlinuz, sha256: ${SHA}}\ninitramfs: {url: /nowhere/i.zst, sha256: ${SHA}}\npayload: {url: payloads/imgae}\n`, {baseDir: '/srv/anemos', exists});
    expect(details).toEqual([
      expect.stringMatching(/^initramfs\.url: names \/nowhere\/i\.zst, which does not exist — Check the path\.$/),
      expect.stringMatching(/^payload\.url: names \/srv\/anemos\/payloads\/imgae, which does not exist — .*config file's directory, \/srv\/anemos.*a payload is a directory/),
    ]);
  });

  it('refuses the placeholder sha256 (of an empty file), a relative cache_dir, and shows the hostname form', () => {
    const empty = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855';
    const details = problems(`kernel: {url: /k, sha256: ${empty}}\ninitramfs: {url: /i, sha256: ${SHA}}\ncache_dir: cache\nhostname: web_1\n`);
    expect(details).toEqual([
      expect.stringMatching(/^cache_dir: "cache" does not match the expected form — An absolute path on the machine deployed/),
      expect.stringMatching(/^hostname: "web_1" does not match the expected form — Letters, digits, dots and hyphens.*web1\.example\.org/),
      expect.stringMatching(/^kernel\.sha256: is the sha256 of an empty file .*placeholder.* — Put the sha256 of the real file/),
    ]);
  });

  it('keeps the excerpt of a YAML syntax error, and says "an integer" and "a list of strings"', () => {
    const yaml = problems('kernel:\n  url: /k\n sha256: x\n')[0];
    expect(yaml.split('\n').length).toBeGreaterThan(1);
    expect(yaml).toMatch(/\^/);
    const words = problems(`${minimal}boot: {delay: soon}\nfirmware: {a: 1}\n`);
    expect(words).toContainEqual(expect.stringMatching(/^boot\.delay: must be an integer, not string "soon"/));
    expect(words).toContainEqual(expect.stringMatching(/^firmware: must be "auto" \| "none", or a list of strings/));
  });

  it('refuses kernel arguments that GRUB or sh would read differently', () => {
    for (const bad of ['quiet"; reboot', 'foo=$(id)', "a='b c'", 'x;y', 'init=`x`']) {
      expect(problems(`${minimal}cmdline: ${JSON.stringify(bad)}\n`)).toEqual([expect.stringMatching(/^cmdline: .*does not match[\s\S]*quotes, \$, ;/)]);
    }
    expect(parseConfig(`${minimal}cmdline: "nomodeset ip=dhcp console=ttyS1,57600n8 loglevel=7"\n`, 'x').cmdline).toBe('nomodeset ip=dhcp console=ttyS1,57600n8 loglevel=7');
  });

  it('validates an explicit network mapping with the same paths and messages, and fills its defaults', () => {
    const bad = problems(
      `${minimal}network:\n  interfaces:\n    "52:54:00:12:34:56":\n      mac: "52:54:00:12:34:56"\n      name: eth0\n      addresses: [{address: 203.0.113.300, prefix: 24, family: 4}, {address: "10.0.0.1", prefix: 40, family: 4}]\n      routes: [{to: default, via: "fe80::1", family: 4}]\n    "nope":\n      mac: "52:54:00:12:34:57"\n      name: eth1\n  dns: {servers: [x]}\n  colour: blue\n`,
    );
    expect(bad).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^network\.interfaces\.52:54:00:12:34:56\.addresses\[0\]\.address: "203\.0\.113\.300" does not match/),
        expect.stringMatching(/^network\.interfaces\.nope: "nope" is not a valid key here — Key each interface by its MAC/),
        expect.stringMatching(/^network\.dns\.servers\[0\]: "x" does not match/),
        expect.stringMatching(/^network\.colour: is not a known key/),
      ]),
    );
    const semantic = problems(`${minimal}network:\n  interfaces:\n    "52:54:00:12:34:56": {mac: "52:54:00:12:34:56", name: eth0, addresses: [{address: 10.0.0.1, prefix: 40, family: 4}], routes: [{to: default, via: "fe80::1", family: 4}]}\n`);
    expect(semantic).toEqual([
      expect.stringMatching(/^network\.interfaces\.52:54:00:12:34:56\.addresses\[0\]\.prefix: must be at most 32 for IPv4/),
      expect.stringMatching(/^network\.interfaces\.52:54:00:12:34:56\.routes\[0\]\.family: is 4, but the gateway fe80::1 is an IPv6 address/),
    ]);
    const ok = parseConfig(`${minimal}network:\n  interfaces:\n    "52:54:00:AB:CD:EF": {mac: "52:54:00:AB:CD:EF", name: ens3, addresses: [{address: 203.0.113.10, prefix: 32, family: 4}], routes: [{to: default, via: 172.31.1.1, onlink: true, family: 4}]}\n  dns: {servers: [1.1.1.1]}\n`, 'x');
    expect(ok.network).toEqual({
      version: 1,
      interfaces: {'52:54:00:ab:cd:ef': {mac: '52:54:00:ab:cd:ef', name: 'ens3', dhcp4: false, slaac: false, addresses: [{address: '203.0.113.10', prefix: 32, family: 4}], routes: [{to: 'default', via: '172.31.1.1', onlink: true, family: 4}]}},
      dns: {servers: ['1.1.1.1'], search: []},
      skipped: [],
    });
  });

  it('takes a bond and a VLAN written by hand, and names what does not fit together', () => {
    const bond = `"02:00:00:00:00:01": {mac: "02:00:00:00:00:01", name: bond0, bond: {mode: 802.3ad, members: [{mac: "52:54:00:00:00:0A", name: eno1}, {mac: "52:54:00:00:00:0b", name: eno2}], lacpRate: fast, xmitHashPolicy: layer3+4}}`;
    const ok = parseConfig(`${minimal}network:\n  interfaces:\n    ${bond}\n    "02:00:00:00:00:01.42": {mac: "02:00:00:00:00:01", name: bond0.42, vlan: {id: 42, link: "02:00:00:00:00:01"}, addresses: [{address: 203.0.113.10, prefix: 24, family: 4}], routes: [{to: default, via: 203.0.113.1, family: 4}]}\n`, 'x');
    const net = ok.network as NetworkConfig;
    expect(Object.keys(net.interfaces)).toEqual(['02:00:00:00:00:01', '02:00:00:00:00:01.42']);
    expect(net.interfaces['02:00:00:00:00:01'].bond!.members[0].mac).toBe('52:54:00:00:00:0a');
    const bad = problems(
      `${minimal}network:\n  interfaces:\n    ${bond.replace('members: [', 'primary: "52:54:00:00:00:99", members: [')}\n    "52:54:00:00:00:0a": {mac: "52:54:00:00:00:0a", name: eno1}\n    "02:00:00:00:00:01.7": {mac: "02:00:00:00:00:01", name: v7, vlan: {id: 8, link: "02:00:00:00:00:09"}}\n    "02:00:00:00:00:02": {mac: "02:00:00:00:00:02", name: bond1, bond: {mode: fast, members: []}}\n`,
    );
    expect(bad).toEqual([
      expect.stringMatching(/^network\.interfaces\.02:00:00:00:00:02\.bond\.mode: must be one of "balance-rr", "active-backup"/),
      expect.stringMatching(/^network\.interfaces\.02:00:00:00:00:02\.bond\.members: must have at least 1 item/),
    ]);
    const semantic = problems(`${minimal}network:\n  interfaces:\n    ${bond.replace('members: [', 'primary: "52:54:00:00:00:99", members: [')}\n    "52:54:00:00:00:0a": {mac: "52:54:00:00:00:0a", name: eno1}\n    "02:00:00:00:00:01.7": {mac: "02:00:00:00:00:01", name: v7, vlan: {id: 8, link: "02:00:00:00:00:09"}}\n`);
    expect(semantic).toEqual([
      expect.stringMatching(/^network\.interfaces\.02:00:00:00:00:01\.bond\.members\[0\]\.mac: 52:54:00:00:00:0A is an interface of its own here as well — A bond member carries no configuration/),
      expect.stringMatching(/^network\.interfaces\.02:00:00:00:00:01\.bond\.primary: 52:54:00:00:00:99 is not one of the bond's members/),
      expect.stringMatching(/^network\.interfaces\.02:00:00:00:00:01\.7\.mac: is 02:00:00:00:00:01 with VLAN 8, but the interface is keyed by 02:00:00:00:00:01\.7 — Key a VLAN by its MAC and VLAN id/),
      expect.stringMatching(/^network\.interfaces\.02:00:00:00:00:01\.7\.vlan\.link: names 02:00:00:00:00:09, which is not an interface here/),
    ]);
  });
});
