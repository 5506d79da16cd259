// A factory for host facts: unit tests of the planner need no root and no host.
import type {HostFacts} from '../../src/core/host-facts.js';

export function fakeFacts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    isRoot: true,
    hostname: 'web1.example.net',
    cmdline: 'BOOT_IMAGE=/boot/vmlinuz root=UUID=1234 ro console=tty0 console=ttyS0,115200n8 quiet',
    kexec: {tool: '/usr/sbin/kexec', loadDisabled: false, lockdown: 'none', systemd: true},
    memory: {totalBytes: 1024 * 1048576, availableBytes: 800 * 1048576},
    network: {
      ok: true,
      config: {
        version: 1,
        hostname: 'web1.example.net',
        interfaces: {
          '52:54:00:12:34:56': {
            mac: '52:54:00:12:34:56',
            name: 'ens3',
            dhcp4: false,
            slaac: false,
            addresses: [{address: '203.0.113.10', prefix: 24, family: 4}],
            routes: [{to: 'default', via: '203.0.113.1', family: 4}],
          },
        },
        dns: {servers: ['203.0.113.53'], search: []},
        skipped: [],
      },
    },
    ssh: {authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests operator@laptop'], hostKeys: {ssh_host_ed25519_key: '/etc/ssh/ssh_host_ed25519_key'}},
    firmware: [],
    boot: {grubReboot: '/usr/sbin/grub-reboot', grubCfg: '/boot/grub/grub.cfg', grubCustomHook: true, bootFreeBytes: 300 * 1048576},
    ...over,
  };
}
