// Boot QEMU (TCG: KVM does not work on this machine) with the serial console in a file,
// and wait for a sentinel line or the VM's exit. No sentinel = failure; the serial log is
// kept next to the test's work directory for the post-mortem.

import {spawn, type ChildProcess} from 'node:child_process';
import {copyFileSync, existsSync, readFileSync} from 'node:fs';
import {connect} from 'node:net';
import {parseKernelLog, shutdownSeconds} from '../../src/core/boot-timeline.js';
import {QEMU_CPU} from '../../src/core/qemu-target.js';

export interface QemuOptions {
  kernel?: string;
  initrd?: string;
  append?: string;
  memoryMb?: number;
  serialLog: string;
  /** Raw disk images attached as virtio disks. */
  disks?: string[];
  /** hostfwd rules for user networking, e.g. "tcp:127.0.0.1:2222-:22". */
  hostfwd?: string[];
  mac?: string;
  /** Extra -netdev user options (e.g. "ipv6-net=2001:db8:5::/64"). */
  netOptions?: string[];
  /**
   * NICs beside the first on the same user network, through a QEMU hub (every NIC sees every
   * frame, as two ports on one switch would): the second NIC of a bond. Device ids nic0, nic1...
   * for Vm.setLink.
   */
  hubMacs?: string[];
  /** More NICs, each on a user network of its own: its MAC, -netdev user options and hostfwd rules. */
  moreNics?: {mac: string; netOptions?: string[]; hostfwd?: string[]}[];
  extra?: string[];
  /** Exit instead of rebooting (default true); a VM that must reboot into its disk sets false. */
  noReboot?: boolean;
  /**
   * Boot by UEFI (OVMF, Debian's ovmf package) with this file as the firmware's variable
   * store (NVRAM): copied from OVMF's empty store when it does not exist, kept across reboots.
   */
  uefiVars?: string;
  /**
   * With uefiVars: Secure Boot on, Microsoft's keys enrolled (OVMF's secboot firmware and
   * ms variable store), on the q35 machine with SMM, which that firmware needs.
   */
  secureBoot?: boolean;
  /** A QEMU monitor (HMP) on this Unix socket, for Vm.monitor (a cable pulled with set_link). */
  monitor?: string;
  /**
   * The NIC on a tap device of a network namespace the test made (test/helpers/netlab.ts),
   * instead of user networking: QEMU runs inside that namespace. Firmware boots from it
   * (network first), with the NIC's iPXE ROM (ipxe-qemu) unless romfile is "" (OVMF's own PXE).
   */
  tap?: {netns: string; ifname: string; romfile?: string};
  /** SMBIOS type 1 serial number (what the inventory reads as the system serial). */
  serial?: string;
}

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
export const OVMF_CODE_SECBOOT = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
export const OVMF_VARS_MS = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';

export function qemuArgs(o: QemuOptions): string[] {
  const args = ['-accel', 'tcg', '-cpu', QEMU_CPU, '-smp', '1', '-m', String(o.memoryMb ?? 512), '-nographic', ...(o.noReboot === false ? [] : ['-no-reboot']), '-serial', `file:${o.serialLog}`, '-monitor', o.monitor ? `unix:${o.monitor},server=on,wait=off` : 'none'];
  if (o.kernel) args.push('-kernel', o.kernel);
  if (o.initrd) args.push('-initrd', o.initrd);
  if (o.append) args.push('-append', o.append);
  (o.disks ?? []).forEach((d, i) =>
    // On a boot network the first disk comes after the NIC in the boot order: OVMF connects
    // only what the order names, and a disk it has not connected cannot be booted after iPXE.
    o.tap ? args.push('-drive', `file=${d},format=raw,if=none,id=disk${i},cache=unsafe`, '-device', `virtio-blk-pci,drive=disk${i}${i === 0 ? ',bootindex=2' : ''}`) : args.push('-drive', `file=${d},format=raw,if=virtio,index=${i},cache=unsafe`),
  );
  const fwd = (o.hostfwd ?? []).map((f) => `,hostfwd=${f}`).join('');
  const more = (o.netOptions ?? []).map((x) => `,${x}`).join('');
  if (o.serial) args.push('-smbios', `type=1,serial=${o.serial}`);
  if (o.tap) {
    // QEMU 7.2's virtio-net-pci presents 1af4:1000 and Debian's ROM declares 1af4:1041: without
    // disable-legacy SeaBIOS skips the ROM silently (DESIGN.md §6). SeaBIOS and iPXE print on
    // the serial console only without graphics.
    if (!o.uefiVars) args.push('-machine', 'pc,graphics=off');
    // Network first (bootindex), then the disk: as a rack's machines are set up to boot.
    args.push('-netdev', `tap,id=n0,ifname=${o.tap.ifname},script=no,downscript=no`, '-device', `virtio-net-pci,id=nic0,netdev=n0,disable-legacy=on,bootindex=1${o.mac ? `,mac=${o.mac}` : ''}${o.tap.romfile !== undefined ? `,romfile=${o.tap.romfile}` : ''}`);
  } else {
    args.push('-netdev', `user,id=n0${more}${fwd}`);
  }
  if (o.tap) {
    // its NIC is the tap's, above
  } else if (o.hubMacs?.length) {
    args.push('-netdev', 'hubport,id=hub-up,hubid=0,netdev=n0');
    [o.mac, ...o.hubMacs].forEach((mac, i) => args.push('-netdev', `hubport,id=hub${i},hubid=0`, '-device', `virtio-net-pci,id=nic${i},netdev=hub${i}${mac ? `,mac=${mac}` : ''}`));
  } else {
    args.push('-device', `virtio-net-pci,id=nic0,netdev=n0${o.mac ? `,mac=${o.mac}` : ''}`);
  }
  (o.moreNics ?? []).forEach((n, i) => {
    const opts = [...(n.netOptions ?? []), ...(n.hostfwd ?? []).map((f) => `hostfwd=${f}`)].map((x) => `,${x}`).join('');
    args.push('-netdev', `user,id=n${i + 1}${opts}`, '-device', `virtio-net-pci,netdev=n${i + 1},mac=${n.mac}`);
  });
  if (o.uefiVars) {
    if (!existsSync(o.uefiVars)) copyFileSync(o.secureBoot ? OVMF_VARS_MS : OVMF_VARS, o.uefiVars);
    if (o.secureBoot) args.push('-machine', 'q35,smm=on', '-global', 'driver=cfi.pflash01,property=secure,value=on');
    args.push('-drive', `if=pflash,format=raw,readonly=on,file=${o.secureBoot ? OVMF_CODE_SECBOOT : OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${o.uefiVars}`);
  }
  args.push(...(o.extra ?? []));
  return args;
}

