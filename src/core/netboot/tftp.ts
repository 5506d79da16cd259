// TFTP (RFC 1350) as a read-only server of a few files needs it: read requests with their
// options (blksize RFC 2348, tsize and timeout RFC 2349), and the packets it answers with.
// Pure: no sockets. Reading never throws: a packet it will not serve is an error value
// with the TFTP error code to answer with. Our own for the reasons of dhcp.ts: the npm
// "tftp" package (0.1.2) was last published in 2014.

export const TFTP_PORT = 69;

export const OPCODE = {rrq: 1, wrq: 2, data: 3, ack: 4, error: 5, oack: 6} as const;

/** TFTP's error codes (RFC 1350, RFC 2347's 8). */
export const TFTP_ERROR = {undefined: 0, notFound: 1, accessViolation: 2, illegalOperation: 4, unknownTransfer: 5, optionRefused: 8} as const;

/** The largest block a packet of ours carries: an Ethernet frame's payload less the IPv4, UDP and TFTP headers. */
export const MAX_BLOCK = 1468;
export const DEFAULT_BLOCK = 512;

export interface ReadRequest {
  /** The file, relative to the served directory: no "..", no backslash, one leading "/" dropped. */
  path: string;
  /** The options this server takes, as it will acknowledge them (an OACK), if any were asked. */
  accepted: {blksize?: number; tsize?: number; timeout?: number};
}

export type TftpParsed = {ok: true; request: ReadRequest} | {ok: false; code: number; error: string};

const refuse = (code: number, error: string): TftpParsed => ({ok: false, code, error});

/** A read request, or why it is not served. Anything else a client sends first (a write, data) is refused. */
export function parseRequest(data: Uint8Array): TftpParsed {
  if (data.length < 4) return refuse(TFTP_ERROR.illegalOperation, `${data.length} bytes: not a TFTP request`);
  if (data.length > 512) return refuse(TFTP_ERROR.illegalOperation, `${data.length} bytes: longer than any read request we take (512)`);
  const op = (data[0]! << 8) | data[1]!;
  if (op === OPCODE.wrq) return refuse(TFTP_ERROR.accessViolation, 'this server is read-only: no writes');
  if (op !== OPCODE.rrq) return refuse(TFTP_ERROR.illegalOperation, `opcode ${op} is not a read request`);
  // Fields are NUL-terminated text: filename, mode, then option name/value pairs.
  const fields: string[] = [];
  let start = 2;
  for (let i = 2; i < data.length; i++) {
    if (data[i] !== 0) continue;
    const bytes = data.subarray(start, i);
    if (![...bytes].every((c) => c >= 0x20 && c < 0x7f)) return refuse(TFTP_ERROR.illegalOperation, 'a field is not printable ASCII');
    fields.push(String.fromCharCode(...bytes));
    start = i + 1;
  }
  if (start !== data.length) return refuse(TFTP_ERROR.illegalOperation, 'the last field has no NUL');
  const [name, mode, ...opts] = fields;
  if (!name || mode === undefined) return refuse(TFTP_ERROR.illegalOperation, 'no file name or mode');
  if (mode.toLowerCase() !== 'octet') return refuse(TFTP_ERROR.illegalOperation, `mode "${mode}": only octet is served`);
  if (opts.length % 2) return refuse(TFTP_ERROR.illegalOperation, `option "${opts.at(-1)}" has no value`);
  const path = safePath(name);
  if (!path) return refuse(TFTP_ERROR.accessViolation, `"${name.slice(0, 80)}" is not a file of the served directory`);
  const accepted: ReadRequest['accepted'] = {};
  for (let i = 0; i < opts.length; i += 2) {
    const key = opts[i]!.toLowerCase();
    const value = /^\d{1,10}$/.test(opts[i + 1]!) ? Number(opts[i + 1]) : NaN;
    // An option we do not know, or a value out of its range, is left out of the OACK (RFC 2347): the transfer goes on without it.
    if (key === 'blksize' && value >= 8) accepted.blksize = Math.min(value, MAX_BLOCK);
    else if (key === 'tsize' && value === 0) accepted.tsize = 0;
    else if (key === 'timeout' && value >= 1 && value <= 255) accepted.timeout = value;
  }
  return {ok: true, request: {path, accepted}};
}

/** The name as a path inside the served directory, or undefined when it would leave it or is not a plain name. */
export function safePath(name: string): string | undefined {
  const rel = name.startsWith('/') ? name.slice(1) : name;
  if (!rel || rel.length > 255 || rel.includes('\\') || rel.startsWith('/')) return undefined;
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  return parts.join('/');
}

const u16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0) & 0x7f);

export function dataPacket(block: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + bytes.length);
  out.set([...u16(OPCODE.data), ...u16(block & 0xffff)]);
  out.set(bytes, 4);
  return out;
}

export function errorPacket(code: number, message: string): Uint8Array {
  return Uint8Array.from([...u16(OPCODE.error), ...u16(code), ...ascii(message.slice(0, 200)), 0]);
}

/** The acknowledgement of the options taken, with the file's size for tsize. */
export function oackPacket(accepted: ReadRequest['accepted'], size: number): Uint8Array {
  const pairs = Object.entries(accepted).flatMap(([k, v]) => [k, String(k === 'tsize' ? size : v)]);
  return Uint8Array.from([...u16(OPCODE.oack), ...pairs.flatMap((p) => [...ascii(p), 0])]);
}

/** The block an ACK acknowledges, or undefined for any other packet. */
export function ackBlock(data: Uint8Array): number | undefined {
  return data.length >= 4 && ((data[0]! << 8) | data[1]!) === OPCODE.ack ? (data[2]! << 8) | data[3]! : undefined;
}
