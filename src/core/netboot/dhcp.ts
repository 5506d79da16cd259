// DHCP and BOOTP messages (RFC 2131, options RFC 2132), as PXE clients (RFC 4578, PXE 2.1)
// and iPXE send them: read from bytes a peer chose, written for the answers anemos gives.
// Pure: no sockets. Reading never throws: a datagram that is not a well-formed request is
// an error value naming why, and is dropped by the caller (a network answers nothing to it).
//
// Why our own codec: the npm packages for DHCP are few and unmaintained ("dhcp" 0.2.20, a
// whole server with its own sockets and lease store), and what a PXE service needs is the
// fixed header, the option TLVs and a handful of options: about 200 lines, fuzzed in tests.

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** PXE's boot server port: a client asks here once it has an address (proxyDHCP, RFC 4578). */
export const PXE_BOOT_SERVER_PORT = 4011;

const MAGIC_COOKIE = 0x63825363;
const HEADER = 236;
/** The smallest BOOTP message (RFC 1542): clients and relays may drop shorter answers. */
const MIN_MESSAGE = 300;
/** No DHCP message we take is bigger than an Ethernet frame's payload. */
const MAX_MESSAGE = 1500;

export const OPTION = {
  pad: 0,
  subnetMask: 1,
  router: 3,
  dns: 6,
  hostname: 12,
  vendorSpecific: 43,
  requestedAddress: 50,
  leaseTime: 51,
  overload: 52,
  messageType: 53,
  serverId: 54,
  parameterList: 55,
  message: 56,
  maxMessageSize: 57,
  renewalTime: 58,
  rebindingTime: 59,
  vendorClass: 60,
  clientId: 61,
  tftpServer: 66,
  bootfile: 67,
  userClass: 77,
  clientArch: 93,
  clientNdi: 94,
  clientUuid: 97,
  /** iPXE's own encapsulated options (175): present in every request iPXE sends. */
  ipxeEncapsulated: 175,
  end: 255,
} as const;

export const MESSAGE_TYPES = {1: 'discover', 2: 'offer', 3: 'request', 4: 'decline', 5: 'ack', 6: 'nak', 7: 'release', 8: 'inform'} as const;
export type MessageType = (typeof MESSAGE_TYPES)[keyof typeof MESSAGE_TYPES];
const TYPE_CODE = Object.fromEntries(Object.entries(MESSAGE_TYPES).map(([k, v]) => [v, Number(k)])) as Record<MessageType, number>;

export interface DhcpMessage {
  op: 'request' | 'reply';
  xid: number;
  secs: number;
  /** The broadcast flag: the answer must go to 255.255.255.255 (the client cannot take unicast yet). */
  broadcast: boolean;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** The client's hardware address, lower case with colons (Ethernet: 6 bytes). */
  chaddr: string;
  /** BOOTP's server name and boot file fields (when not overloaded with options). */
  sname: string;
  file: string;
  type: MessageType;
  /** Every option by code, as bytes, in the order they came (a repeated code is joined, RFC 3396). */
  options: Map<number, Uint8Array>;
}

export type Parsed<T> = {ok: true; value: T} | {ok: false; error: string};

const fail = (error: string): {ok: false; error: string} => ({ok: false, error});

const ipv4 = (b: Uint8Array, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
/** A NUL-terminated field's text (BOOTP's sname and file), printable ASCII only. */
function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  const bytes = b.subarray(0, end < 0 ? b.length : end);
  return [...bytes].every((c) => c >= 0x20 && c < 0x7f) ? String.fromCharCode(...bytes) : '';
}

