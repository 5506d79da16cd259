// payload pack and check: a reproducible tar.gz (sorted entries, mtime 0, uid/gid 0,
// modes kept) and the checks that catch a broken payload before it reaches a server.

import {createWriteStream} from 'node:fs';
import {cp, lstat, mkdir, mkdtemp, readFile, rename, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {pipeline} from 'node:stream/promises';
import * as tar from 'tar';
import {sha256File} from '../adapters/fetch.js';
import {evaluateImgbuild, listPayloadFiles, runSandboxed} from '../adapters/payload-dir.js';
import {realRunner, type Runner} from '../adapters/process.js';
import type {Config} from '../core/config.js';
import {projectParts, TEMPLATE_VARIABLES, unknownTemplateVariables} from '../core/imgbuild.js';
import {checkPayloadFiles, type PayloadFile, type PayloadFindings} from '../core/payload-check.js';
import {AnemosError, artifactError, pathMissing} from '../shared/errors.js';

export interface PayloadCheckResult extends PayloadFindings {
  source: string;
  files: number;
}

/** Check a payload directory or archive; shell syntax with sh -n, an IMGBUILD sourced by sh and validated. */
export async function checkPayload(source: string, runner: Runner = realRunner): Promise<PayloadCheckResult> {
  let st;
  try {
    st = await lstat(source);
  } catch {
    throw pathMissing(source, 'The payload', 'Give a payload directory or a .tar.gz/.tar.zst file.');
  }
  if (st.isDirectory()) return checkPayloadDir(runner, source, source);
  // GNU tar, as in the deploy environment: it detects gzip, xz and zstd by itself and
  // refuses absolute names and "..".
  const tmp = await mkdtemp(join(tmpdir(), 'anemos-payload-'));
  try {
    const r = await runner.run('tar', ['-xf', source, '-C', tmp, '--no-same-owner'], {allowFail: true});
    if (r.exitCode !== 0) {
      throw artifactError('payload-not-tar', `${source} is not a readable tar archive: ${r.stderr.trim().split('\n')[0]}`, 'Make payloads with "anemos payload pack DIR".');
    }
    return await checkPayloadDir(runner, tmp, source);
  } finally {
    await rm(tmp, {recursive: true, force: true});
  }
}

async function checkPayloadDir(runner: Runner, dir: string, source: string): Promise<PayloadCheckResult> {
  const files = listPayloadFiles(dir);
  const findings = checkPayloadFiles(files);
  const hook = files.find((f) => f.path === 'check');
  if (hook && hook.type === 'file' && hook.mode & 0o111) await runCheckHook(runner, dir, findings);
  if (findings.kind) {
    const script = join(dir, findings.kind);
    const head = (await readFile(script, 'utf8')).slice(0, 64);
    if (findings.kind === 'IMGBUILD' || /^#!\s*\/bin\/(ba|da)?sh/.test(head)) {
      const r = await runner.run('sh', ['-n', script], {allowFail: true});
      if (r.exitCode !== 0) findings.errors.push(`${findings.kind} has a shell syntax error: ${r.stderr.trim().split('\n')[0]}`);
      else if (findings.kind === 'IMGBUILD') await checkImgbuild(runner, dir, files, findings);
    }
  }
  return {source, files: files.length, ...findings};
}

/**
 * A payload's own check (an executable "check" at its root): what only the payload knows
 * is wrong, such as a placeholder left in its settings. Run like an IMGBUILD's top level,
 * sandboxed; every line it prints on failure is a problem.
 */
async function runCheckHook(runner: Runner, dir: string, findings: PayloadFindings): Promise<void> {
  const r = await runSandboxed(runner, dir, ['{}/check']);
  if (r.timedOut) findings.errors.push('./check did not finish within 30 s.');
  else if (r.exitCode !== 0) {
    const lines = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean);
    findings.errors.push(...(lines.length ? lines.map((l) => `check: ${l}`) : [`./check exited with ${r.exitCode} and said nothing.`]));
  }
}

