// Reading an unpacked payload directory: its file listing, and its IMGBUILD as sh sees it.
// Shared by `payload check` on the workstation and the runner in the deploy environment,
// so both judge a payload the same way.

import {lstatSync, readdirSync} from 'node:fs';
import {chown, cp, lstat, mkdtemp, readdir, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {evaluatorScript, parseEvaluation, validateImgbuild, type ImgbuildFindings} from '../core/imgbuild.js';
import type {PayloadFile} from '../core/payload-check.js';
import {AnemosError} from '../shared/errors.js';
import type {Runner} from './process.js';

/** Every entry under root, sorted, with "/"-separated relative paths; links are not followed. */
export function listPayloadFiles(root: string, rel = ''): PayloadFile[] {
  const out: PayloadFile[] = [];
  for (const n of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${n}` : n;
    const st = lstatSync(join(root, p));
    const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
    out.push({path: p, mode: st.mode & 0o7777, type});
    if (type === 'dir') out.push(...listPayloadFiles(root, p));
  }
  return out;
}

/** Debian's nobody/nogroup, also in the deploy environment's /etc/passwd. */
export const NOBODY = 65534;
export const EVALUATION_TIMEOUT_MS = 30_000;

async function chownTree(path: string, id: number): Promise<void> {
  await chown(path, id, id);
  if ((await lstat(path)).isDirectory()) for (const n of await readdir(path)) await chownTree(join(path, n), id);
}

export interface SandboxRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Run the payload author's code on the operator's machine ("payload check", "deploy"'s
 * preflight) with least privilege: on a throwaway copy of the payload (its cwd, and its
 * HOME), with an empty environment, under a timeout that kills everything it started,
 * and as nobody when we are root. A leading "{}" in argv stands for the copy's path.
 */
export async function runSandboxed(runner: Runner, dir: string, argv: [string, ...string[]], timeoutMs = EVALUATION_TIMEOUT_MS): Promise<SandboxRun> {
  const asRoot = process.getuid?.() === 0;
  // nobody must reach the copy: /tmp is open to all (1777), a TMPDIR may not be (0700).
  const scratch = await mkdtemp(join(asRoot ? '/tmp' : tmpdir(), 'anemos-sandbox-'));
  try {
    const copy = join(scratch, 'payload');
    await cp(dir, copy, {recursive: true, verbatimSymlinks: true});
    if (asRoot) await chownTree(scratch, NOBODY);
    const env = {PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: copy, LC_ALL: 'C'};
    const [cmd, ...args] = argv.map((a) => a.replace(/^\{\}/, copy));
    try {
      const r = await runner.run(cmd!, args, {allowFail: true, cwd: copy, env, extendEnv: false, timeoutMs, ...(asRoot ? {uid: NOBODY, gid: NOBODY} : {})});
      return {...r, timedOut: false};
    } catch (err) {
      if (err instanceof AnemosError && /timed out/.test(err.details.join(' '))) return {exitCode: -1, stdout: '', stderr: '', timedOut: true};
      throw err;
    }
  } finally {
    await rm(scratch, {recursive: true, force: true});
  }
}

/** Source dir/IMGBUILD with the real sh (sandboxed) and validate what it set; a failing IMGBUILD is one more error. */
export async function evaluateImgbuild(runner: Runner, dir: string, files: PayloadFile[] = listPayloadFiles(dir), timeoutMs = EVALUATION_TIMEOUT_MS): Promise<ImgbuildFindings> {
  const r = await runSandboxed(runner, dir, ['sh', '-c', evaluatorScript(), 'sh', '{}'], timeoutMs);
  if (r.timedOut) return {errors: [`IMGBUILD did not finish within ${timeoutMs / 1000} s when sourced by sh: its top level should only set variables and define functions.`], warnings: []};
  if (r.exitCode !== 0) {
    const why = r.stderr.trim().split('\n').slice(-2).join(' ') || `sh exited with ${r.exitCode}`;
    return {errors: [`IMGBUILD fails when sourced by sh: ${why}`], warnings: []};
  }
  return validateImgbuild(parseEvaluation(r.stdout), files);
}
