// anemos serve --boot against clients that are not what it boots, and against hostile ones,
// on a lab segment of network namespaces this test makes (test/helpers/netlab.ts; nothing
// on the machine's own interfaces): clients in a namespace of their own send real DHCP,
// TFTP and HTTP to the boot interface's address; the site's DHCP (dnsmasq) is on the segment.

import {execFileSync, spawn} from 'node:child_process';
import {mkdtempSync, readFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createHash} from 'node:crypto';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {OPTION, parseDhcp, type DhcpMessage} from '../../src/core/netboot/dhcp.js';
import {ascii, dhcpRequest} from '../helpers/dhcp-request.js';
import {fakeEnvironment, startNetLab, type NetLab} from '../helpers/netlab.js';
import {prng} from '../helpers/prng.js';
import {REPO} from '../helpers/kernel.js';
import {CLI, makeToken, startServe, type RunningServe} from '../helpers/registry.js';
import {magicPacket} from '../../src/core/netboot/wol.js';
import {Vm} from '../helpers/qemu.js';
import {openEmbedded} from '../../src/adapters/db.js';
import {Registry} from '../../src/services/registry/registry.js';
import {BootService} from '../../src/services/netboot/boot-service.js';

const KNOWN = '52:54:00:88:00:01';
const UNKNOWN = '52:54:00:88:00:02';
const PXE: [number, number[]][] = [
  [OPTION.vendorClass, ascii('PXEClient:Arch:00000:UNDI:002001')],
  [OPTION.clientArch, [0, 0]],
];
const IPXE: [number, number[]][] = [...PXE, [OPTION.userClass, ascii('iPXE')]];

