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

/**
 * Run a command on a VM: exit code and output, never throws on failure. Asynchronous, so an
 * HTTP server the guest downloads from can run in the same process. A connection that never
 * got as far as running the command (notConnected: a busy machine) is not the outcome under
 * test: it is tried again within connectWithinMs.
 */
export async function sshStatus(key: string, port: number, command: string, connectWithinMs = 120_000): Promise<{code: number; out: string}> {
  const deadline = Date.now() + connectWithinMs;
  for (;;) {
    const r = await new Promise<{code: number; out: string}>((resolve) =>
      execFile('ssh', [...sshArgs(key, port), command], {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 900_000}, (err, stdout, stderr) =>
        resolve({code: err ? ((err as {code?: number}).code ?? -1) : 0, out: `${stdout}${stderr}`}),
      ),
    );
    if (!notConnected(r.code, r.out) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 3000));
  }
}

/** scp -r a file or directory to the VM, tried again while sshd does not answer (within 120 s). */
export async function scpTo(key: string, port: number, src: string, dest: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  const args = ['-r', '-q', ...sshArgs(key, port).filter((a) => a !== 'root@127.0.0.1').map((a) => (a === '-p' ? '-P' : a)), src, `root@127.0.0.1:${dest}`];
  for (;;) {
    const err = await new Promise<(Error & {stderr?: string}) | undefined>((resolve) => execFile('scp', args, (e, _out, stderr) => resolve(e ? Object.assign(e, {stderr}) : undefined)));
    if (!err) return;
    if (!notConnected(255, err.stderr ?? '') || Date.now() > deadline) throw err;
    await new Promise((res) => setTimeout(res, 3000));
  }
}

/** Poll until the VM answers SSH from the system whose os-release has this VERSION_CODENAME; the last codename seen. */
export async function waitForCodename(key: string, port: number, codename: string, withinMs: number): Promise<string> {
  const deadline = Date.now() + withinMs;
  let seen = '';
  while (Date.now() < deadline) {
    seen = (await sshStatus(key, port, '. /etc/os-release; echo $VERSION_CODENAME')).out.trim();
    if (seen === codename) break;
    await new Promise((res) => setTimeout(res, 3000));
  }
  return seen;
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
