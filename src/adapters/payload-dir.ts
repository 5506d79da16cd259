// Reading an unpacked payload directory: its file listing, and its IMGBUILD as sh sees it.
// Shared by `payload check` on the workstation and the runner in the deploy environment,
// so both judge a payload the same way.

import {lstatSync, readdirSync} from 'node:fs';
import {join} from 'node:path';
import {evaluatorScript, parseEvaluation, validateImgbuild, type ImgbuildFindings} from '../core/imgbuild.js';
import type {PayloadFile} from '../core/payload-check.js';
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

/** Source dir/IMGBUILD with the real sh and validate what it set; a failing IMGBUILD is one more error. */
export async function evaluateImgbuild(runner: Runner, dir: string, files: PayloadFile[] = listPayloadFiles(dir)): Promise<ImgbuildFindings> {
  const r = await runner.run('sh', ['-c', evaluatorScript(), 'sh', dir], {allowFail: true});
  if (r.exitCode !== 0) {
    const why = r.stderr.trim().split('\n').slice(-2).join(' ') || `sh exited with ${r.exitCode}`;
    return {errors: [`IMGBUILD fails when sourced by sh: ${why}`], warnings: []};
  }
  return validateImgbuild(parseEvaluation(r.stdout), files);
}
