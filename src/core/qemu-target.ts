// "--qemu": run the deploy environment in a local VM instead of on this host, so a
// payload can be tried on a laptop. The VM gets QEMU's user network, written as a
// static configuration like a VPS's, and the facts of a well-behaved host.

import type {HostFacts} from './host-facts.js';
import type {NetworkConfig} from './network.js';

export const QEMU_GUEST_MAC = '52:54:00:a7:e0:05';

export function qemuNetwork(hostname: string, o: {mac?: string; gateway?: string} = {}): NetworkConfig {
  const mac = o.mac ?? QEMU_GUEST_MAC;
  return {
    version: 1,
    hostname,
    interfaces: {
      [mac]: {
        mac,
        name: 'eth0',
        dhcp4: false,
        slaac: false,
        addresses: [{address: '10.0.2.15', prefix: 24, family: 4}],
        routes: [{to: 'default', via: o.gateway ?? '10.0.2.2', family: 4}],
      },
    },
    dns: {servers: ['10.0.2.3'], search: []},
    skipped: [],
  };
}

/** Facts for a local VM: the operator's keys; no host keys to carry. */
export function qemuFacts(hostname: string, authorizedKeys: string[], memoryMb: number): HostFacts {
  return {
    isRoot: false,
    hostname,
    cmdline: 'console=ttyS0,115200',
    kexec: {loadDisabled: false, lockdown: 'none', systemd: false},
    memory: {totalBytes: memoryMb * 1048576, availableBytes: memoryMb * 1048576},
    network: {ok: true, config: qemuNetwork(hostname)},
    ssh: {authorizedKeys, hostKeys: {}},
    firmware: [],
    boot: {grubCustomHook: false},
  };
}

/**
 * The guest CPU for every VM we start. QEMU 7.2's TCG (Debian 12) corrupts the guest's
 * state around CMPXCHG16B now and then: Debian 13's kernel, whose SLUB allocator uses it,
 * panicked in __kmalloc during early boot in 17 of 180 boots with cx16 and 0 of 240
 * without (bench/qemu-cpu.sh). Without cx16 the kernel takes its plain locked path; KVM
 * guests lose nothing that matters for a deploy environment.
 */
export const QEMU_CPU = 'max,cx16=off';

export interface QemuRun {
  kernel: string;
  initrd: string;
  cmdline: string;
  memoryMb: number;
  sshPort: number;
  disk?: string;
  accel: string;
}

/** The QEMU command line: serial console on this terminal, SSH forwarded on loopback. */
export function planQemuArgs(r: QemuRun): string[] {
  return [
    '-accel',
    r.accel,
    '-cpu',
    QEMU_CPU,
    '-m',
    String(r.memoryMb),
    '-nographic',
    '-no-reboot',
    '-kernel',
    r.kernel,
    '-initrd',
    r.initrd,
    '-append',
    r.cmdline,
    ...(r.disk ? ['-drive', `file=${r.disk},format=raw,if=virtio`] : []),
    '-netdev',
    `user,id=n0,hostfwd=tcp:127.0.0.1:${r.sshPort}-:22`,
    '-device',
    `virtio-net-pci,netdev=n0,mac=${QEMU_GUEST_MAC}`,
  ];
}
