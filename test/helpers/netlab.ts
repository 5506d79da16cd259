// A private L2 segment for network-boot tests, made of network namespaces this test creates
// and deletes (never the machine's own interfaces): the "switch" namespace holds a bridge,
// the tap devices the VMs plug into, and anemos serve's boot address; the "site" namespace,
// joined to the bridge by a veth pair, holds the site's own DHCP server (dnsmasq, DHCP
// only), which gives the addresses while anemos answers only the boot. Router
// advertisements of a ULA prefix come from there too, so iPXE does not wait 13 s for one.

import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {createHash} from 'node:crypto';
import {mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

/** A deploy environment of two small files with their SHA256SUMS (what --boot-environment checks), for tests that boot nothing: its directory. */
export function fakeEnvironment(work: string): string {
  const env = join(work, 'environment');
  mkdirSync(env);
  const files: [string, Buffer][] = [['vmlinuz', Buffer.from('kernel')], ['initramfs.cpio.zst', Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])]];
  for (const [name, bytes] of files) writeFileSync(join(env, name), bytes);
  writeFileSync(join(env, 'SHA256SUMS'), files.map(([name, bytes]) => `${createHash('sha256').update(bytes).digest('hex')}  ${name}\n`).join(''));
  return env;
}

export interface NetLab {
  /** The namespace of the bridge, the taps and anemos serve. */
  ns: string;
  /** anemos serve's address on the segment (the bridge's), and the bridge's name. */
  address: string;
  bridge: string;
  /** The site DHCP's address and its log. */
  site: {ns: string; address: string; log: string};
  /** A tap device on the bridge for one VM. */
  tap(name: string): string;
  /** A command inside the switch namespace (argv). */
  exec(argv: string[]): string[];
  /**
   * A namespace of its own for a client on the segment (a veth cl0 on the bridge, this address,
   * and a default route through it so that 255.255.255.255 can be sent to): a command there
   * (argv). Without an address, cl0 is up and bare, for a DHCP client to configure.
   */
  client(address?: string, mac?: string): (argv: string[]) => string[];
  /**
   * Another segment behind a router that relays DHCP (dnsmasq as a relay agent, to the site's
   * DHCP and to anemos, giaddr 10.78.0.1): its namespace, and a tap there for a VM.
   * The site's DHCP has a range for it (10.78.0.100-199, router 10.78.0.1).
   */
  relayed(): {ns: string; giaddr: string; tap(name: string): string};
  close(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, {stdio: ['ignore', 'pipe', 'pipe']}).toString();

/** siteDhcp false: the segment has no DHCP server but anemos' own (--dhcp full). */
export function startNetLab(work: string, id: string, o: {siteDhcp?: boolean} = {}): NetLab {
  const ns = `anemos-nb-${id}`;
  const siteNs = `anemos-site-${id}`;
  const bridge = 'br0';
  const address = '10.77.0.1';
  const siteAddress = '10.77.0.2';
  const log = join(work, 'site-dhcp.log');
  let dnsmasq: ChildProcess | undefined;
  let relay: ChildProcess | undefined;
  const clients: string[] = [];
  const relayNs = `anemos-rl-${id}`;
  const close = () => {
    dnsmasq?.kill('SIGKILL');
    relay?.kill('SIGKILL');
    for (const n of [ns, siteNs, ...clients, ...(relay ? [relayNs] : [])]) {
      try {
        ip('netns', 'del', n);
      } catch {
        // not made
      }
    }
  };
  try {
    ip('netns', 'add', ns);
    ip('netns', 'add', siteNs);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', siteNs, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'add', bridge, 'type', 'bridge', 'forward_delay', '0');
    ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', bridge);
    ip('-n', ns, 'link', 'set', bridge, 'up');
    // The site's router and DHCP server, on the same segment.
    ip('-n', ns, 'link', 'add', 'to-site', 'type', 'veth', 'peer', 'name', 'site0', 'netns', siteNs);
    ip('-n', ns, 'link', 'set', 'to-site', 'master', bridge, 'up');
    ip('-n', siteNs, 'addr', 'add', `${siteAddress}/24`, 'dev', 'site0');
    ip('-n', siteNs, 'addr', 'add', 'fd77::2/64', 'dev', 'site0', 'nodad');
    ip('-n', siteNs, 'link', 'set', 'site0', 'up');
    if (o.siteDhcp !== false) dnsmasq = spawn(
      'ip',
      [
        'netns', 'exec', siteNs,
        'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--interface=site0', '--bind-interfaces', '--no-ping',
        `--dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,1h`, '--dhcp-range=fd77::,ra-only', '--enable-ra',
        // The relayed segment's addresses (relay()), its router the relay.
        '--dhcp-range=set:far,10.78.0.100,10.78.0.199,255.255.255.0,1h', '--dhcp-option=tag:far,option:router,10.78.0.1',
        // A site's DHCP names its DNS servers (debian-installer asks for them otherwise); nothing answers DNS on the segment.
        `--dhcp-option=option:router,${siteAddress}`, `--dhcp-option=option:dns-server,${siteAddress}`, `--dhcp-leasefile=${join(work, 'site.leases')}`, '--log-dhcp', `--log-facility=${log}`, '--pid-file=',
      ],
      {stdio: 'ignore'},
    );
  } catch (err) {
    close();
    throw err;
  }
  let taps = 0;
  return {
    ns,
    address,
    bridge,
    site: {ns: siteNs, address: siteAddress, log},
    tap(name: string) {
      const tap = `tap${taps++}-${name}`.slice(0, 15);
      ip('-n', ns, 'tuntap', 'add', tap, 'mode', 'tap');
      ip('-n', ns, 'link', 'set', tap, 'master', bridge, 'up');
      return tap;
    },
    exec: (argv) => ['ip', 'netns', 'exec', ns, ...argv],
    relayed() {
      const giaddr = '10.78.0.1';
      let relayTaps = 0;
      const made = {ns: relayNs, giaddr, tap(name: string) {
        const tap = `tap${relayTaps++}-${name}`.slice(0, 15);
        ip('-n', relayNs, 'tuntap', 'add', tap, 'mode', 'tap');
        ip('-n', relayNs, 'link', 'set', tap, 'master', 'br1', 'up');
        return tap;
      }};
      if (relay) return made;
      ip('netns', 'add', relayNs);
      ip('-n', relayNs, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'add', 'to-relay', 'type', 'veth', 'peer', 'name', 'up0', 'netns', relayNs);
      ip('-n', ns, 'link', 'set', 'to-relay', 'master', bridge, 'up');
      ip('-n', relayNs, 'addr', 'add', '10.77.0.3/24', 'dev', 'up0');
      ip('-n', relayNs, 'link', 'set', 'up0', 'up');
      ip('-n', relayNs, 'link', 'add', 'br1', 'type', 'bridge', 'forward_delay', '0');
      ip('-n', relayNs, 'addr', 'add', `${giaddr}/24`, 'dev', 'br1');
      ip('-n', relayNs, 'link', 'set', 'br1', 'up');
      execFileSync('ip', ['netns', 'exec', relayNs, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      // The boot segment's hosts reach the far segment through the relay.
      ip('-n', ns, 'route', 'add', '10.78.0.0/24', 'via', '10.77.0.3');
      ip('-n', siteNs, 'route', 'add', '10.78.0.0/24', 'via', '10.77.0.3');
      relay = spawn('ip', ['netns', 'exec', relayNs, 'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--interface=br1', `--dhcp-relay=${giaddr},${siteAddress}`, `--dhcp-relay=${giaddr},${address}`, '--log-dhcp', `--log-facility=${join(work, 'relay.log')}`, '--pid-file='], {stdio: 'ignore'});
      return made;
    },
    client(addr?: string, mac?: string) {
      const n = clients.length;
      const cns = `anemos-cl${n}-${id}`;
      ip('netns', 'add', cns);
      clients.push(cns);
      ip('-n', cns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'add', `to-cl${n}`, 'type', 'veth', 'peer', 'name', 'cl0', 'netns', cns);
      ip('-n', ns, 'link', 'set', `to-cl${n}`, 'master', bridge, 'up');
      if (mac) ip('-n', cns, 'link', 'set', 'cl0', 'address', mac);
      if (addr) ip('-n', cns, 'addr', 'add', `${addr}/24`, 'dev', 'cl0');
      ip('-n', cns, 'link', 'set', 'cl0', 'up');
      if (addr) ip('-n', cns, 'route', 'add', 'default', 'dev', 'cl0');
      return (argv) => ['ip', 'netns', 'exec', cns, ...argv];
    },
    close,
  };
}
