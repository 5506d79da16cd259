// A self-signed X.509 certificate in DER, for anemos serve --tls auto: version 3, an
// ECDSA P-256 key, the names and addresses it serves (subjectAltName), for TLS servers
// only. Pure: the caller gives the public key (SPKI DER) and signs the TBSCertificate.
// Not a general ASN.1 library: only what such a certificate needs (RFC 5280).

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

const tlv = (tag: number, ...content: Buffer[]) => {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer) => tlv(0x03, Buffer.from([0]), b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const groups: number[] = [];
    for (let v = n; ; v = Math.floor(v / 128)) {
      groups.unshift(v & 0x7f);
      if (v < 128) break;
    }
    out.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

function ipBytes(ip: string): Buffer {
  if (ip.includes('.') && !ip.includes(':')) return Buffer.from(ip.split('.').map(Number));
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export interface CertificateRequest {
  /** The subject's public key as SubjectPublicKeyInfo DER (KeyObject.export({type: 'spki', format: 'der'})). */
  spki: Buffer;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  /** Random bytes; the first bit is cleared so the number is positive. */
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
}

/** The TBSCertificate: what the key signs (ecdsa-with-SHA256). */
export function buildTbsCertificate(r: CertificateRequest): Buffer {
  const name = seq(set(seq(oid('2.5.4.3'), utf8(r.commonName))));
  const serial = Buffer.from(r.serial);
  serial[0] = serial[0]! & 0x7f;
  const altNames = seq(...r.dnsNames.map((n) => tlv(0x82, Buffer.from(n, 'ascii'))), ...r.ipAddresses.map((ip) => tlv(0x87, ipBytes(ip))));
  const extensions = seq(
    seq(oid('2.5.29.19'), bool(true), octets(seq())), // basicConstraints, critical: not a CA
    seq(oid('2.5.29.15'), bool(true), octets(tlv(0x03, Buffer.from([0x07, 0x80])))), // keyUsage, critical: digitalSignature
    seq(oid('2.5.29.37'), octets(seq(oid('1.3.6.1.5.5.7.3.1')))), // extKeyUsage: serverAuth
    seq(oid('2.5.29.17'), octets(altNames)),
  );
  return seq(explicit(0, integer(Buffer.from([2]))), integer(serial), ECDSA_SHA256, name, seq(time(r.notBefore), time(r.notAfter)), name, r.spki, explicit(3, extensions));
}

/** The certificate, from its TBSCertificate and the DER ECDSA signature over it. */
export function assembleCertificate(tbs: Buffer, signature: Buffer): Buffer {
  return seq(tbs, ECDSA_SHA256, bits(signature));
}

export const derToPem = (der: Buffer, label = 'CERTIFICATE') => `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;
