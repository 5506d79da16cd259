// anemos serve --boot --dhcp full: the only DHCP server of an isolated boot network (a lab
// segment of namespaces this test makes, with no site DHCP on it), against a real DHCP
// client (busybox udhcpc, as the deploy environment runs it) in namespaces of their own:
// every client gets an address from the range, with the mask and the lease; the clients
// anemos boots get their boot file with it; a client comes back to its own address, also
// after a restart of the server; a full range offers nothing; a request for an address
// that is not the client's is refused (NAK); a range that does not fit is refused at start.

import {execFileSync, spawnSync} from 'node:child_process';
import {chmodSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {OPTION, parseDhcp} from '../../src/core/netboot/dhcp.js';
import {ascii, dhcpRequest} from '../helpers/dhcp-request.js';
import {REPO} from '../helpers/kernel.js';
import {fakeEnvironment, startNetLab, type NetLab} from '../helpers/netlab.js';
import {CLI, makeToken, startServe, type RunningServe} from '../helpers/registry.js';

const KNOWN = '52:54:00:99:00:01';
const PLAIN = '52:54:00:99:00:02';
const STRANGER = '52:54:00:99:00:03';
const LATE = '52:54:00:99:00:04';
const RANGE = '10.77.0.150-10.77.0.152';

describe('anemos serve --dhcp full on an isolated boot network', {timeout: 180_000}, () => {
  let work: string;
  let lab: NetLab;
  let serve: RunningServe;
  let args: string[];
  let script: string;
  const clients = new Map<string, (argv: string[]) => string[]>();

  /**
   * busybox udhcpc on a bare interface with this MAC (PXE: with a PXE client's vendor class
   * and architecture): what it was given, and the address configured on cl0; undefined when
   * no server gave it a lease.
   */
  const udhcpc = (mac: string, pxe = false): Record<string, string> | undefined => {
    if (!clients.has(mac)) clients.set(mac, lab.client(undefined, mac));
    const out = join(work, `udhcpc-${mac.replace(/:/g, '')}.env`);
    writeFileSync(out, '');
    const argv = clients.get(mac)!(['env', `OUT=${out}`, 'busybox', 'udhcpc', '-i', 'cl0', '-f', '-q', '-n', '-t', '3', '-T', '1', '-s', script, ...(pxe ? ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000'] : [])]);
    const r = spawnSync(argv[0]!, argv.slice(1), {timeout: 30_000});
    if (r.status !== 0) return undefined;
    return Object.fromEntries(readFileSync(out, 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  };
  const settle = () => new Promise((r) => setTimeout(r, 500));

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'anemos-dhcp-full-'));
    lab = startNetLab(work, `f${process.pid}`, {siteDhcp: false});
    // What udhcpc was given, written out, and the address configured as it would be.
    script = join(work, 'udhcpc.script');
    writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] || [ "$1" = renew ] || exit 0\nfor v in ip subnet serverid lease siaddr boot_file router; do eval "echo $v=\\$$v"; done > "$OUT"\nbusybox ifconfig "$interface" "$ip" netmask "$subnet" up\n');
    chmodSync(script, 0o755);
    const env = fakeEnvironment(work);
    const data = join(work, 'registry');
    const admin = makeToken(data, 'admin');
    args = ['--data', data, '--boot', '--boot-interface', lab.bridge, '--boot-environment', env, '--dhcp', 'full', '--dhcp-range', RANGE, '--dhcp-lease', '120'];
    serve = await startServe(args, {wrap: lab.exec([])});
    // A machine the registry knows (registered from its own system: it boots its disk, by iPXE).
    const reported = execFileSync('ip', ['netns', 'exec', lab.ns, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `authorization: Bearer ${admin}`, '-H', 'content-type: application/json', '--data-binary', JSON.stringify({machine: {macs: [KNOWN]}}), `${serve.url}/api/v1/reports`]).toString();
    expect(reported).toBe('200');
  }, 120_000);

  afterAll(async () => {
    await serve?.stop();
    lab?.close();
  });

  it('gives any client an address from the range with the mask and the lease, one that works on the segment, and no boot file to a client it does not boot', async () => {
    const plain = udhcpc(PLAIN);
    expect(plain).toMatchObject({ip: '10.77.0.150', subnet: '255.255.255.0', serverid: lab.address, lease: '120', boot_file: '', router: ''});
    // The address is the client's now: it reaches the boot listener from it.
    const curl = clients.get(PLAIN)!(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{local_ip}', `http://${lab.address}:8067/healthz`]);
    const health = execFileSync(curl[0]!, curl.slice(1)).toString();
    expect(health).toBe('200 10.77.0.150');
    // A PXE client the registry does not know (discovery off): an address, no boot.
    expect(udhcpc(STRANGER, true)).toMatchObject({ip: '10.77.0.151', boot_file: ''});
    await settle();
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP discover from ${PLAIN}: offer 10\\.77\\.0\\.150\n`));
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP request from ${PLAIN}: ack 10\\.77\\.0\\.150 for 120 s\n`));
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP discover from ${STRANGER}: offer 10\\.77\\.0\\.151; \\(pxe, bios, port 67\\): no answer; none: ${STRANGER} is not in the registry`));
  });

  it('gives a PXE client it boots its address and its boot file (iPXE by TFTP from this server) in the same answer', () => {
    expect(udhcpc(KNOWN, true)).toMatchObject({ip: '10.77.0.152', subnet: '255.255.255.0', serverid: lab.address, siaddr: lab.address, boot_file: 'undionly.kpxe'});
  });

  it('offers nothing when the range is full, and says so; a client asking again gets its own address back', async () => {
    expect(udhcpc(LATE)).toBeUndefined();
    await settle();
    expect(serve.output()).toContain(`boot: DHCP discover from ${LATE}: no address left in ${RANGE}: no offer`);
    expect(udhcpc(PLAIN)).toMatchObject({ip: '10.77.0.150'});
  });

  it("refuses (NAK, broadcast) a request for an address that is another client's or outside the range", () => {
    const probe = lab.client('10.77.0.60');
    const request = (address: number[]) => dhcpRequest({mac: LATE, type: 3, options: [[OPTION.requestedAddress, address], [OPTION.vendorClass, ascii('udhcp 1.35.0')]]});
    const job = JSON.stringify({send: [{to: '255.255.255.255', port: 67, data: Buffer.from(request([10, 77, 0, 99])).toString('base64')}, {to: '255.255.255.255', port: 67, data: Buffer.from(request([10, 77, 0, 150])).toString('base64'), pauseMs: 300}], waitMs: 1500, listen: 68});
    const argv = probe([process.execPath, join(REPO, 'test', 'helpers', 'dhcp-probe.cjs')]);
    const got = (JSON.parse(execFileSync(argv[0]!, argv.slice(1), {input: job}).toString()) as {from: string; data: string}[]).map((g) => parseDhcp(Buffer.from(g.data, 'base64')));
    const naks = got.filter((p) => p.ok && p.value.type === 'nak').map((p) => (p.ok ? Buffer.from(p.value.options.get(OPTION.message)!).toString() : ''));
    expect(naks).toEqual(["10.77.0.99 is not in this server's range 10.77.0.150-10.77.0.152", "10.77.0.150 is another client's"]);
  });

  it('keeps its leases across a restart: each client gets its own address back', async () => {
    await serve.stop();
    const kept = JSON.parse(readFileSync(join(work, 'registry', 'boot-cache', 'dhcp-leases.json'), 'utf8')) as {mac: string; address: string}[];
    expect(kept.map((l) => [l.mac, l.address])).toEqual([[PLAIN, '10.77.0.150'], [STRANGER, '10.77.0.151'], [KNOWN, '10.77.0.152']]);
    serve = await startServe(args, {wrap: lab.exec([])});
    expect(serve.output()).toContain(`DHCP for every client in ${RANGE} (--dhcp full; 3 leases kept)`);
    expect(udhcpc(STRANGER, true)).toMatchObject({ip: '10.77.0.151'});
    expect(udhcpc(LATE)).toBeUndefined();
  });

  it('refuses to start with a range outside the boot subnet, or without one', () => {
    const start = (extra: string[]) => {
      const argv = lab.exec([process.execPath, CLI, 'serve', '--listen', '127.0.0.1:0', ...args.filter((a) => a !== '--dhcp-range' && a !== RANGE).map((a) => (a === join(work, 'registry') ? join(work, 'another') : a)), ...extra]);
      const r = spawnSync(argv[0]!, argv.slice(1), {timeout: 60_000});
      return {status: r.status, out: `${r.stdout}${r.stderr}`};
    };
    const outside = start(['--dhcp-range', '10.77.1.10-10.77.1.20']);
    expect(outside.status, outside.out).toBe(2);
    expect(outside.out).toMatch(/--dhcp-range 10\.77\.1\.10-10\.77\.1\.20 is not inside the boot interface's subnet 10\.77\.0\.0\/24/);
    const none = start([]);
    expect(none.status).toBe(2);
    expect(none.out).toMatch(/--dhcp full needs --dhcp-range START-END/);
  });
});
