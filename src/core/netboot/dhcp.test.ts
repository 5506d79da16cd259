import {execFileSync} from 'node:child_process';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {prng} from '../../../test/helpers/prng.js';
import {ascii, dhcpRequest} from '../../../test/helpers/dhcp-request.js';
import {encodeDhcp, OPTION, parseDhcp, text, type DhcpMessage} from './dhcp.js';
import {bootDecision, installerRefused, type BootRecord} from './boot-decision.js';
import {classifyRequest, ipxeBinary, proxyAnswer, type BootRequest} from './pxe.js';

const MAC = '52:54:00:12:34:56';

const request = (o: Parameters<typeof dhcpRequest>[0] = {}) => dhcpRequest({mac: MAC, ...o});
const PXE_BIOS: [number, number[]][] = [
  [OPTION.vendorClass, ascii('PXEClient:Arch:00000:UNDI:002001')],
  [OPTION.clientArch, [0, 0]],
  [OPTION.clientUuid, [0, ...Array.from({length: 16}, (_, i) => i)]],
  [OPTION.parameterList, [1, 3, 6, 43, 60, 66, 67]],
];
const parsed = (b: Uint8Array): DhcpMessage => {
  const r = parseDhcp(b);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe('DHCP messages', () => {
  it('reads a PXE discover: header, client MAC, broadcast flag, options by code', () => {
    const m = parsed(request({options: PXE_BIOS}));
    expect(m).toMatchObject({op: 'request', type: 'discover', xid: 0xdeadbeef, broadcast: true, chaddr: MAC, ciaddr: '0.0.0.0', file: '', sname: ''});
    expect(new TextDecoder().decode(m.options.get(OPTION.vendorClass))).toBe('PXEClient:Arch:00000:UNDI:002001');
  });

  it('joins a repeated option (RFC 3396) and reads options carried in the file field (overload, option 52)', () => {
    const m = parsed(request({options: [[OPTION.vendorClass, ascii('PXECl')], [OPTION.vendorClass, ascii('ient')], [OPTION.overload, [1]]], overloadFile: [OPTION.userClass, 4, ...ascii('iPXE'), 255]}));
    expect(new TextDecoder().decode(m.options.get(OPTION.vendorClass))).toBe('PXEClient');
    expect(new TextDecoder().decode(m.options.get(OPTION.userClass))).toBe('iPXE');
    expect(m.file).toBe('');
  });

  it('names what is wrong with a datagram that is not a request it can read', () => {
    const err = (b: Uint8Array) => {
      const r = parseDhcp(b);
      return r.ok ? 'parsed' : r.error;
    };
    expect(err(new Uint8Array(100))).toMatch(/shorter than a DHCP message/);
    expect(err(new Uint8Array(2000))).toMatch(/longer than any DHCP message/);
    expect(err(request({op: 7}))).toMatch(/op 7/);
    expect(err(request({tail: [OPTION.vendorClass, 200, 1, 2]}))).toMatch(/option 60 says 200 bytes, 2 are left/);
    expect(err(request({tail: [OPTION.vendorClass]}))).toMatch(/option 60 has no length/);
    expect(err(request({type: 42}))).toMatch(/message type 42/);
    const noCookie = request();
    noCookie[236] = 0;
    expect(err(noCookie)).toMatch(/magic cookie/);
  });

  it('survives thousands of mutated and random datagrams: an error value each time, never an exception', () => {
    const rand = prng(0x2545f491).int;
    const base = request({options: PXE_BIOS});
    let ok = 0;
    for (let i = 0; i < 5000; i++) {
      let b: Uint8Array;
      if (i % 5 === 0) b = Uint8Array.from({length: rand(1600)}, () => rand(256));
      else {
        b = base.slice(0, 236 + 4 + rand(base.length - 236));
        for (let k = 0; k < 1 + rand(8); k++) b[236 + 4 + rand(Math.max(1, b.length - 240))] = rand(256);
      }
      const r = parseDhcp(b);
      if (r.ok) {
        ok++;
        // Whatever was read is classified without an exception too.
        classifyRequest(r.value);
      } else expect(typeof r.error).toBe('string');
    }
    expect(ok).toBeGreaterThan(0);
  });

  it('writes replies it reads back the same, a long option split in 255-byte pieces', () => {
    const req = parsed(request({options: PXE_BIOS}));
    const long = 'x'.repeat(600);
    const bytes = encodeDhcp({type: 'offer', to: req, siaddr: '192.0.2.1', file: 'undionly.kpxe', options: [[OPTION.serverId, Uint8Array.of(192, 0, 2, 1)], [OPTION.bootfile, text(long)]]});
    expect(bytes.length).toBeGreaterThanOrEqual(300);
    const back = parsed(bytes);
    expect(back).toMatchObject({op: 'reply', type: 'offer', xid: 0xdeadbeef, chaddr: MAC, siaddr: '192.0.2.1', yiaddr: '0.0.0.0', file: 'undionly.kpxe', broadcast: true});
    expect(new TextDecoder().decode(back.options.get(OPTION.bootfile))).toBe(long);
  });
});

describe('PXE clients and the proxyDHCP answer', () => {
  const classify = (options: [number, number[]][], type = 1) => classifyRequest(parsed(request({options, type})));

  it('tells firmware PXE, iPXE and UEFI HTTP Boot apart, with the architecture from option 93', () => {
    expect(classify(PXE_BIOS)).toEqual({boot: {mac: MAC, client: 'pxe', firmware: 'bios', arch: 0, type: 'discover', uuid: '000102030405060708090a0b0c0d0e0f'}});
    expect(classify([[OPTION.vendorClass, ascii('PXEClient:Arch:00007:UNDI:003016')], [OPTION.clientArch, [0, 7]]])).toMatchObject({boot: {client: 'pxe', firmware: 'uefi', arch: 7}});
    // iPXE already: its user class (or its option 175) says so, whatever the firmware.
    expect(classify([...PXE_BIOS, [OPTION.userClass, ascii('iPXE')]], 3)).toMatchObject({boot: {client: 'ipxe', firmware: 'bios', type: 'request'}});
    expect(classify([[OPTION.vendorClass, ascii('PXEClient:Arch:00007')], [OPTION.clientArch, [0, 7]], [OPTION.ipxeEncapsulated, [1, 1, 1]]])).toMatchObject({boot: {client: 'ipxe', firmware: 'uefi'}});
    expect(classify([[OPTION.vendorClass, ascii('HTTPClient:Arch:00016:UNDI:003001')], [OPTION.clientArch, [0, 16]]])).toMatchObject({boot: {client: 'http-boot', firmware: 'uefi', arch: 16}});
  });

  it('leaves alone a client that is not booting from the network, an architecture it has nothing for, and answers', () => {
    expect(classify([[OPTION.vendorClass, ascii('MSFT 5.0')]])).toEqual({ignore: 'vendor class "MSFT 5.0": not a network boot'});
    expect(classify([])).toEqual({ignore: 'no vendor class: not a network boot'});
    expect(classify([[OPTION.vendorClass, ascii('PXEClient:Arch:00011')], [OPTION.clientArch, [0, 11]]])).toMatchObject({ignore: expect.stringMatching(/architecture 11/)});
    expect(classify(PXE_BIOS, 4)).toMatchObject({ignore: 'a decline, not a discover or request'});
  });

  const server = {address: '192.0.2.1', httpBase: 'http://192.0.2.1:8080'};
  const answer = (options: [number, number[]][], type = 1) => {
    const m = parsed(request({options, type}));
    const c = classifyRequest(m);
    if (!('boot' in c)) throw new Error(c.ignore);
    return parsed(encodeDhcp(proxyAnswer(c.boot, m, server)));
  };

  it('a firmware PXE client gets iPXE by TFTP from this server, by firmware, and no address', () => {
    const bios = answer(PXE_BIOS);
    expect(bios).toMatchObject({type: 'offer', yiaddr: '0.0.0.0', siaddr: '192.0.2.1', file: 'undionly.kpxe'});
    expect([...bios.options.get(OPTION.vendorSpecific)!]).toEqual([6, 1, 8, 255]);
    expect(new TextDecoder().decode(bios.options.get(OPTION.vendorClass))).toBe('PXEClient');
    expect(answer([[OPTION.vendorClass, ascii('PXEClient:Arch:00009')], [OPTION.clientArch, [0, 9]]], 3)).toMatchObject({type: 'ack', file: 'snponly.efi'});
    expect(ipxeBinary('uefi')).toBe('snponly.efi');
  });

  it('iPXE gets the script URL for its MAC; a UEFI HTTP Boot client gets iPXE over HTTP, with its own vendor class', () => {
    const ipxe = answer([...PXE_BIOS, [OPTION.userClass, ascii('iPXE')]]);
    expect(new TextDecoder().decode(ipxe.options.get(OPTION.bootfile))).toBe(`http://192.0.2.1:8080/boot/ipxe?mac=${MAC}&firmware=bios`);
    expect(ipxe.options.has(OPTION.vendorSpecific)).toBe(false);
    // iPXE drops a proxy answer without a next server (dhcp_has_pxeopts), whatever its boot file.
    expect(ipxe.siaddr).toBe('192.0.2.1');
    const http = answer([[OPTION.vendorClass, ascii('HTTPClient:Arch:00016')], [OPTION.clientArch, [0, 16]]]);
    expect(new TextDecoder().decode(http.options.get(OPTION.bootfile))).toBe('http://192.0.2.1:8080/boot/snponly.efi');
    expect(new TextDecoder().decode(http.options.get(OPTION.vendorClass))).toBe('HTTPClient');
  });

  it('tcpdump, an independent decoder, reads the offer as anemos means it', () => {
    const offer = encodeDhcp(proxyAnswer(classifyOk(PXE_BIOS), parsed(request({options: PXE_BIOS})), server));
    const dir = mkdtempSync(join(tmpdir(), 'anemos-dhcp-'));
    const pcap = join(dir, 'offer.pcap');
    writeFileSync(pcap, pcapOf(offer));
    const out = execFileSync('tcpdump', ['-n', '-v', '-r', pcap], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']});
    rmSync(dir, {recursive: true});
    expect(out).toMatch(/BOOTP\/DHCP, Reply, length \d+, xid 0xdeadbeef, Flags \[Broadcast\]/);
    expect(out).toMatch(/Server-IP 192\.0\.2\.1/);
    expect(out).toMatch(/Client-Ethernet-Address 52:54:00:12:34:56/);
    expect(out).toMatch(/file "undionly\.kpxe"/);
    expect(out).toMatch(/DHCP-Message \(53\), length 1: Offer/);
    expect(out).toMatch(/Vendor-Class \(60\), length 9: "PXEClient"/);
    expect(out).toMatch(/Vendor-Option \(43\), length 4: 6\.1\.8\.255/);
    expect(out).toMatch(/BF \(67\), length 13: "undionly\.kpxe"/);
  });
});

function classifyOk(options: [number, number[]][]): BootRequest {
  const c = classifyRequest(parsed(request({options})));
  if (!('boot' in c)) throw new Error(c.ignore);
  return c.boot;
}

/** A pcap file holding one Ethernet frame: this server's UDP datagram from port 67 to 68. */
function pcapOf(payload: Uint8Array): Uint8Array {
  const udp = new Uint8Array(8 + payload.length);
  const u = new DataView(udp.buffer);
  u.setUint16(0, 67);
  u.setUint16(2, 68);
  u.setUint16(4, udp.length);
  udp.set(payload, 8);
  const ip = new Uint8Array(20 + udp.length);
  const v = new DataView(ip.buffer);
  ip[0] = 0x45;
  v.setUint16(2, ip.length);
  ip[8] = 64;
  ip[9] = 17;
  ip.set([192, 0, 2, 1], 12);
  ip.set([255, 255, 255, 255], 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  v.setUint16(10, ~sum & 0xffff);
  ip.set(udp, 20);
  const frame = Uint8Array.from([...Array(6).fill(0xff), 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0x08, 0x00, ...ip]);
  const head = new DataView(new ArrayBuffer(24 + 16));
  head.setUint32(0, 0xa1b2c3d4, true);
  head.setUint16(4, 2, true);
  head.setUint16(6, 4, true);
  head.setUint32(16, 65535, true);
  head.setUint32(20, 1, true);
  head.setUint32(24 + 8, frame.length, true);
  head.setUint32(24 + 12, frame.length, true);
  return Uint8Array.from([...new Uint8Array(head.buffer), ...frame]);
}

describe('what a machine boots', () => {
  const rec = (state: BootRecord['state'], o: Partial<BootRecord> = {}): BootRecord => ({id: 'm1', state, desired: false, discovered: false, ...o});
  const decide = (r: BootRecord | undefined, discover = false) => bootDecision({mac: MAC}, r, {discover});

  it('follows the record: deploy what is desired, boot the disk once deployed, look at a failure, nothing for the retired', () => {
    expect(decide(rec('ready', {desired: true}))).toMatchObject({boot: 'environment', mode: 'deploy'});
    expect(decide(rec('provisioning', {desired: true}))).toMatchObject({boot: 'environment', mode: 'deploy'});
    expect(decide(rec('deployed', {desired: true}))).toMatchObject({boot: 'local-disk'});
    expect(decide(rec('maintenance'))).toMatchObject({boot: 'local-disk'});
    expect(decide(rec('failed', {desired: true}))).toMatchObject({boot: 'environment', mode: 'test'});
    expect(decide(rec('retired', {desired: true}), true)).toEqual({boot: 'none', rule: `m1 (${MAC}) is retired: a retired machine gets no answer`});
  });

  it("a desired deployment that names an installer boots it until the installer reports success; one that cannot hold gets no answer, with why", () => {
    expect(decide(rec('ready', {desired: true, installer: true}))).toMatchObject({boot: 'installer'});
    expect(decide(rec('provisioning', {desired: true, installer: true}))).toMatchObject({boot: 'installer'});
    expect(decide(rec('deployed', {desired: true, installer: true}))).toMatchObject({boot: 'local-disk'});
    expect(decide(rec('failed', {desired: true, installer: true}))).toMatchObject({boot: 'environment', mode: 'test'});
    expect(installerRefused(decide(rec('ready', {desired: true, installer: true})), 'no root disk')).toEqual({boot: 'none', rule: expect.stringMatching(/names an installer: .*, but no root disk: it is not booted into an installer that would stop at a question$/)});
  });

  it('a desired live image boots into RAM at every boot, deployed or not; a failed one is looked at; a new desired deployment (another image: a rollback) is what the next boot runs', () => {
    expect(decide(rec('ready', {desired: true, live: true}))).toMatchObject({boot: 'environment', mode: 'live', rule: expect.stringContaining('boots it into RAM (its disk is not written)')});
    expect(decide(rec('provisioning', {desired: true, live: true}))).toMatchObject({boot: 'environment', mode: 'live'});
    expect(decide(rec('deployed', {desired: true, live: true}))).toMatchObject({boot: 'environment', mode: 'live', rule: expect.stringContaining('every boot boots it into RAM')});
    expect(decide(rec('failed', {desired: true, live: true}))).toMatchObject({boot: 'environment', mode: 'test'});
    expect(decide(rec('maintenance', {desired: true, live: true}))).toMatchObject({boot: 'local-disk'});
    // Its desired deployment replaced by one that writes a payload: deployed, it boots its disk (the next deploy starts when it is made ready).
    expect(decide(rec('deployed', {desired: true}))).toMatchObject({boot: 'local-disk'});
  });

  it('an unknown machine is answered only with discovery on; one with nothing to run waits if the network found it, else boots its disk', () => {
    expect(decide(undefined)).toEqual({boot: 'none', rule: `${MAC} is not in the registry and discovery is off (anemos serve --discover): no answer`});
    expect(decide(undefined, true)).toMatchObject({boot: 'environment', mode: 'register'});
    expect(decide(rec('new', {discovered: true}))).toMatchObject({boot: 'environment', mode: 'register'});
    expect(decide(rec('ready', {discovered: true}))).toMatchObject({boot: 'environment', mode: 'register'});
    expect(decide(rec('new'))).toMatchObject({boot: 'local-disk', rule: expect.stringMatching(/registered from its own system/)});
  });

  it('a discovered machine with nothing to run powers off once registered when the server or its record says so, the record winning', () => {
    const off = (r: BootRecord | undefined, idle?: 'wait' | 'poweroff') => bootDecision({mac: MAC}, r, {discover: true, ...(idle ? {idle} : {})});
    expect(off(undefined)).not.toHaveProperty('idle');
    expect(off(undefined, 'poweroff')).toMatchObject({boot: 'environment', mode: 'register', idle: 'poweroff', rule: expect.stringMatching(/once registered it powers off until it is woken \(anemos machines wake\), as --discover-idle says$/)});
    expect(off(rec('new', {discovered: true}), 'poweroff')).toMatchObject({idle: 'poweroff'});
    expect(off(rec('new', {discovered: true, idle: 'wait'}), 'poweroff')).not.toHaveProperty('idle');
    expect(off(rec('new', {discovered: true, idle: 'poweroff'}))).toMatchObject({idle: 'poweroff', rule: expect.stringMatching(/as its record says$/)});
    // Only a machine that waits: one with a deployment to run, or one that runs its own system, is not told to power off.
    expect(off(rec('ready', {discovered: true, desired: true, idle: 'poweroff'}), 'poweroff')).toEqual(expect.objectContaining({mode: 'deploy'}));
    expect(off(rec('ready', {discovered: true, desired: true, idle: 'poweroff'}), 'poweroff')).not.toHaveProperty('idle');
    expect(off(rec('new', {idle: 'poweroff'}), 'poweroff')).toMatchObject({boot: 'local-disk'});
  });
});
