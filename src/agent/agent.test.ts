import {describe, expect, it} from 'vitest';
import {networkCapture} from '../../test/helpers/fixtures.js';
import {parseNetwork} from '../core/network.js';
import {parseCmdline} from './cmdline.js';
import {diskWrites, parseBlockStat} from './disk-writes.js';
import {planImgbuild} from '../core/imgbuild-plan.js';
import {configureSpec, detectTarget} from './configure.js';
import {checkBootConfig} from './main-checks.js';
import {planNetwork} from './net-setup.js';
import {decideOnFailure} from './policy.js';

describe('agent: pure parts', () => {
  it('reads mode and consoles from the kernel command line', () => {
    expect(parseCmdline('console=tty0 console=ttyS0,115200n8 anemos.mode=deploy panic=10\n')).toEqual({mode: 'deploy', consoles: ['tty0', 'ttyS0'], debug: false});
    expect(parseCmdline('quiet')).toEqual({consoles: [], debug: false});
  });

  it('counts written sectors, ignoring RAM and loop devices', () => {
    const line = '  1234  0  5678  90  11  0  88  7  0  100  97  0  0  0  0  0  0';
    expect(parseBlockStat(line)).toBe(88);
    expect(diskWrites({vda: 0, ram0: 0, loop0: 0}, {vda: 0, ram0: 5, loop0: 9})).toEqual([]);
    expect(diskWrites({vda: 0, sda: 3}, {vda: 8, sda: 3, nvme0n1: 1})).toEqual(['nvme0n1', 'vda']);
  });

  it('reboots after a failure only while the old system is intact (policy auto)', () => {
    expect(decideOnFailure('auto', [])).toBe('reboot');
    expect(decideOnFailure('auto', ['vda'])).toBe('stay');
    expect(decideOnFailure('reboot', ['vda'])).toBe('reboot');
    expect(decideOnFailure('stay', [])).toBe('stay');
  });

  it('matches interfaces by MAC whatever their name, with on-link routes after device routes', () => {
    const net = parseNetwork(networkCapture('static-onlink'));
    const plan = planNetwork(net, [{name: 'eth0', mac: '96:00:01:AA:BB:CC'}, {name: 'eth1', mac: '52:54:00:99:99:99'}]);
    expect(plan.missing).toEqual([]);
    expect(plan.ifaces[0].statics).toEqual([
      ['ip', '-4', 'addr', 'replace', '203.0.113.10/32', 'dev', 'eth0'],
      ['ip', '-6', 'addr', 'replace', '2001:db8:2::2/64', 'dev', 'eth0'],
      ['ip', '-4', 'route', 'replace', '172.31.1.1', 'dev', 'eth0', 'scope', 'link'],
      ['ip', '-4', 'route', 'replace', 'default', 'via', '172.31.1.1', 'dev', 'eth0', 'onlink'],
      ['ip', '-6', 'route', 'replace', 'default', 'via', 'fe80::1', 'dev', 'eth0', 'metric', '1024'],
    ]);
    expect(plan.gateways).toEqual([
      {address: '172.31.1.1', family: 4, dev: 'eth0'},
      {address: 'fe80::1', family: 6, dev: 'eth0'},
    ]);
    expect(plan.resolvConf).toBe('nameserver 185.12.64.1\nnameserver 2a01:4ff:ff00::add:1\n');
  });

  it('keeps the DHCP lease of the host as the fallback, and reports MACs not found', () => {
    const net = parseNetwork(networkCapture('dhcp-cloud'));
    const plan = planNetwork(net, []);
    expect(plan.missing).toEqual(['52:54:00:12:34:56']);
    const found = planNetwork(net, [{name: 'enp0s3', mac: '52:54:00:12:34:56'}]);
    expect(found.ifaces[0]).toMatchObject({name: 'enp0s3', dhcp4: true});
    expect(found.ifaces[0].fallback[0]).toEqual(['ip', '-4', 'addr', 'replace', '192.0.2.15/24', 'dev', 'enp0s3']);
  });

  it('DHCPv4 beside a static IPv6 (dual stack): the IPv6 address and route are applied whether DHCP answers or not', () => {
    const net = parseNetwork(networkCapture('dhcp-cloud'));
    const i = Object.values(net.interfaces)[0]!;
    i.addresses.push({family: 6, address: 'fec0::15', prefix: 64});
    i.routes.push({family: 6, to: 'default', via: 'fec0::2'});
    const plan = planNetwork(net, [{name: 'eth0', mac: i.mac}]).ifaces[0]!;
    expect(plan.statics).toEqual(expect.arrayContaining([['ip', '-6', 'addr', 'replace', 'fec0::15/64', 'dev', 'eth0'], ['ip', '-6', 'route', 'replace', 'default', 'via', 'fec0::2', 'dev', 'eth0']]));
    expect(plan.statics.flat()).not.toContain('192.0.2.15/24');
    expect(plan.fallback.every((c) => c[1] === '-4')).toBe(true);
  });

  it('rejects a malformed config.json with every reason', () => {
    expect(() => checkBootConfig({version: 2, mode: 'deploy', timeout: 0} as never)).toThrow(/version must be 1; payload\.file and payload\.sha256 are required in deploy mode; timeout and network_timeout must be positive/);
  });
});

