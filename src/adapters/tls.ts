// TLS for the registry on both sides: the server's key and certificate (given, or made
// once in the data directory for --tls auto), and a client that trusts a registry by its
// CA file or by the pin of its public key. A pin is what curl --pinnedpubkey and wget
// --pinnedpubkey take (sha256// and the base64 SHA-256 of the SubjectPublicKeyInfo), so
// the deploy environment's wget checks the very same string.

import {createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate} from 'node:crypto';
import {chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {hostname, networkInterfaces} from 'node:os';
import {join} from 'node:path';
import {assembleCertificate, buildTbsCertificate, derToPem} from '../core/x509.js';
import {preconditionError, usageError} from '../shared/errors.js';

export {PIN_PATTERN} from '../core/config.js';

/** The pin of a certificate's public key: sha256//BASE64 (survives a renewal with the same key). */
export function pinOf(certPem: string | Buffer): string {
  const spki = new X509Certificate(certPem).publicKey.export({type: 'spki', format: 'der'});
  return `sha256//${createHash('sha256').update(spki).digest('base64')}`;
}

export interface ServerTls {
  key: string;
  cert: string;
  pin: string;
  /** Where they came from, for the start line. */
  source: string;
  made: boolean;
}

/** --tls-cert and --tls-key: read and matched, so a wrong pair stops the start with a message. */
export function loadServerTls(certFile: string, keyFile: string): ServerTls {
  const read = (f: string, what: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch (err) {
      throw usageError('registry-tls-file', `Cannot read the TLS ${what} ${f}: ${(err as Error).message}.`, 'Pass --tls-cert and --tls-key with PEM files, or --tls auto to make a certificate in the data directory.');
    }
  };
  const cert = read(certFile, 'certificate');
  const key = read(keyFile, 'key');
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
    if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error('the key is not the certificate\'s');
  } catch (err) {
    throw usageError('registry-tls-pair', `The TLS certificate ${certFile} and key ${keyFile} do not make a pair: ${(err as Error).message}.`, 'Pass the certificate (PEM) and its own private key (PEM).');
  }
  return {key, cert, pin: pinOf(cert), source: certFile, made: false};
}

/** Names a self-signed certificate is made for: this machine's name, localhost, and every address it has. */
export function localNames(): {dns: string[]; ips: string[]} {
  const ips = new Set(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.address.startsWith('fe80')) ips.add(a.address);
  return {dns: [...new Set([hostname(), 'localhost'])], ips: [...ips]};
}

/**
 * --tls auto: the key and self-signed certificate in the data directory, made on the first
 * start (ECDSA P-256, ten years) and kept, so the pin clients hold stays valid.
 */
export function autoServerTls(dataDir: string, extraNames: string[] = [], now = new Date()): ServerTls {
  const certFile = join(dataDir, 'tls-cert.pem');
  const keyFile = join(dataDir, 'tls-key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return {...loadServerTls(certFile, keyFile), made: false};
  const {publicKey, privateKey} = generateKeyPairSync('ec', {namedCurve: 'prime256v1'});
  const names = localNames();
  const isIp = (n: string) => /^[0-9.]+$/.test(n) || n.includes(':');
  const tbs = buildTbsCertificate({
    spki: publicKey.export({type: 'spki', format: 'der'}),
    commonName: `anemos registry on ${hostname()}`,
    dnsNames: [...new Set([...names.dns, ...extraNames.filter((n) => !isIp(n))])],
    ipAddresses: [...new Set([...names.ips, ...extraNames.filter(isIp)])],
    serial: randomBytes(16),
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + 10 * 365 * 86400_000),
  });
  const cert = derToPem(assembleCertificate(tbs, sign('sha256', tbs, privateKey)));
  const key = privateKey.export({type: 'pkcs8', format: 'pem'}) as string;
  try {
    mkdirSync(dataDir, {recursive: true, mode: 0o700});
    writeFileSync(keyFile, key, {mode: 0o600});
    chmodSync(keyFile, 0o600);
    writeFileSync(certFile, cert, {mode: 0o600});
  } catch (err) {
    throw preconditionError('registry-tls-write', `Cannot write the TLS key and certificate in ${dataDir}: ${(err as Error).message}.`, 'Pass --data with a directory this user can write, or --tls-cert and --tls-key.');
  }
  return {key, cert, pin: pinOf(cert), source: certFile, made: true};
}
