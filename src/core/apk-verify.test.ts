// An Alpine index and package made here the way abuild makes them (a signature member,
// then the index, or a control and a data member), signed with a key made here: verified,
// and each way of tampering with them refused.

import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {createHash, sign} from 'node:crypto';
import {gunzipSync, gzipSync} from 'node:zlib';
import {ALPINE_KEY_NAME, makeIndex, makePackage, newKey, publicPem, tar} from '../../test/helpers/alpine.js';
import {describe, expect, it} from 'vitest';
import {crc32, gzipMembers, parseRsaPublicKey, rsaVerify, verifyIndex, verifyPackage, type ApkTools} from './apk-verify.js';

const key = newKey();
const other = newKey();
const KEY = ALPINE_KEY_NAME;
const pem = publicPem;
const makePackageBy = (o: {data?: string} = {}) => makePackage(key, o);
const makeIndexBy = (control: Buffer, o: {by?: ReturnType<typeof newKey>; hash?: 'sha1' | 'sha256'} = {}) => makeIndex(control, o.by ?? key, {hash: o.hash});

const tools = (keys: Record<string, string> = {[KEY]: pem(key)}): ApkTools => ({
  key: (name) => keys[name],
  gunzip: async (b) => new Uint8Array(gunzipSync(b)),
  digest: async (hash, b) => new Uint8Array(createHash(hash).update(b).digest()),
});

describe("Alpine's signatures, checked before apk.static runs", () => {
  it('finds the gzip members by their trailers, and checks an RSA signature the way openssl makes it', () => {
    const {control, data, apk} = makePackageBy();
    const members = gzipMembers(apk, gunzipSync(apk));
    expect(members.map((m) => m.start)).toEqual([0, apk.length - control.length - data.length, apk.length - data.length]);
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    // One of Alpine's own keys (4096-bit), as Debian's alpine-chroot-install carries it.
    const alpine = parseRsaPublicKey(readFileSync(join(__dirname, '../../test/fixtures/alpine/alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub'), 'utf8'));
    expect([alpine.bytes, alpine.e]).toEqual([512, 65537n]);
    const k = parseRsaPublicKey(pem(key));
    expect(k.bytes).toBe(256);
    const digest = createHash('sha256').update('message').digest();
    expect(rsaVerify(k, sign('sha256', Buffer.from('message'), key.privateKey), digest, 'sha256')).toBe(true);
    expect(rsaVerify(k, sign('sha256', Buffer.from('message'), other.privateKey), digest, 'sha256')).toBe(false);
  });

  it('verifies an index signed by a trusted key (SHA-1 or SHA-256), then a package by its checksum and datahash', async () => {
    const {control, apk} = makePackageBy();
    for (const hash of ['sha1', 'sha256'] as const) {
      const index = await verifyIndex(tools(), makeIndexBy(control, {hash}));
      expect(await verifyPackage(tools(), index, 'apk-tools-static', apk)).toEqual({version: '2.14.9-r0'});
    }
  });

  it('refuses an index signed by an unknown key, or changed after signing', async () => {
    const {control} = makePackageBy();
    await expect(verifyIndex(tools({}), makeIndexBy(control))).rejects.toThrow(`the index is signed by ${KEY}, which is not one of the trusted keys`);
    await expect(verifyIndex(tools(), makeIndexBy(control, {by: other}))).rejects.toThrow(`the index's signature by ${KEY} does not match it`);
    // One bit of the signed member changed (its stored CRC fixed up so gzip still reads it): the signature refuses it.
    const index = makeIndexBy(control);
    const start = gzipMembers(index, gunzipSync(index))[1]!.start;
    const tampered = Buffer.from(index);
    tampered[start + 4] = tampered[start + 4]! ^ 1; // the gzip header's mtime: gunzip does not mind, the signature does
    await expect(verifyIndex(tools(), tampered)).rejects.toThrow(`the index's signature by ${KEY} does not match it`);
    await expect(verifyIndex(tools(), gzipSync(tar({APKINDEX: 'P:x\n'}, true)))).rejects.toThrow(/1 gzip member\(s\)/);
  });

  it('refuses a package whose control or data is not the one the signed index names', async () => {
    const {control} = makePackageBy();
    const index = await verifyIndex(tools(), makeIndexBy(control));
    const swapped = makePackageBy({data: 'a different binary'});
    await expect(verifyPackage(tools(), index, 'apk-tools-static', swapped.apk)).rejects.toThrow(/control checksum is Q1\S+, the signed index says Q1/);
    // The control kept, the data swapped: its datahash no longer matches.
    const own = makePackageBy();
    const mixed = Buffer.concat([own.apk.subarray(0, own.apk.length - own.data.length), swapped.data]);
    await expect(verifyPackage(tools(), await verifyIndex(tools(), makeIndexBy(own.control)), 'apk-tools-static', mixed)).rejects.toThrow(/data has sha256 \w+, its signed control says \w+/);
    await expect(verifyPackage(tools(), index, 'apk-tools', own.apk)).rejects.toThrow('the index lists no package apk-tools');
  });
});