describe('anemos-configure: the IMGBUILD steps for a root a payload wrote', () => {
  it('tells the distribution from os-release', () => {
    expect(detectTarget('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\n')).toBe('debian');
    expect(detectTarget('NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n')).toBe('debian');
    expect(detectTarget('NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\n')).toBe('debian');
    expect(detectTarget('ID=alpine\n')).toBe('alpine');
    expect(detectTarget('ID=arch\n')).toBe('arch');
    expect(detectTarget('ID=fedora\n')).toBeUndefined();
  });

  it('plans the same system and bootloader steps an IMGBUILD of that target gets', () => {
    const ctx = {root: '/mnt/target', payload: '/run/x', work: '/run/x', disk: '/dev/vda', efi: false, kernelArgs: ['console=ttyS0,115200'], networkJson: '/anemos/network.json', authorizedKeys: '/anemos/ssh/authorized_keys', hostKeysDir: '/anemos/ssh/host_keys'};
    const steps = planImgbuild(configureSpec('debian', 'web1.example.net'), ctx);
    const system = steps.find((s) => s.id === 'system')!.script;
    expect(system).toContain('anemos-netconf render --format networkd --network /anemos/network.json "$root"');
    expect(system).toContain("printf 'UUID=%s %s %s %s 0 %s\\n'");
    const boot = steps.find((s) => s.id === 'bootloader')!.script;
    expect(boot).toContain('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX console=ttyS0,115200"');
    expect(boot).toContain('in_root grub-install --target=i386-pc "$disk"');
    expect(boot).toContain('in_root update-grub');
    expect(planImgbuild(configureSpec('alpine', 'ns1'), ctx).find((s) => s.id === 'system')!.script).toContain('anemos-netconf render --format alpine --names kernel');
  });
});

describe('config.json: one schema for the CLI and the agent', () => {
  it('names fields of the wrong type or value besides the rules in words', () => {
    expect(() => checkBootConfig({version: 1, mode: 'test', cli_version: 'x', hostname: 'h; reboot', on_failure: 'maybe', timeout: 60, network_timeout: 30, colour: 1} as never)).toThrow(
      /config\.json is invalid: hostname: "h; reboot" does not match the expected form; on_failure: must be one of "auto", "reboot", "stay", not "maybe"; colour: is not a known key/,
    );
    expect(() => checkBootConfig({version: 1, mode: 'test', cli_version: 'x', hostname: 'web1', on_failure: 'auto', timeout: 60, network_timeout: 30} as never)).not.toThrow();
  });
});
