// An Alpine index and package made the way abuild makes them (a signature member, then
// the index, or a control and a data member), signed with a key made here.

import {createHash, generateKeyPairSync, sign} from 'node:crypto';
import {gzipSync} from 'node:zlib';

/** A ustar entry; the end-of-archive blocks only when asked (abuild cuts them from the first members). */
export function tar(files: Record<string, Buffer | string>, end: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.write(`${[...h].reduce((a, b) => a + b, 0).toString(8).padStart(6, '0')}\0 `, 148);
    parts.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const newKey = () => generateKeyPairSync('rsa', {modulusLength: 2048});
export const publicPem = (k: ReturnType<typeof newKey>) => k.publicKey.export({type: 'spki', format: 'pem'}) as string;
export const ALPINE_KEY_NAME = 'alpine-devel@example.org-0badcafe.rsa.pub';

function signed(member: Buffer, by: ReturnType<typeof newKey>, hash: 'sha1' | 'sha256' = 'sha1'): Buffer {
  return gzipSync(tar({[`.SIGN.RSA${hash === 'sha256' ? '256' : ''}.${ALPINE_KEY_NAME}`]: sign(hash, member, by.privateKey)}, false));
}

export function makePackage(by: ReturnType<typeof newKey>, o: {data?: string} = {}) {
  const data = gzipSync(tar({'sbin/apk.static': o.data ?? 'an ELF, honest'}, true));
  const control = gzipSync(tar({'.PKGINFO': `pkgname = apk-tools-static\npkgver = 2.14.9-r0\ndatahash = ${createHash('sha256').update(data).digest('hex')}\n`}, false));
  return {control, data, apk: Buffer.concat([signed(control, by), control, data])};
}

export function makeIndex(control: Buffer, by: ReturnType<typeof newKey>, o: {hash?: 'sha1' | 'sha256'} = {}) {
  const checksum = `Q1${createHash('sha1').update(control).digest('base64')}`;
  const index = gzipSync(tar({DESCRIPTION: 'v3.22.2-1-gdeadbeef', APKINDEX: `C:Q1abcdefghijklmnopqrstuvwxyzA=\nP:busybox\nV:1.37.0-r19\n\nC:${checksum}\nP:apk-tools-static\nV:2.14.9-r0\n\n`}, true));
  return Buffer.concat([signed(index, by, o.hash), index]);
}
