import {execFile} from 'node:child_process';
import {createServer, type AddressInfo} from 'node:net';
import {promisify} from 'node:util';

const run = promisify(execFile);

export function sshArgs(key: string, port: number): string[] {
  return ['-i', key, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10', '-o', 'BatchMode=yes',
    // A VM that reboots under an open session never closes it: give up after ~15 s of silence.
    '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3', 'root@127.0.0.1'];
}

/**
 * ssh failed before the remote command could start (exit 255 and a connection-level
 * message): on a busy machine a VM's sshd can be slow to answer. Not the outcome of a test.
 */
export function notConnected(code: number, output: string): boolean {
  return code === 255 && /banner exchange|Connection refused|Connection timed out|kex_exchange_identification|No route to host|lost connection/.test(output);
}

/** Run a command over SSH, retrying until the server answers or the deadline passes. */
export async function sshRun(key: string, port: number, command: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await run('ssh', [...sshArgs(key, port), command], {timeout: 60_000});
      return r.stdout;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

export async function hostKeyFingerprint(port: number): Promise<string> {
  const scan = await run('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1']);
  const fp = await new Promise<string>((resolve, reject) => {
    const child = execFile('ssh-keygen', ['-lf', '-'], (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin!.end(scan.stdout);
  });
  return fp.split(' ')[1];
}

/** A loopback port free right now, for QEMU's hostfwd. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