describe('anemos serve --boot on a lab segment', {timeout: 180_000}, () => {
  let work: string;
  let lab: NetLab;
  let client: (argv: string[]) => string[];
  let serve: RunningServe;
  let admin: string;

  const run = (argv: string[], input?: string, env?: Record<string, string>) => execFileSync(argv[0]!, argv.slice(1), {input, maxBuffer: 64 * 1024 * 1024, env: {...process.env, ...env}});

  /** Datagrams sent from the client's namespace; what came back from anemos' address (the site's DHCP answers too). */
  const exchange = (send: {to: string; port: number; data: Uint8Array; pauseMs?: number}[], waitMs = 1500, listen = 68): {from: string; message?: DhcpMessage}[] => {
    const job = JSON.stringify({send: send.map((p) => ({...p, data: Buffer.from(p.data).toString('base64')})), waitMs, listen});
    const got = JSON.parse(run(client([process.execPath, join(REPO, 'test', 'helpers', 'dhcp-probe.cjs')]), job).toString()) as {from: string; data: string}[];
    return got.map((g) => {
      const r = parseDhcp(Buffer.from(g.data, 'base64'));
      return {from: g.from, ...(r.ok ? {message: r.value} : {})};
    });
  };
  /** The probes run synchronously: let the test process read what anemos serve printed meanwhile. */
  const settle = () => new Promise((r) => setTimeout(r, 500));
  const fromAnemos = (answers: {from: string; message?: DhcpMessage}[]) => answers.filter((a) => a.from === lab.address);
  const broadcast = (data: Uint8Array) => ({to: '255.255.255.255', port: 67, data});

  /** curl from the client's namespace: status and body. */
  const curl = (url: string, extra: string[] = []): {status: number; body: Buffer} => {
    const out = run(client(['curl', '-s', '--path-as-is', '-o', '-', '-w', '\n%{http_code}', ...extra, url]));
    const nl = out.lastIndexOf(10);
    return {status: Number(out.subarray(nl + 1).toString()), body: out.subarray(0, nl)};
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'anemos-boot-services-'));
    lab = startNetLab(work, `s${process.pid}`);
    client = lab.client('10.77.0.50');
    // A deploy environment of two small files: this test boots nothing.
    const env = fakeEnvironment(work);
    const data = join(work, 'registry');
    admin = makeToken(data, 'admin');
    serve = await startServe(['--data', data, '--boot', '--boot-interface', lab.bridge, '--boot-environment', env], {wrap: lab.exec([])});
    // A machine registered from its own system (an operator's report): it boots its disk.
    const report = JSON.stringify({machine: {macs: [KNOWN]}});
    // explain on a server that boots machines without discovery says so.
    const explained = JSON.parse(run(lab.exec([process.execPath, CLI, 'machines', 'explain', UNKNOWN, '--registry', serve.url, '--json']), undefined, {ANEMOS_REGISTRY_TOKEN: admin}).toString());
    expect(explained).toMatchObject({served: true, discover: false, boot: 'none', rule: `${UNKNOWN} is not in the registry and discovery is off (anemos serve --discover): no answer`});
    const reported = run(lab.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `authorization: Bearer ${admin}`, '-H', 'content-type: application/json', '--data-binary', report, `${serve.url}/api/v1/reports`])).toString();
    expect(reported).toBe('200');
  }, 180_000);

  afterAll(async () => {
    await serve?.stop();
    lab?.close();
  });

  it('answers a PXE client it knows with iPXE by TFTP and iPXE with the script URL, on 67 and 4011, and gives no address', () => {
    const answers = fromAnemos(exchange([broadcast(dhcpRequest({mac: KNOWN, options: PXE}))]));
    expect(answers).toHaveLength(1);
    expect(answers[0]!.message).toMatchObject({op: 'reply', type: 'offer', chaddr: KNOWN, yiaddr: '0.0.0.0', siaddr: lab.address, file: 'undionly.kpxe'});
    const ack = fromAnemos(exchange([{to: lab.address, port: 4011, data: dhcpRequest({mac: KNOWN, type: 3, options: PXE, ciaddr: [10, 77, 0, 50]})}]));
    expect(ack.map((a) => a.message?.type)).toEqual(['ack']);
    const script = fromAnemos(exchange([broadcast(dhcpRequest({mac: KNOWN, options: IPXE}))]));
    expect(new TextDecoder().decode(script[0]!.message!.options.get(OPTION.bootfile))).toBe(`http://${lab.address}:8067/boot/ipxe?mac=${KNOWN}&firmware=bios`);
    // TFTP serves iPXE itself, on the boot address, and only from its directory.
    expect(createHash('sha256').update(run(client(['curl', '-s', `tftp://${lab.address}/undionly.kpxe`]))).digest('hex')).toBe(createHash('sha256').update(readFileSync('/usr/lib/ipxe/undionly.kpxe')).digest('hex'));
    expect(() => run(client(['curl', '-sf', `tftp://${lab.address}/../../etc/passwd`]))).toThrow();
  });

  it('answers through a DHCP relay: a request a relay forwards (giaddr) is answered to the relay, on 67', () => {
    // The client namespace plays the relay agent of another segment: it forwards from 67 to the boot address.
    const relayed = fromAnemos(exchange([{to: lab.address, port: 67, data: dhcpRequest({mac: KNOWN, options: PXE, giaddr: [10, 77, 0, 50], xid: 0x4242, broadcast: false})}], 1500, 67));
    expect(relayed.map((a) => [a.message?.type, a.message?.xid, a.message?.giaddr, a.message?.file])).toEqual([['offer', 0x4242, '10.77.0.50', 'undionly.kpxe']]);
    // With the broadcast flag, though the client did not set it: an answer with no address reaches the client only as a
    // broadcast, and a relay would unicast it to yiaddr (0) otherwise (what a VM behind dnsmasq's relay showed).
    expect(relayed[0]!.message!.broadcast).toBe(true);
  });

  it('wakes a machine: anemos machines wake has the registry broadcast its magic packet on the boot segment, and audits it', async () => {
    // A NIC armed for Wake-on-LAN, as the client namespace hears the segment (port 9).
    const probeArgv = client([process.execPath, join(REPO, 'test', 'helpers', 'dhcp-probe.cjs')]);
    const probe = spawn(probeArgv[0]!, probeArgv.slice(1));
    let heard = '';
    probe.stdout.on('data', (d) => (heard += d));
    probe.stdin.end(JSON.stringify({send: [], waitMs: 4000, listen: 9}));
    const done = new Promise((r) => probe.on('exit', r));
    await new Promise((r) => setTimeout(r, 1000));
    const argv = lab.exec([process.execPath, CLI, 'machines', 'wake', KNOWN, '--registry', serve.url, '--json']);
    const said = JSON.parse(run(argv, undefined, {ANEMOS_REGISTRY_TOKEN: admin}).toString());
    expect(said).toMatchObject({macs: [KNOWN], packets: 3});
    await done;
    const packets = (JSON.parse(heard) as {from: string; data: string}[]).filter((p) => p.from === lab.address).map((p) => Buffer.from(p.data, 'base64'));
    expect(packets).toHaveLength(3);
    for (const p of packets) expect(p).toEqual(Buffer.from(magicPacket(KNOWN)));
    const audit = run(lab.exec(['curl', '-s', '-H', `authorization: Bearer ${admin}`, `${serve.url}/api/v1/audit?action=machine%20woken`])).toString();
    expect(JSON.parse(audit).audit.map((e: {detail: {macs: string[]}}) => e.detail.macs)).toEqual([[KNOWN]]);
  });

  it('says nothing to a DHCP client that is not booting from the network, nor to a PXE client it does not know (discovery off); the site DHCP answers both', async () => {
    const plain = exchange([broadcast(dhcpRequest({mac: UNKNOWN, options: [[OPTION.vendorClass, ascii('udhcp 1.35.0')]]}))], 2000);
    expect(fromAnemos(plain)).toEqual([]);
    expect(plain.some((a) => a.from === lab.site.address && a.message?.type === 'offer')).toBe(true);
    const stranger = exchange([broadcast(dhcpRequest({mac: UNKNOWN, options: PXE}))], 2000);
    expect(fromAnemos(stranger)).toEqual([]);
    expect(stranger.some((a) => a.from === lab.site.address)).toBe(true);
    await settle();
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP discover from ${UNKNOWN} \\(pxe, bios, port 67\\): no answer; none: ${UNKNOWN} is not in the registry and discovery is off`));
  });

  it("a machine it does not know (discovery off), booting for real: its firmware's iPXE gets an address from the site and nothing from anemos, and goes on to its disk", async () => {
    const stranger = '52:54:00:88:00:03';
    const disk = join(work, 'stranger.raw');
    execFileSync('truncate', ['-s', '64M', disk]);
    const vm = new Vm({memoryMb: 256, serialLog: join(work, 'stranger.serial.log'), disks: [disk], mac: stranger, tap: {netns: lab.ns, ifname: lab.tap('stranger')}});
    try {
      // SeaBIOS with the NIC's iPXE ROM: network first, then the (blank) disk.
      await vm.waitFor(/Booting from Hard Disk/, 120_000, 0);
      expect(vm.log().indexOf('iPXE')).toBeGreaterThanOrEqual(0);
      expect(vm.log().indexOf('iPXE')).toBeLessThan(vm.log().indexOf('Booting from Hard Disk'));
    } finally {
      vm.kill();
    }
    expect(readFileSync(lab.site.log, 'utf8')).toMatch(new RegExp(`DHCPACK\\(site0\\) \\S+ ${stranger}`));
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP discover from ${stranger} \\(ipxe, bios, port 67\\): no answer; none: ${stranger} is not in the registry and discovery is off`));
    expect(serve.output()).not.toMatch(new RegExp(`GET /boot/ipxe\\?mac=${stranger}`));
  });

  it('survives 3000 hostile datagrams on 67, 4011 and 69 and goes on answering', async () => {
    const rand = prng(25);
    const bytes = (n: number) => Uint8Array.from({length: n}, () => rand.int(256));
    const valid = dhcpRequest({mac: KNOWN, options: PXE});
    const kinds = [
      () => bytes(rand.int(600)),
      // A request cut short, or with an option that runs past the end.
      () => valid.subarray(0, rand.int(valid.length)),
      () => Uint8Array.from([...valid.subarray(0, valid.length - 1), OPTION.vendorClass, 200, ...ascii('PXEClient')]),
      // Long, repeated and overloaded options.
      () => dhcpRequest({mac: KNOWN, options: Array.from({length: 40}, () => [OPTION.vendorClass, Array.from(bytes(255))] as [number, number[]])}),
      () => dhcpRequest({mac: KNOWN, options: [...PXE, [OPTION.overload, [3]]], overloadFile: Array.from(bytes(128))}),
    ];
    const send = Array.from({length: 3000}, (_, i) => {
      const port = [67, 4011, 69][i % 3]!;
      return {to: port === 67 ? '255.255.255.255' : lab.address, port, data: port === 69 ? Uint8Array.from([0, 1, ...bytes(rand.int(300))]) : kinds[rand.int(kinds.length)]!()};
    });
    exchange(send, 500);
    const after = fromAnemos(exchange([broadcast(dhcpRequest({mac: KNOWN, options: PXE, xid: 0x1234}))]));
    expect(after.map((a) => [a.message?.xid, a.message?.file])).toEqual([[0x1234, 'undionly.kpxe']]);
    await settle();
    // Its output was read (the request log of the answer above is in it), and holds no failure.
    expect(serve.output()).toMatch(new RegExp(`boot: DHCP discover from ${KNOWN} \\(pxe, bios, port 67\\): iPXE`));
    expect(serve.output()).not.toMatch(/^error|DHCP request from .* not answered/m);
    expect(serve.child.exitCode).toBe(null);
  });

  it('its boot listener serves the scripts and nothing of the API, and no machine segment without its signed link', () => {
    const base = `http://${lab.address}:8067`;
    const script = curl(`${base}/boot/ipxe?mac=${KNOWN}&firmware=bios`);
    expect(script.status).toBe(200);
    expect(script.body.toString()).toBe(`#!ipxe\necho anemos: mac-525400880001 (${KNOWN}) is new; registered from its own system, it boots its disk until it is ready with a desired deployment\nsanboot --no-describe --drive 0x80 || exit 1\n`);
    // The API and the UI are not on the boot network, even with a valid token.
    expect(curl(`${base}/api/v1/machines`, ['-H', `authorization: Bearer ${admin}`]).status).toBe(404);
    expect(curl(`${base}/`).status).toBe(404);
    expect(curl(`${base}/boot/m/dep-x/9999999999/${'A'.repeat(43)}/machine.img`).status).toBe(404);
    expect(curl(`${base}/boot/next/525400880001/9999999999/${'A'.repeat(43)}`).status).toBe(404);
    expect(curl(`${base}/boot/payload/${'0'.repeat(64)}.img`).status).toBe(404);
    expect(curl(`${base}/boot/sha256/${'0'.repeat(64)}`).status).toBe(404);
    expect(curl(`${base}/boot/env/../../../../etc/passwd`).status).toBe(404);
    expect(curl(`${base}/boot/ipxe?mac=../../x`).status).toBe(400);
    expect(curl(`${base}/boot/env/vmlinuz`, ['-X', 'POST']).status).toBe(405);
    expect(curl(`${base}/boot/env/vmlinuz`).body.toString()).toBe('kernel');
  });
});

