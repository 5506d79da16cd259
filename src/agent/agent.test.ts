import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {networkCapture} from '../../test/helpers/fixtures.js';
import {parseNetwork} from '../core/network.js';
import {parseCmdline} from './cmdline.js';
import {diskWrites, parseBlockStat} from './disk-writes.js';
import {planImgbuild} from '../core/imgbuild-plan.js';
import {configureSpec, detectTarget} from './configure.js';
import {parseFormat} from '../core/imgbuild.js';
import {checkBootConfig} from './main-checks.js';
import {planNetwork} from './net-setup.js';
import {decideOnFailure} from './policy.js';
import {callUnderQjs} from '../../test/helpers/qjs.js';
import type {Link} from './net-setup.js';

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

  it('builds the host\'s bond from its members found by their own MAC: mode before members, the host\'s MAC, then addresses', () => {
    const net = parseNetwork(networkCapture('bond-vm'));
    // The deploy environment's kernel names the NICs in its own order.
    const plan = planNetwork(net, [{name: 'eth0', mac: '52:54:00:12:34:58'}, {name: 'eth1', mac: '52:54:00:12:34:56'}]);
    expect(plan.missing).toEqual([]);
    expect(plan.missingMembers).toEqual([]);
    expect(plan.modules).toEqual([['modprobe', 'bonding', 'max_bonds=0']]);
    expect(plan.ifaces.map((i) => i.name)).toEqual(['bond0']);
    const sys = '/sys/class/net/bond0/bonding';
    expect(plan.ifaces[0].up).toEqual([
      ['ip', 'link', 'add', 'bond0', 'type', 'bond'],
      {write: `${sys}/mode`, value: 'active-backup'},
      {write: `${sys}/miimon`, value: '100'},
      ['ip', 'link', 'set', 'eth1', 'down'],
      {write: `${sys}/slaves`, value: '+eth1'},
      ['ip', 'link', 'set', 'eth0', 'down'],
      {write: `${sys}/slaves`, value: '+eth0'},
      {write: `${sys}/primary`, value: 'eth1'},
      ['ip', 'link', 'set', 'bond0', 'address', '8e:82:c9:02:90:f1'],
      ['ip', 'link', 'set', 'bond0', 'up'],
    ]);
    expect(plan.ifaces[0].statics).toEqual([
      ['ip', '-4', 'addr', 'replace', '10.0.2.15/24', 'dev', 'bond0'],
      ['ip', '-4', 'route', 'replace', 'default', 'via', '10.0.2.2', 'dev', 'bond0'],
    ]);
    expect(plan.gateways).toEqual([{address: '10.0.2.2', family: 4, dev: 'bond0'}]);
  });

  it('comes up on the members it finds and names the one it does not; a VLAN rides on the bond', () => {
    const net = parseNetwork(networkCapture('bond-vlan-vm'));
    const plan = planNetwork(net, [{name: 'eth0', mac: '52:54:00:12:34:56'}]);
    expect(plan.missingMembers).toEqual([{bond: 'bond0', mac: '52:54:00:12:34:58', name: 'eth1'}]);
    expect(plan.modules).toEqual([['modprobe', '8021q'], ['modprobe', 'bonding', 'max_bonds=0']]);
    expect(plan.ifaces.map((i) => i.name)).toEqual(['bond0', 'bond0.100']);
    expect(plan.ifaces[0].up.filter((s) => !Array.isArray(s) && s.write.endsWith('/slaves'))).toEqual([{write: '/sys/class/net/bond0/bonding/slaves', value: '+eth0'}]);
    expect(plan.ifaces[1].up).toEqual([
      ['ip', 'link', 'add', 'link', 'bond0', 'name', 'bond0.100', 'type', 'vlan', 'id', '100'],
      ['ip', 'link', 'set', 'bond0.100', 'up'],
    ]);
    expect(plan.gateways.map((g) => g.dev)).toEqual(['bond0.100', 'bond0.100']);
    // No member at all: nothing to build, and the wait for the NICs goes on until its deadline.
    const none = planNetwork(net, []);
    expect(none.ifaces).toEqual([]);
    expect(none.missingMembers.map((m) => m.name)).toEqual(['eth0', 'eth1']);
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

  it("lays the disk out as an IMGBUILD's raw format does, the ESP mounted by a step of its own (payloads/image unpacks between them)", () => {
    const ctx = {root: '/mnt/target', payload: '/run/x', work: '/run/x', disk: '/dev/nvme0n1', efi: true, kernelArgs: [], networkJson: '/anemos/network.json', authorizedKeys: '/anemos/ssh/authorized_keys', hostKeysDir: '/anemos/ssh/host_keys'};
    const format = parseFormat('raw max gpt ext4');
    if (typeof format === 'string' || format.kind !== 'raw') throw new Error(`not a raw format: ${JSON.stringify(format)}`);
    const steps = planImgbuild(configureSpec('debian', 'web1', format), ctx);
    const partition = steps.find((s) => s.id === 'partition')!.script;
    expect(partition).toContain('label: gpt\nstart=2048, size=524288, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\ntype=0FC63DAF-8483-4772-8E79-3D69D8477DE4');
    expect(partition).toContain('mkfs.ext4 -q -F -L root "$(part 2)"');
    expect(partition).toContain('mount "$(part 2)" "$root"');
    expect(steps.find((s) => s.id === 'esp')!.script).toContain('mount "$(part 1)" "$root/boot/efi"');
    // BIOS: one bootable MBR partition, no ESP step.
    const bios = planImgbuild(configureSpec('debian', 'web1', {...format, table: 'msdos'}), {...ctx, efi: false});
    expect(bios.find((s) => s.id === 'partition')!.script).toContain('label: dos\nstart=2048, type=83, bootable');
    expect(bios.some((s) => s.id === 'esp')).toBe(false);
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

describe('agent: the NICs it matches by MAC, from sysfs', () => {
  it('reads a bond member\'s own MAC (its current one is the bond\'s) and leaves bonds and VLANs out', () => {
    const sys = mkdtempSync(join(tmpdir(), 'anemos-sysfs-'));
    const put = (rel: string, text: string) => {
      mkdirSync(dirname(join(sys, rel)), {recursive: true});
      writeFileSync(join(sys, rel), text);
    };
    put('class/net/eth0/address', '8e:82:c9:02:90:f1\n');
    put('class/net/eth0/bonding_slave/perm_hwaddr', '52:54:00:12:34:56\n');
    put('class/net/eth1/address', '52:54:00:12:34:58\n');
    put('class/net/bond0/address', '8e:82:c9:02:90:f1\n');
    put('class/net/bond0/uevent', 'DEVTYPE=bond\nINTERFACE=bond0\nIFINDEX=4\n');
    put('class/net/bond0.100/address', '8e:82:c9:02:90:f1\n');
    put('class/net/bond0.100/uevent', 'DEVTYPE=vlan\nINTERFACE=bond0.100\n');
    put('class/net/lo/address', '00:00:00:00:00:00\n');
    // Under the qjs the deploy environment runs (the agent's file access is QuickJS').
    expect(callUnderQjs<Link[]>('readLinks', sys).sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      {name: 'eth0', mac: '52:54:00:12:34:56'},
      {name: 'eth1', mac: '52:54:00:12:34:58'},
    ]);
  });
});
