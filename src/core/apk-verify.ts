// Alpine's signatures, checked before apk.static runs (it would check the rest itself, but
// it has to be trusted first). An Alpine index (APKINDEX.tar.gz) and package (.apk) are
// gzip members one after another: a signature (an RSA PKCS#1 v1.5 signature of the next
// member's compressed bytes, in a tar entry .SIGN.RSA[256].KEYNAME), then the index, or a
// package's control (.PKGINFO with the sha256 of the data member) and data. An index lists
// each package with "C:Q1" and the base64 SHA-1 of its control member.
// Pure and runtime-free (BigInt, no Buffer): the agent runs it on QuickJS, where the
// digests and the decompression come from busybox.

/** CRC-32 (IEEE), as gzip's trailer has it. */
let table: Uint32Array | undefined;
export function crc32(bytes: Uint8Array): number {
  table ??= Uint32Array.from({length: 256}, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let c = 0xffffffff;
  for (const b of bytes) c = table[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const u32le = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/**
 * Where each gzip member starts in `compressed`, given what they all decompress to: a
 * member ends where the next header (1f 8b 08) follows a trailer whose size and CRC-32 are
 * those of the bytes decompressed so far. No inflating of our own.
 */
export function gzipMembers(compressed: Uint8Array, uncompressed: Uint8Array): {start: number; data: Uint8Array}[] {
  const members: {start: number; data: Uint8Array}[] = [];
  let start = 0;
  let from = 0; // where this member's uncompressed bytes begin
  for (let k = 18; k + 3 <= compressed.length; k++) {
    if (compressed[k] !== 0x1f || compressed[k + 1] !== 0x8b || compressed[k + 2] !== 0x08) continue;
    const size = u32le(compressed, k - 4);
    if (from + size > uncompressed.length) continue;
    const data = uncompressed.subarray(from, from + size);
    if (crc32(data) !== u32le(compressed, k - 8)) continue;
    members.push({start, data});
    start = k;
    from += size;
  }
  members.push({start, data: uncompressed.subarray(from)});
  return members;
}

export interface TarFile {
  name: string;
  data: Uint8Array;
}

/** The files of a tar stream (ustar headers; pax extended headers skipped), up to its end or the end of the bytes. */
export function tarFiles(b: Uint8Array): TarFile[] {
  const out: TarFile[] = [];
  const text = (from: number, len: number) => String.fromCharCode(...b.subarray(from, from + len)).replace(/\0.*$/s, '');
  for (let at = 0; at + 512 <= b.length; ) {
    const name = text(at, 100);
    if (!name) break; // the end-of-archive blocks
    const size = parseInt(text(at + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(b[at + 156]!);
    const prefix = text(at + 345, 155);
    if (type === '0' || type === '\0') out.push({name: prefix ? `${prefix}/${name}` : name, data: b.subarray(at + 512, at + 512 + size)});
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

function base64(s: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const clean = s.replace(/[^A-Za-z0-9+/]/g, '');
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of clean) {
    acc = (acc << 6) | alphabet.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

export function toBase64(b: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    out += alphabet[(n >> 18) & 63]! + alphabet[(n >> 12) & 63]! + (i + 1 < b.length ? alphabet[(n >> 6) & 63]! : '=') + (i + 2 < b.length ? alphabet[n & 63]! : '=');
  }
  return out;
}

const bigint = (b: Uint8Array) => b.reduce((n, x) => (n << 8n) | BigInt(x), 0n);

/** n and e of an RSA key in a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), as Alpine's keys are. */
export function parseRsaPublicKey(pem: string): {n: bigint; e: bigint; bytes: number} {
  const der = base64(pem.replace(/-----[^-]+-----/g, ''));
  let at = 0;
  const read = (): {tag: number; start: number; end: number} => {
    const tag = der[at++]!;
    let len = der[at++]!;
    if (len & 0x80) {
      const k = len & 0x7f;
      len = 0;
      for (let i = 0; i < k; i++) len = len * 256 + der[at++]!;
    }
    const start = at;
    return {tag, start, end: start + len};
  };
  const expect = (tag: number) => {
    const x = read();
    if (x.tag !== tag) throw new Error(`not an RSA public key (DER tag ${x.tag} where ${tag} belongs)`);
    return x;
  };
  expect(0x30); // SubjectPublicKeyInfo
  const alg = expect(0x30);
  at = alg.end; // rsaEncryption, NULL
  expect(0x03);
  at++; // the BIT STRING's unused-bits byte
  expect(0x30); // RSAPublicKey
  const n = expect(0x02);
  const nBytes = der.subarray(n.start, n.end);
  at = n.end;
  const e = expect(0x02);
  const modulus = bigint(nBytes);
  return {n: modulus, e: bigint(der.subarray(e.start, e.end)), bytes: nBytes[0] === 0 ? nBytes.length - 1 : nBytes.length};
}

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  for (let e = exp; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
  }
  return result;
}

const DIGEST_INFO: Record<'sha1' | 'sha256', number[]> = {
  sha1: [0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14],
  sha256: [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20],
};

/** RSASSA-PKCS1-v1_5: does `signature` sign the message whose digest is `digest`? */
export function rsaVerify(key: {n: bigint; e: bigint; bytes: number}, signature: Uint8Array, digest: Uint8Array, hash: 'sha1' | 'sha256'): boolean {
  if (signature.length !== key.bytes) return false;
  const m = modPow(bigint(signature), key.e, key.n);
  const em: number[] = [];
  for (let v = m, i = 0; i < key.bytes; i++, v >>= 8n) em.unshift(Number(v & 0xffn));
  const t = [...DIGEST_INFO[hash], ...digest];
  const pad = key.bytes - t.length - 3;
  if (pad < 8) return false;
  const expected = [0x00, 0x01, ...Array<number>(pad).fill(0xff), 0x00, ...t];
  return expected.every((x, i) => em[i] === x);
}

/** The signature of an index or package: its key's name and which digest it signs. */
export function signatureOf(files: TarFile[]): {key: string; hash: 'sha1' | 'sha256'; signature: Uint8Array} | undefined {
  const f = files.find((x) => x.name.startsWith('.SIGN.RSA'));
  const m = f?.name.match(/^\.SIGN\.RSA(256)?\.(.+)$/);
  return m && f ? {key: m[2]!, hash: m[1] ? 'sha256' : 'sha1', signature: f.data} : undefined;
}

/** An APKINDEX's record of one package: its version and control checksum (C:Q1…), or undefined. */
export function indexEntry(apkindex: string, name: string): {version: string; checksum: string} | undefined {
  for (const block of apkindex.split(/\n\n/)) {
    const field = (k: string) => block.match(new RegExp(`^${k}:(.*)$`, 'm'))?.[1];
    if (field('P') === name) {
      const version = field('V');
      const checksum = field('C');
      return version && checksum ? {version, checksum} : undefined;
    }
  }
  return undefined;
}

/** A .PKGINFO's key = value lines. */
export function parsePkgInfo(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.match(/^([a-z_]+) = (.*)$/))
      .filter((m): m is RegExpMatchArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

/** The bytes as text: what Alpine writes in an index and a .PKGINFO is ASCII. */
const ascii = (b: Uint8Array) => {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
};

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
export const fromHex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

/** What checking an index and a package needs from outside: the keys, gunzip, and digests. */
export interface ApkTools {
  key(name: string): string | undefined;
  gunzip(compressed: Uint8Array): Promise<Uint8Array>;
  digest(hash: 'sha1' | 'sha256', bytes: Uint8Array): Promise<Uint8Array>;
}

/** The index, verified: its signature by one of the keys. Throws with the reason otherwise. */
export async function verifyIndex(tools: ApkTools, compressed: Uint8Array): Promise<string> {
  const members = gzipMembers(compressed, await tools.gunzip(compressed));
  if (members.length !== 2) throw new Error(`the index is ${members.length} gzip member(s), not a signature and an index`);
  const sig = signatureOf(tarFiles(members[0]!.data));
  if (!sig) throw new Error('the index is not signed (no .SIGN.RSA entry)');
  const pem = tools.key(sig.key);
  if (!pem) throw new Error(`the index is signed by ${sig.key}, which is not one of the trusted keys`);
  if (!rsaVerify(parseRsaPublicKey(pem), sig.signature, await tools.digest(sig.hash, compressed.subarray(members[1]!.start)), sig.hash)) throw new Error(`the index's signature by ${sig.key} does not match it`);
  const index = tarFiles(members[1]!.data).find((f) => f.name === 'APKINDEX');
  if (!index) throw new Error('the signed index holds no APKINDEX');
  return ascii(index.data);
}

/** A package, verified against a verified index: its control member by the index's checksum, its data by the control's datahash. */
export async function verifyPackage(tools: ApkTools, apkindex: string, name: string, compressed: Uint8Array): Promise<{version: string}> {
  const entry = indexEntry(apkindex, name);
  if (!entry) throw new Error(`the index lists no package ${name}`);
  if (!entry.checksum.startsWith('Q1')) throw new Error(`the index's checksum of ${name} is not a SHA-1 (Q1…): ${entry.checksum}`);
  const members = gzipMembers(compressed, await tools.gunzip(compressed));
  if (members.length !== 3) throw new Error(`${name} is ${members.length} gzip member(s), not a signature, a control and data`);
  const control = compressed.subarray(members[1]!.start, members[2]!.start);
  const got = `Q1${toBase64(await tools.digest('sha1', control))}`;
  if (got !== entry.checksum) throw new Error(`${name}'s control checksum is ${got}, the signed index says ${entry.checksum}`);
  const info = tarFiles(members[1]!.data).find((f) => f.name === '.PKGINFO');
  const datahash = info && parsePkgInfo(ascii(info.data)).datahash;
  if (!datahash) throw new Error(`${name}'s .PKGINFO names no datahash`);
  const data = hex(await tools.digest('sha256', compressed.subarray(members[2]!.start)));
  if (data !== datahash) throw new Error(`${name}'s data has sha256 ${data}, its signed control says ${datahash}`);
  return {version: entry.version};
}