/** Where a log in the run's scratch directory is kept after the run (test/global-scratch.ts keeps every *.log). */
export function keptPath(path: string): string {
  const scratch = process.env.ANEMOS_TEST_SCRATCH;
  const kept = process.env.ANEMOS_TEST_LOGS;
  return scratch && kept && path.startsWith(`${scratch}/`) ? `${kept}/${path.slice(scratch.length + 1)}` : path;
}

export class Vm {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  constructor(readonly opts: QemuOptions) {
    const argv = ['qemu-system-x86_64', ...qemuArgs(opts)];
    if (opts.tap) argv.unshift('ip', 'netns', 'exec', opts.tap.netns);
    this.proc = spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'ignore', 'pipe']});
    let stderr = '';
    this.proc.stderr!.on('data', (d) => (stderr += d));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
    this.exited.then((code) => {
      if (code !== 0 && stderr) process.stderr.write(`qemu exited ${code}: ${stderr}\n`);
    });
  }

  /** Where the serial log will be after the run. */
  keptLog(): string {
    return keptPath(this.opts.serialLog);
  }

  log(): string {
    return existsSync(this.opts.serialLog) ? readFileSync(this.opts.serialLog, 'utf8') : '';
  }

  /** Wait until the serial log matches; throws with the log tail on timeout or VM exit. */
  async waitFor(pattern: RegExp, timeoutMs: number, fromOffset = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    this.exited.then(() => (exited = true));
    for (;;) {
      const m = this.log().slice(fromOffset).match(pattern);
      if (m) return m;
      if (exited) throw new Error(`VM exited before ${pattern}; serial log (kept after the run) ${this.keptLog()}, its end:\n${this.log().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${pattern}; serial log (kept after the run) ${this.keptLog()}, its end:\n${this.log().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async waitExit(timeoutMs: number): Promise<number | null> {
    const t = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs));
    const r = await Promise.race([this.exited, t]);
    if (r === 'timeout') {
      this.kill();
      throw new Error(`VM did not exit within ${timeoutMs} ms; serial log (kept after the run) ${this.keptLog()}, its end:\n${this.log().slice(-3000)}`);
    }
    return r;
  }

  /** One HMP command on the monitor socket (QemuOptions.monitor); resolves with what QEMU answered. */
  monitor(command: string): Promise<string> {
    const path = this.opts.monitor;
    if (!path) throw new Error('the VM was started without a monitor socket (QemuOptions.monitor)');
    return new Promise((resolve, reject) => {
      let out = '';
      const sock = connect(path);
      sock.on('data', (d) => {
        out += d;
        // The banner ends in a prompt; the command's answer ends in the next one.
        if (out.split('(qemu) ').length === 2) sock.write(`${command}\n`);
        else if (out.split('(qemu) ').length > 2) sock.end();
      });
      sock.on('error', reject);
      sock.on('close', () => resolve(out));
    });
  }

  /** A NIC's cable plugged in or pulled (nic0 is the first NIC, nic1 the next on the hub). */
  async setLink(nic: string, up: boolean): Promise<void> {
    await this.monitor(`set_link ${nic} ${up ? 'on' : 'off'}`);
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/**
 * Where a kexec's time went, from the serial log of a deploy (the slice from before
 * `anemos deploy` to DEPLOY SUCCEEDED): the provider's shutdown in the old kernel's clock
 * (from the host's "anemos: handing over" to kexec), then each stage of the deploy
 * environment since its kernel started (the agent's "boot:" lines). For the e2e timings.
 */
export function kexecTimeline(log: string): Record<string, number> {
  const out: Record<string, number> = {};
  const shutdown = shutdownSeconds(log);
  if (shutdown !== undefined) out['kexec: provider shutdown'] = shutdown;
  const newKernel = log.slice(Math.max(0, log.indexOf('kexec_core: Starting new kernel')));
  const t = parseKernelLog(newKernel.replace(/\r/g, ''));
  const agent = log.match(/boot: since the kernel started: .*\bagent (\d+\.\d+) s/)?.[1];
  const network = log.match(/boot: network up and checked (\d+\.\d+) s after the kernel started/)?.[1];
  const marks: [string, number | undefined][] = [
    ['kexec: kernel → initramfs unpacked', t.initramfsEnd],
    ['kexec: kernel → /init', t.init],
    ['kexec: kernel → drivers loaded', t.drivers],
    ['kexec: kernel → agent', agent === undefined ? undefined : Number(agent)],
    ['kexec: kernel → network checked', network === undefined ? undefined : Number(network)],
  ];
  for (const [name, value] of marks) if (value !== undefined) out[name] = Number(value.toFixed(2));
  return out;
}
