// "--qemu": the same deploy flow, in a local VM instead of on this host. The user's
// way to try a payload on a laptop before touching a server.
import {execFile, execFileSync, spawn} from 'node:child_process';
import {promisify} from 'node:util';
import {closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {beforeAll, describe, expect, it} from 'vitest';
import {ensureBase, sha256, sshKeypair} from '../helpers/deploy-env.js';
import {CLI} from '../helpers/kernel.js';
import {freePort, sshRun} from '../helpers/ssh.js';

describe('deploy --qemu and test-boot --qemu', () => {
  let work: string;
  let operator: {priv: string; pub: string};
  let conf: (payloadSha: string) => string;

  beforeAll(async () => {
    const base = await ensureBase();
    work = mkdtempSync(join(tmpdir(), 'anemos-qemu-'));
    operator = sshKeypair(work, 'operator');
    const p = join(work, 'payload');
    mkdirSync(p);
    writeFileSync(join(p, 'deploy'), '#!/bin/sh\nset -e\nprintf "written by a payload tried in --qemu" | dd of="$ANEMOS_DISK" bs=512 seek=8 conv=notrunc 2>/dev/null\nsync\n', {mode: 0o755});
    const packed = JSON.parse(execFileSync(CLI, ['payload', 'pack', p, '-o', join(work, 'payload.tar.gz'), '--json'], {encoding: 'utf8'}));
    conf = (payloadSha) => {
      const path = join(work, 'anemos.conf');
      writeFileSync(
        path,
        [
          `kernel: {url: ${base.kernel}, sha256: ${sha256(readFileSync(base.kernel))}}`,
          `initramfs: {url: ${base.initramfs}, sha256: ${sha256(readFileSync(base.initramfs))}}`,
          `payload: {url: ${join(work, 'payload.tar.gz')}, sha256: ${payloadSha}}`,
          `access: {ssh_authorized_keys: ["${operator.pub.trim()}"]}`,
          `cache_dir: ${join(work, 'cache')}`,
        ].join('\n'),
      );
      return path;
    };
    conf(packed.sha256);
  });

  it('deploy --qemu --disk: the payload writes the disk image, the VM stops, the CLI reports it', async () => {
    const port = await freePort();
    const disk = join(work, 'disk.img');
    execFileSync('truncate', ['-s', '64M', disk]);
    const {stdout: out} = await promisify(execFile)(CLI, ['deploy', '--qemu', '--disk', disk, '--accel', 'tcg', '--ssh-port', String(port), '--config', join(work, 'anemos.conf')], {encoding: 'utf8', timeout: 300_000});
    expect(out).toMatch(/DEPLOY SUCCEEDED/);
    expect(out).toMatch(/The VM stopped \(exit 0\)/);
    const fd = openSync(disk, 'r');
    const buf = Buffer.alloc(40);
    readSync(fd, buf, 0, 40, 8 * 512);
    closeSync(fd);
    expect(buf.toString('latin1').startsWith('written by a payload tried in --qemu')).toBe(true);
  }, 400_000);

  it('deploy --qemu without --disk is a usage error', () => {
    let code = 0;
    let stderr = '';
    try {
      execFileSync(CLI, ['deploy', '--qemu', '--config', join(work, 'anemos.conf')], {encoding: 'utf8', stdio: 'pipe'});
    } catch (err) {
      code = (err as {status: number}).status;
      stderr = (err as {stderr: string}).stderr;
    }
    expect(code).toBe(2);
    expect(stderr).toMatch(/needs a disk image[\s\S]*truncate -s 8G disk\.img/);
  });

  it('test-boot --qemu: the console says how to connect, and SSH reaches the deploy environment', async () => {
    const port = await freePort();
    const log = join(work, 'test-boot.out');
    const fd = openSync(log, 'w');
    const child = spawn(CLI, ['test-boot', '--qemu', '--accel', 'tcg', '--ssh-port', String(port), '--config', join(work, 'anemos.conf')], {stdio: ['ignore', fd, fd]});
    try {
      const deadline = Date.now() + 180_000;
      while (!/TEST MODE READY/.test(readFileSync(log, 'utf8'))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no TEST MODE READY:\n${readFileSync(log, 'utf8').slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(readFileSync(log, 'utf8')).toContain(`ssh -p ${port} root@127.0.0.1`);
      expect(await sshRun(operator.priv, port, 'cat /proc/cmdline')).toMatch(/anemos\.mode=test/);
    } finally {
      // The VM is QEMU, a child of the CLI on the same terminal: stop both.
      spawn('pkill', ['-f', `hostfwd=tcp:127.0.0.1:${port}-`]);
      child.kill('SIGTERM');
    }
  }, 300_000);
});
