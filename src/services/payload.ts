// payload pack and check: a reproducible tar.gz (sorted entries, mtime 0, uid/gid 0,
// modes kept) and the checks that catch a broken payload before it reaches a server.

import {createWriteStream} from 'node:fs';
import {lstat, readdir} from 'node:fs/promises';
import {join} from 'node:path';
import {pipeline} from 'node:stream/promises';
import * as tar from 'tar';
import {sha256File} from '../adapters/fetch.js';
import type {Runner} from '../adapters/process.js';
import {checkPayloadFiles, type PayloadFile, type PayloadFindings} from '../core/payload-check.js';
import {AnemosError, artifactError, usageError} from '../shared/errors.js';

async function walk(root: string, rel = ''): Promise<PayloadFile[]> {
  const out: PayloadFile[] = [];
  const names = (await readdir(join(root, rel))).sort();
  for (const n of names) {
    const p = rel ? `${rel}/${n}` : n;
    const st = await lstat(join(root, p));
    const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
    out.push({path: p, mode: st.mode & 0o7777, type});
    if (type === 'dir') out.push(...(await walk(root, p)));
  }
  return out;
}

async function listArchive(file: string): Promise<PayloadFile[]> {
  const files: PayloadFile[] = [];
  try {
    await tar.t({
      file,
      onReadEntry: (e) => {
        const path = e.path.replace(/^\.\//, '').replace(/\/$/, '');
        if (path) files.push({path, mode: e.mode ?? 0, type: e.type === 'Directory' ? 'dir' : e.type === 'SymbolicLink' ? 'symlink' : 'file'});
      },
    });
  } catch (err) {
    throw artifactError('payload-not-tar', `${file} is not a readable tar archive: ${(err as Error).message}.`, 'Make payloads with "anemos payload pack DIR".');
  }
  return files;
}

export interface PayloadCheckResult extends PayloadFindings {
  source: string;
  files: number;
}

/** Check a payload directory or archive; shell syntax of deploy/IMGBUILD with sh -n. */
export async function checkPayload(runner: Runner, source: string): Promise<PayloadCheckResult> {
  let st;
  try {
    st = await lstat(source);
  } catch {
    throw usageError('payload-missing', `${source} does not exist.`, 'Give a payload directory or a .tar.gz/.tar.zst file.');
  }
  const files = st.isDirectory() ? await walk(source) : await listArchive(source);
  const findings = checkPayloadFiles(files);
  if (st.isDirectory() && findings.kind) {
    const script = join(source, findings.kind);
    const head = (await runner.run('head', ['-c', '64', script])).stdout;
    if (findings.kind === 'IMGBUILD' || /^#!\s*\/bin\/(ba|da)?sh/.test(head)) {
      const r = await runner.run('sh', ['-n', script], {allowFail: true});
      if (r.exitCode !== 0) findings.errors.push(`${findings.kind} has a shell syntax error: ${r.stderr.trim().split('\n')[0]}`);
    }
  }
  return {source, files: files.length, ...findings};
}

export async function packPayload(runner: Runner, dir: string, output: string): Promise<{output: string; sha256: string; size: number; check: PayloadCheckResult}> {
  const check = await checkPayload(runner, dir);
  assertPayloadValid(check);
  const files = (await walk(dir)).map((f) => f.path);
  await pipeline(
    tar.c({cwd: dir, gzip: {level: 9}, portable: true, mtime: new Date(0), noDirRecurse: true, prefix: ''}, files),
    createWriteStream(output),
  );
  const sha256 = await sha256File(output);
  const {size} = await lstat(output);
  return {output, sha256, size, check};
}

export function assertPayloadValid(check: PayloadCheckResult): void {
  if (check.errors.length) {
    throw new AnemosError('artifact', 'payload-invalid', `${check.source} is not a valid payload.`, {hint: 'Fix each problem listed, then check again.', details: check.errors});
  }
}
