// The workstation's side of core/payload-sandbox.ts: Node's fs for listing, and the
// sandbox: in /tmp as nobody when we run as root (deploy), else in our TMPDIR, confined to
// namespaces of its own either way (hostPlace).

import {lstatSync, readdirSync, readlinkSync} from 'node:fs';
import {tmpdir} from 'node:os';
import type {PayloadFile} from '../core/payload-check.js';
import * as sandbox from '../core/payload-sandbox.js';
import {EVALUATION_TIMEOUT_MS, type SandboxPlace, type SandboxRun} from '../core/payload-sandbox.js';
import type {ImgbuildFindings} from '../core/imgbuild.js';
import type {Runner} from './process.js';
import {which} from './which.js';
import {preconditionError} from '../shared/errors.js';
import {NOBODY} from '../core/payload-sandbox.js';

export {NOBODY, EVALUATION_TIMEOUT_MS} from '../core/payload-sandbox.js';

export const listPayloadFiles = (dir: string): PayloadFile[] => sandbox.listPayloadFiles({readdirSync: (p) => readdirSync(p), lstatSync}, dir);

/**
 * The operator's machine runs the payload author's code (./check, the IMGBUILD's top
 * level) in namespaces of its own: as root, util-linux's unshare (a PID namespace whose
 * end kills every process in it, setsid or not; no network) and setpriv to nobody; as
 * anyone else, bubblewrap (the same, plus a file system of /usr, /proc, /dev, an empty
 * /tmp and the throwaway copy: none of the operator's files).
 */
export async function hostPlace(): Promise<SandboxPlace> {
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const [unshare, setpriv] = [await which('unshare'), await which('setpriv')];
    if (!unshare || !setpriv) throw preconditionError('sandbox-missing', "Running the payload's own code (./check, the IMGBUILD's top level) needs unshare and setpriv (util-linux), and this host lacks them.", 'Install util-linux.');
    return {
      asRoot,
      tmp: '/tmp',
      confine: (_copy, argv) => [unshare, '--pid', '--fork', '--kill-child', '--mount-proc', '--net', '--ipc', '--uts', '--', setpriv, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', ...argv],
    };
  }
  const bwrap = await which('bwrap');
  if (!bwrap) {
    throw preconditionError(
      'sandbox-missing',
      "The payload's own code (./check, the IMGBUILD's top level) would run as you, with your files and your network: anemos runs it under bubblewrap, which is not installed.",
      'Install it (Debian, Ubuntu: apt install bubblewrap; Fedora: dnf install bubblewrap), or run as root, where it runs as nobody.',
    );
  }
  // /bin, /lib... as the host has them: links into /usr on a merged-/usr system, directories otherwise.
  const roots = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'].flatMap((d) => {
    try {
      const st = lstatSync(`/${d}`);
      return st.isSymbolicLink() ? ['--symlink', readlinkSync(`/${d}`), `/${d}`] : st.isDirectory() ? ['--ro-bind', `/${d}`, `/${d}`] : [];
    } catch {
      return []; // not on this system
    }
  });
  return {
    asRoot,
    tmp: tmpdir(),
    confine: (copy, argv) => [
      bwrap,
      ...['--unshare-all', '--die-with-parent', '--new-session', '--ro-bind', '/usr', '/usr', ...roots],
      // What the tools in /usr read of /etc: the alternatives (awk), the linker's cache.
      ...['--ro-bind-try', '/etc/alternatives', '/etc/alternatives', '--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache'],
      ...['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--bind', copy, copy, '--chdir', copy, '--'],
      ...argv,
    ],
  };
}

export const runSandboxed = async (runner: Runner, dir: string, argv: [string, ...string[]], timeoutMs = EVALUATION_TIMEOUT_MS): Promise<SandboxRun> =>
  sandbox.runSandboxed(runner, await hostPlace(), dir, argv, timeoutMs);

export const evaluateImgbuild = async (runner: Runner, dir: string, files: PayloadFile[] = listPayloadFiles(dir), timeoutMs = EVALUATION_TIMEOUT_MS, purpose: 'deploy' | 'live' = 'deploy'): Promise<ImgbuildFindings> =>
  sandbox.evaluateImgbuild(runner, await hostPlace(), dir, files, timeoutMs, purpose);