describe('the boot service when the registry cannot decide', () => {
  it('gives iPXE a script that waits and asks again, not an error or a hang', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-boot-down-'));
    const registry = await Registry.open(await openEmbedded(join(dir, 'registry')));
    const file = {path: join(dir, 'x'), size: 0, sha256: '0'.repeat(64)};
    const lines: string[] = [];
    const service = new BootService({registry, address: '192.0.2.1', httpBase: 'http://192.0.2.1:8067', discover: true, kernel: file, base: file, cacheDir: dir, cmdline: '', authorizedKeys: [], cliVersion: 'test', log: (l) => lines.push(l)});
    // The database goes away under the running service.
    await registry.db.close();
    let status = 0;
    let body = '';
    const res = {
      headersSent: false,
      destroyed: false,
      writeHead(s: number) {
        status = s;
      },
      end(b: string) {
        body = b;
      },
    };
    await service.handle({method: 'GET'} as never, res as never, new URL(`http://x/boot/ipxe?mac=${KNOWN}&firmware=bios`), () => undefined);
    expect(status).toBe(200);
    expect(body).toBe(`#!ipxe\necho anemos: the registry could not decide now; asking again in 10 s\nsleep 10\nchain --replace http://192.0.2.1:8067/boot/ipxe?mac=${KNOWN}&firmware=bios || exit 1\n`);
    expect(lines.join('\n')).toMatch(/the registry could not decide/);
    // And a DHCP request meanwhile is answered (iPXE's script then waits), not dropped.
    const parsed = parseDhcp(dhcpRequest({mac: KNOWN, options: IPXE}));
    if (!parsed.ok) throw new Error(parsed.error);
    const offer = await service.answerDhcp(parsed.value, {address: '0.0.0.0', port: 68}, 'dhcp');
    expect(offer?.file).toBe(`http://192.0.2.1:8067/boot/ipxe?mac=${KNOWN}&firmware=bios`);
  });
});