/** What the deploy environment would refuse before touching the disk, found on the workstation. */
async function checkImgbuild(runner: Runner, dir: string, files: PayloadFile[], findings: PayloadFindings): Promise<void> {
  const img = await evaluateImgbuild(runner, dir, files);
  findings.errors.push(...img.errors);
  findings.warnings.push(...img.warnings);
  if (img.spec) findings.imgbuild = img.spec;
  // Templates and patches are checked even when the IMGBUILD has other problems: all at once.
  const {templates, patches} = img.spec ?? projectParts(files);
  for (const t of templates) {
    const unknown = unknownTemplateVariables(await readFile(join(dir, t), 'utf8'));
    if (unknown.length) findings.errors.push(`${t}: unknown template variable${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{{${u}}}`).join(', ')}; known: ${TEMPLATE_VARIABLES.join(', ')}.`);
  }
  const inFiles = new Set(files.map((f) => f.path));
  for (const p of patches) {
    const text = await readFile(join(dir, p), 'utf8');
    if (!/^@@ -\d+(,\d+)? \+\d+(,\d+)? @@/m.test(text)) {
      findings.errors.push(`${p} is not a unified diff (no "@@ -a,b +c,d @@" hunk); make it with diff -u.`);
      continue;
    }
    // A patch of a file that files/ itself provides can be tried here.
    const base = p.slice(0, -'.makeimg.patch'.length);
    if (inFiles.has(base)) {
      const tmp = await mkdtemp(join(tmpdir(), 'anemos-patch-'));
      try {
        await cp(join(dir, base), join(tmp, 'f'));
        const pr = await runner.run('patch', ['-N', '--dry-run', '-s', '-i', join(dir, p), join(tmp, 'f')], {allowFail: true});
        if (pr.exitCode !== 0) findings.errors.push(`${p} does not apply to ${base}: ${(pr.stdout + pr.stderr).trim().split('\n')[0]}`);
      } finally {
        await rm(tmp, {recursive: true, force: true});
      }
    }
  }
}

export async function packPayload(dir: string, output: string, runner: Runner = realRunner): Promise<{output: string; sha256: string; size: number; check: PayloadCheckResult}> {
  const check = await checkPayload(dir, runner);
  assertPayloadValid(check);
  const files = listPayloadFiles(dir).map((f) => f.path);
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

/**
 * A config whose payload is a directory gets it packed now, into the cache by its sha256
 * (the archive "anemos payload pack" makes, byte for byte): the deploy then goes on as
 * with any payload file. A sha256 given for the directory must be the archive's.
 */
export async function packPayloadDir(runner: Runner, config: Config, cacheDir: string, log: (line: string) => void): Promise<{config: Config; check?: PayloadCheckResult}> {
  const p = config.payload;
  if (!p?.dir) return {config};
  await mkdir(cacheDir, {recursive: true});
  const tmp = join(cacheDir, `payload-pack-${process.pid}.tar.gz`);
  const packed = await packPayload(p.url, tmp, runner);
  const out = join(cacheDir, `payload-${packed.sha256.slice(0, 16)}.tar.gz`);
  await rename(tmp, out);
  log(`Payload: packed the directory ${p.url} (${packed.size} bytes, sha256 ${packed.sha256}).`);
  return {config: {...config, payload: {url: out, sha256: p.sha256 ?? packed.sha256}}, check: packed.check};
}

/**
 * The payload as a deploy takes it, checked before anything changes: a directory is checked
 * and, unless this is a dry run, packed into the cache; an archive on this machine is
 * checked where it is. What the check found goes to the planner (its errors stop the
 * deploy, an IMGBUILD's format is held against deploy.disk). A URL is checked once it is
 * downloaded, which a dry run does not do: said in the plan.
 */
export async function preparePayload(config: Config, o: {mode: 'deploy' | 'test'; dryRun: boolean; cacheDir: string; log: (line: string) => void; runner?: Runner}): Promise<{config: Config; check?: PayloadCheckResult}> {
  const p = config.payload;
  const runner = o.runner ?? realRunner;
  if (!p || o.mode !== 'deploy') return {config};
  if (p.dir && !o.dryRun) {
    const packed = await packPayloadDir(runner, config, o.cacheDir, o.log);
    return {config: packed.config, check: packed.check};
  }
  // An archive here is checked again after it is "fetched" (services/deploy.ts), so only a dry run, which stops before that, checks it now.
  if (p.dir || (o.dryRun && !/^[a-z][a-z0-9+.-]*:/i.test(p.url))) return {config, check: await checkPayload(p.url, runner)};
  return {config};
}

