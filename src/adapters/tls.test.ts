import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {createServer} from 'node:https';
import type {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {connect} from 'node:tls';
import {afterAll, describe, expect, it} from 'vitest';
import {autoServerTls, loadServerTls, pinOf} from './tls.js';

describe('--tls auto: the self-signed certificate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-tls-'));
  afterAll(() => rmSync(dir, {recursive: true, force: true}));

  it('is one openssl reads and verifies against itself, for this machine\'s names and addresses, with a key only its owner reads', () => {
    const tls = autoServerTls(dir, ['registry.example.net', '10.0.2.2']);
    expect(tls.made).toBe(true);
    const file = join(dir, 'tls-cert.pem');
    const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], {encoding: 'utf8'});
    expect(text).toMatch(/Version: 3/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/NIST CURVE: P-256/);
    expect(text).toMatch(/DNS:localhost/);
    expect(text).toMatch(/DNS:registry\.example\.net/);
    expect(text).toMatch(/IP Address:127\.0\.0\.1/);
    expect(text).toMatch(/IP Address:0:0:0:0:0:0:0:1/);
    expect(text).toMatch(/IP Address:10\.0\.2\.2/);
    expect(text).toMatch(/CA:FALSE/);
    expect(text).toMatch(/TLS Web Server Authentication/);
    expect(execFileSync('openssl', ['verify', '-CAfile', file, file], {encoding: 'utf8'})).toMatch(/OK/);
    // The pin is what openssl computes the curl/wget way.
    const spki = execFileSync('sh', ['-c', `openssl x509 -in ${file} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`], {encoding: 'utf8'}).trim();
    expect(tls.pin).toBe(`sha256//${spki}`);
    expect(statSync(join(dir, 'tls-key.pem')).mode & 0o777).toBe(0o600);
    // Kept: the second start uses the same key, so the pin stays.
    const again = autoServerTls(dir);
    expect(again).toMatchObject({made: false, pin: tls.pin});
  });

  it('serves HTTPS that a client holding it as CA verifies by name, and by address', async () => {
    const tls = autoServerTls(dir);
    const server = createServer({key: tls.key, cert: tls.cert}, (_q, r) => r.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const hello = (servername?: string) =>
      new Promise<string>((resolve) => {
        const s = connect({host: '127.0.0.1', port, ca: tls.cert, ...(servername ? {servername} : {})}, () => {
          resolve(s.authorized ? 'authorized' : String(s.authorizationError));
          s.end();
        });
        s.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
      });
    expect(await hello()).toBe('authorized');
    expect(await hello('localhost')).toBe('authorized');
    expect(await hello('elsewhere.example.net')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    await new Promise((r) => server.close(r));
  });

  it('refuses a certificate and key that are not a pair, naming both', () => {
    const other = mkdtempSync(join(tmpdir(), 'anemos-tls-other-'));
    autoServerTls(other);
    writeFileSync(join(dir, 'mixed-key.pem'), readFileSync(join(other, 'tls-key.pem')));
    expect(() => loadServerTls(join(dir, 'tls-cert.pem'), join(dir, 'mixed-key.pem'))).toThrow(/do not make a pair: the key is not the certificate's/);
    expect(pinOf(readFileSync(join(other, 'tls-cert.pem')))).not.toBe(pinOf(readFileSync(join(dir, 'tls-cert.pem'))));
    rmSync(other, {recursive: true, force: true});
  });
});
