// Reading an unpacked payload directory: its file listing, and its IMGBUILD as sh sees it.
// Shared by `payload check` on the workstation (Node, adapters/payload-dir.ts) and the
// runner in the deploy environment (QuickJS), so both judge a payload the same way. No
// runtime of its own: files are read through the `PayloadFs` handed in, and the sandbox is
// made with the Runner's commands (mktemp, cp -a, chown -R -h, rm -rf).

import {evaluatorScript, parseEvaluation, validateImgbuild, type ImgbuildFindings} from './imgbuild.js';
import type {PayloadFile} from './payload-check.js';
import {AnemosError} from '../shared/errors.js';
import type {Runner} from '../shared/command.js';

/** What listing a directory needs: Node's fs and the agent's runtime both have it. */
export interface PayloadFs {
  readdirSync(path: string): string[];
  lstatSync(path: string): {mode: number; isDirectory(): boolean; isSymbolicLink(): boolean};
}

/** Every entry under root, sorted, with "/"-separated relative paths; links are not followed. */
export function listPayloadFiles(fsys: PayloadFs, root: string, rel = ''): PayloadFile[] {
  const out: PayloadFile[] = [];
  for (const n of fsys.readdirSync(rel ? `${root}/${rel}` : root).sort()) {
    const p = rel ? `${rel}/${n}` : n;
    const st = fsys.lstatSync(`${root}/${p}`);
    const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
    out.push({path: p, mode: st.mode & 0o7777, type});
    if (type === 'dir') out.push(...listPayloadFiles(fsys, root, p));
  }
  return out;
}

/** Debian's nobody/nogroup, also in the deploy environment's /etc/passwd. */
export const NOBODY = 65534;
export const EVALUATION_TIMEOUT_MS = 30_000;

/** Where the throwaway copy goes, and whether it runs as nobody (we are root). */
export interface SandboxPlace {
  asRoot: boolean;
  /** A directory nobody can reach when asRoot: /tmp (1777), not a 0700 TMPDIR. */
  tmp: string;
  /**
   * The command line that confines argv (run in the copy) to namespaces of its own, where
   * the host has the tools: its whole process tree dies with it (a setsid child too), it
   * has no network, and, run as the operator, it sees nothing of the operator's files.
   * When given, it also takes over the change to nobody.
   */
  confine?: (copy: string, argv: string[]) => string[];
}

export interface SandboxRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Run the payload author's code with least privilege: on a throwaway copy of the payload
 * (its cwd, and its HOME), with an empty environment, under a timeout that kills
 * everything it started, and as nobody when we are root. A leading "{}" in argv stands
 * for the copy's path.
 */
export async function runSandboxed(runner: Runner, place: SandboxPlace, dir: string, argv: [string, ...string[]], timeoutMs = EVALUATION_TIMEOUT_MS): Promise<SandboxRun> {
  const scratch = (await runner.run('mktemp', ['-d', `${place.tmp}/anemos-sandbox-XXXXXX`])).stdout.trim();
  try {
    const copy = `${scratch}/payload`;
    await runner.run('cp', ['-a', dir, copy]);
    // -h: a link in the payload is changed itself, never what it points at.
    if (place.asRoot) await runner.run('chown', ['-R', '-h', `${NOBODY}:${NOBODY}`, scratch]);
    const env = {PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', HOME: copy, LC_ALL: 'C'};
    const inCopy = argv.map((a) => a.replace(/^\{\}/, copy));
    const [cmd, ...args] = place.confine ? place.confine(copy, inCopy) : inCopy;
    try {
      const r = await runner.run(cmd!, args, {allowFail: true, cwd: copy, env, extendEnv: false, timeoutMs, ...(place.asRoot && !place.confine ? {uid: NOBODY, gid: NOBODY} : {})});
      return {...r, timedOut: false};
    } catch (err) {
      if (err instanceof AnemosError && /timed out/.test(err.details.join(' '))) return {exitCode: -1, stdout: '', stderr: '', timedOut: true};
      throw err;
    }
  } finally {
    await runner.run('rm', ['-rf', scratch], {allowFail: true});
  }
}

/** Source dir/IMGBUILD with the real sh (sandboxed) and validate what it set; a failing IMGBUILD is one more error. */
export async function evaluateImgbuild(runner: Runner, place: SandboxPlace, dir: string, files: PayloadFile[], timeoutMs = EVALUATION_TIMEOUT_MS, purpose: 'deploy' | 'live' = 'deploy'): Promise<ImgbuildFindings> {
  const r = await runSandboxed(runner, place, dir, ['sh', '-c', evaluatorScript(), 'sh', '{}'], timeoutMs);
  if (r.timedOut) return {errors: [`IMGBUILD did not finish within ${timeoutMs / 1000} s when sourced by sh: its top level should only set variables and define functions.`], warnings: []};
  if (r.exitCode !== 0) {
    const why = r.stderr.trim().split('\n').slice(-2).join(' ') || `sh exited with ${r.exitCode}`;
    return {errors: [`IMGBUILD fails when sourced by sh: ${why}`], warnings: []};
  }
  return validateImgbuild(parseEvaluation(r.stdout), files, purpose);
}