/** The option TLVs in bytes, appended to `into`; an error when one runs past the end. */
function readOptions(b: Uint8Array, into: Map<number, Uint8Array>, where: string): string | undefined {
  let i = 0;
  while (i < b.length) {
    const code = b[i]!;
    if (code === OPTION.end) return undefined;
    if (code === OPTION.pad) {
      i++;
      continue;
    }
    if (i + 1 >= b.length) return `${where}: option ${code} has no length`;
    const len = b[i + 1]!;
    if (i + 2 + len > b.length) return `${where}: option ${code} says ${len} bytes, ${b.length - i - 2} are left`;
    const value = b.subarray(i + 2, i + 2 + len);
    const before = into.get(code);
    into.set(code, before ? concat(before, value) : value.slice());
    i += 2 + len;
  }
  // No end option: RFC 2131 asks for one, but clients that omit it exist; what was read stands.
  return undefined;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A DHCP message from a datagram, or why it is not one. */
export function parseDhcp(data: Uint8Array): Parsed<DhcpMessage> {
  if (data.length < HEADER + 4) return fail(`${data.length} bytes: shorter than a DHCP message (${HEADER + 4})`);
  if (data.length > MAX_MESSAGE) return fail(`${data.length} bytes: longer than any DHCP message we take (${MAX_MESSAGE})`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const op = data[0];
  if (op !== 1 && op !== 2) return fail(`op ${op} is neither BOOTREQUEST nor BOOTREPLY`);
  if (data[1] !== 1 || data[2] !== 6) return fail(`hardware type ${data[1]} length ${data[2]}: not Ethernet`);
  if (view.getUint32(HEADER) !== MAGIC_COOKIE) return fail('no DHCP magic cookie: a BOOTP message');
  const options = new Map<number, Uint8Array>();
  const err = readOptions(data.subarray(HEADER + 4), options, 'options');
  if (err) return fail(err);
  // Option overload (52): the file and sname fields carry options too.
  const overload = options.get(OPTION.overload)?.[0] ?? 0;
  if (overload & 1) {
    const e = readOptions(data.subarray(108, 236), options, 'file field');
    if (e) return fail(e);
  }
  if (overload & 2) {
    const e = readOptions(data.subarray(44, 108), options, 'sname field');
    if (e) return fail(e);
  }
  const typeCode = options.get(OPTION.messageType);
  if (!typeCode || typeCode.length !== 1) return fail('no DHCP message type (option 53)');
  const type = MESSAGE_TYPES[typeCode[0] as keyof typeof MESSAGE_TYPES];
  if (!type) return fail(`DHCP message type ${typeCode[0]} is not one RFC 2131 defines`);
  return {
    ok: true,
    value: {
      op: op === 1 ? 'request' : 'reply',
      xid: view.getUint32(4),
      secs: view.getUint16(8),
      broadcast: (view.getUint16(10) & 0x8000) !== 0,
      ciaddr: ipv4(data, 12),
      yiaddr: ipv4(data, 16),
      siaddr: ipv4(data, 20),
      giaddr: ipv4(data, 24),
      chaddr: hex(data.subarray(28, 34)),
      sname: overload & 2 ? '' : cString(data.subarray(44, 108)),
      file: overload & 1 ? '' : cString(data.subarray(108, 236)),
      type,
      options,
    },
  };
}

export interface DhcpReply {
  type: MessageType;
  /** The request it answers: its xid, chaddr, giaddr and broadcast flag are copied. */
  to: Pick<DhcpMessage, 'xid' | 'chaddr' | 'giaddr' | 'broadcast'>;
  yiaddr?: string;
  /** "Next server": where the client fetches its boot file by TFTP. */
  siaddr?: string;
  sname?: string;
  file?: string;
  /** Options in the order written; each value is split into 255-byte pieces when longer (RFC 3396). */
  options: [number, Uint8Array][];
}

function putIpv4(out: Uint8Array, at: number, text: string | undefined): void {
  if (!text) return;
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bug: ${text} is not an IPv4 address`);
  out.set(parts, at);
}

function putText(out: Uint8Array, at: number, size: number, text: string | undefined): void {
  if (!text) return;
  if (text.length >= size || /[^\x20-\x7e]/.test(text)) throw new Error(`bug: "${text}" does not fit BOOTP's ${size}-byte field`);
  for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
}

/** The bytes of a reply (padded to BOOTP's 300 bytes). */
export function encodeDhcp(r: DhcpReply): Uint8Array {
  const opts: number[] = [OPTION.messageType, 1, TYPE_CODE[r.type]];
  for (const [code, value] of r.options) {
    if (code === OPTION.pad || code === OPTION.end || code === OPTION.messageType) throw new Error(`bug: option ${code} is written by the encoder`);
    for (let i = 0; i < value.length || i === 0; i += 255) {
      const piece = value.subarray(i, i + 255);
      opts.push(code, piece.length, ...piece);
    }
  }
  opts.push(OPTION.end);
  const out = new Uint8Array(Math.max(MIN_MESSAGE, HEADER + 4 + opts.length));
  const view = new DataView(out.buffer);
  out[0] = 2;
  out[1] = 1;
  out[2] = 6;
  view.setUint32(4, r.to.xid);
  view.setUint16(10, r.to.broadcast ? 0x8000 : 0);
  putIpv4(out, 16, r.yiaddr);
  putIpv4(out, 20, r.siaddr);
  putIpv4(out, 24, r.to.giaddr);
  const mac = r.to.chaddr.split(':').map((x) => parseInt(x, 16));
  if (mac.length !== 6 || mac.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bug: ${r.to.chaddr} is not a MAC address`);
  out.set(mac, 28);
  putText(out, 44, 64, r.sname);
  putText(out, 108, 128, r.file);
  view.setUint32(HEADER, MAGIC_COOKIE);
  out.set(opts, HEADER + 4);
  return out;
}

export const text = (s: string): Uint8Array => Uint8Array.from(s, (c) => {
  const code = c.charCodeAt(0);
  if (code > 0x7e || code < 0x20) throw new Error(`bug: option text "${s}" is not printable ASCII`);
  return code;
});
export const ipv4Bytes = (s: string): Uint8Array => {
  const out = new Uint8Array(4);
  putIpv4(out, 0, s);
  return out;
};
/** An option's bytes as text, when they are printable ASCII (a vendor or user class). */
export const optionText = (b: Uint8Array | undefined): string | undefined => (b && [...b].every((c) => c >= 0x20 && c < 0x7f) ? String.fromCharCode(...b) : undefined);
