// The read-only TFTP server against a real client (curl's TFTP, on loopback): files served
// byte for byte at each block size, nothing outside its directory (names with "..", links
// that point out), no writes, hostile datagrams, and a client that stops answering.

import {execFile} from 'node:child_process';
import {createHash, randomBytes} from 'node:crypto';
import {createSocket} from 'node:dgram';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {startTftpServer, type TftpServer} from '../../src/adapters/tftp-server.js';
import {prng} from '../helpers/prng.js';

const run = promisify(execFile);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('TFTP server (read-only, one directory)', () => {
  let dir: string;
  let root: string;
  let server: TftpServer;
  const lines: string[] = [];
  const files: Record<string, Buffer> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'anemos-tftp-'));
    root = join(dir, 'ipxe');
    mkdirSync(join(root, 'efi'), {recursive: true});
    files['undionly.kpxe'] = randomBytes(70_329);
    files['efi/snponly.efi'] = randomBytes(512 * 40); // a size blocks divide: the transfer ends with an empty block
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(root, name), bytes);
    writeFileSync(join(dir, 'secret'), 'not for the network\n');
    symlinkSync(join(dir, 'secret'), join(root, 'leak'));
    server = await startTftpServer({root, address: '127.0.0.1', port: 0, timeoutMs: 200, tries: 3, log: (l) => lines.push(l)});
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, {recursive: true, force: true});
  });

  const curl = async (path: string, ...extra: string[]) => {
    const out = join(dir, `got-${Math.random().toString(36).slice(2)}`);
    const r = await run('curl', ['-sS', '--max-time', '5', ...extra, '-o', out, `tftp://127.0.0.1:${server.port}/${path}`]).then(
      () => ({code: 0, stderr: ''}),
      (err: {code: number; stderr: string}) => ({code: err.code, stderr: err.stderr}),
    );
    let bytes: Buffer | undefined;
    try {
      bytes = readFileSync(out);
    } catch {
      bytes = undefined;
    }
    return {...r, bytes};
  };

  it('serves each file byte for byte, at the default block size and at a negotiated one', async () => {
    for (const [name, bytes] of Object.entries(files)) {
      for (const extra of [[], ['--tftp-blksize', '1468']]) {
        const r = await curl(name, ...extra);
        expect(r.code, `${name} ${extra.join(' ')}: ${r.stderr}`).toBe(0);
        expect(sha(r.bytes!), `${name} ${extra.join(' ')}`).toBe(sha(bytes));
      }
    }
    expect(lines.filter((l) => /^tftp: 127\.0\.0\.1:\d+ undionly\.kpxe: 70329 bytes sent$/.test(l))).toHaveLength(2);
  });

  it('serves nothing outside its directory: not by "..", not through a link, not a file that is not there', async () => {
    for (const path of ['../secret', '..%2fsecret', 'leak', 'efi/../../secret', 'nope']) {
      const r = await curl(path);
      expect(r.code, path).not.toBe(0);
      expect(r.bytes?.toString() ?? '', path).not.toContain('not for the network');
    }
    expect(lines.some((l) => /leak: not a file of the served directory/.test(l))).toBe(true);
  });

  it('refuses a write, and survives hostile datagrams: it still serves afterwards', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    const send = (b: Uint8Array) => new Promise<void>((resolve) => sock.send(b, server.port, '127.0.0.1', () => resolve()));
    await send(Uint8Array.from([0, 2, ...Buffer.from('x\0octet\0')]));
    // curl tidies "../" out of a URL; a raw request keeps it, and is refused for it.
    await send(Uint8Array.from([0, 1, ...Buffer.from('../secret\0octet\0')]));
    const rand = prng(7).int;
    for (let i = 0; i < 500; i++) await send(Uint8Array.from({length: rand(700)}, () => rand(256)));
    for (let i = 0; i < 250 && replies.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    expect(replies[0]!.subarray(0, 4)).toEqual(Buffer.from([0, 5, 0, 2]));
    expect(replies[0]!.toString('latin1')).toContain('read-only');
    expect(replies[1]!.subarray(0, 4)).toEqual(Buffer.from([0, 5, 0, 2]));
    expect(replies[1]!.toString('latin1')).toContain('"../secret" is not a file of the served directory');
    expect(replies.some((m) => m.toString('latin1').includes('not for the network'))).toBe(false);
    const r = await curl('undionly.kpxe');
    expect(sha(r.bytes!)).toBe(sha(files['undionly.kpxe']!));
  });

  it('gives up on a client that stops answering: its transfer ends after a few tries', async () => {
    // A server of its own, with a second between tries: the checks below hold under a loaded machine.
    const slow = await startTftpServer({root, address: '127.0.0.1', port: 0, timeoutMs: 1000, tries: 3});
    const sock = createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    let blocks = 0;
    sock.on('message', () => blocks++);
    const until = async (what: string, ok: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!ok()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const t0 = Date.now();
    sock.send(Uint8Array.from([0, 1, ...Buffer.from('undionly.kpxe\0octet\0')]), slow.port, '127.0.0.1');
    await until('the first block', () => blocks === 1, 5000);
    expect(slow.active()).toBe(1);
    // 3 sends of block 1, a second apart, then the transfer is dropped.
    await until('the transfer to be given up', () => slow.active() === 0, 15_000);
    expect(blocks).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2900);
    sock.close();
    await slow.close();
  });
});
