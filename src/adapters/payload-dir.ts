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

/**
 * Source dir/IMGBUILD with the real sh and validate what it set; a failing IMGBUILD is one
 * more error. Its top level is the payload author's code, run on the operator's machine
 * by "payload check" and "deploy": it runs on a throwaway copy of the payload, with an
 * empty environment (HOME is the copy), under a timeout, and as nobody when we are root.
 */
export async function evaluateImgbuild(runner: Runner, dir: string, files: PayloadFile[] = listPayloadFiles(dir), timeoutMs = EVALUATION_TIMEOUT_MS): Promise<ImgbuildFindings> {
  const asRoot = process.getuid?.() === 0;
  // nobody must reach the copy: /tmp is open to all (1777), a TMPDIR may not be (0700).
  const scratch = await mkdtemp(join(asRoot ? '/tmp' : tmpdir(), 'anemos-imgbuild-'));
  try {
    const copy = join(scratch, 'payload');
    await cp(dir, copy, {recursive: true, verbatimSymlinks: true});
    if (asRoot) await chownTree(scratch, NOBODY);
    const env = {PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: copy, LC_ALL: 'C'};
    let r;
    try {
      r = await runner.run('sh', ['-c', evaluatorScript(), 'sh', copy], {allowFail: true, cwd: copy, env, extendEnv: false, timeoutMs, ...(asRoot ? {uid: NOBODY, gid: NOBODY} : {})});
    } catch (err) {
      if (err instanceof AnemosError && /timed out/.test(err.details.join(' '))) {
        return {errors: [`IMGBUILD did not finish within ${timeoutMs / 1000} s when sourced by sh: its top level should only set variables and define functions.`], warnings: []};
      }
      throw err;
    }
    if (r.exitCode !== 0) {
      const why = r.stderr.trim().split('\n').slice(-2).join(' ') || `sh exited with ${r.exitCode}`;
      return {errors: [`IMGBUILD fails when sourced by sh: ${why}`], warnings: []};
    }
    return validateImgbuild(parseEvaluation(r.stdout), files);
  } finally {
    await rm(scratch, {recursive: true, force: true});
  }
}
