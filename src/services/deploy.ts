// deploy = facts → plan → (confirm) → fetch → compose → load → exec. Every check that
// can fail runs before the load phase; load itself changes nothing persistent (kexec)
// or only /boot/anemos and grubenv (bootloader); exec is the one irreversible step.
// What to stage, load and exec is the boot method's answer (core/boot-methods/); every
// command on the host goes through deps.runner and every file through deps.files, so the
// host may be this machine or one reached over SSH (anemos deploy --host). The payload is
// always fetched, checked and packed where anemos runs ("here"), the kernel and the base
// where they boot.

import {createReadStream} from 'node:fs';
import {join} from 'node:path';
import type {ArtifactSpec, FetchedArtifact, FetchOptions} from '../adapters/fetch.js';
import type {HostFiles} from '../adapters/host-files.js';
import type {Runner} from '../adapters/process.js';
import {commandLine} from '../adapters/process.js';
import {BOOT_METHODS} from '../core/boot-methods/index.js';
import {RAM_KEEP_KIB, validateBootConfig, type BootConfig, type ReportTarget} from '../core/boot-contract.js';
import {liveRamNeed} from '../core/live/image.js';
import {checkMemory, diskProblems, preflightError, type DeployPlan, type Phase} from '../core/deploy-plan.js';
import type {HostFacts} from '../core/host-facts.js';
import {zstdContentSize} from '../core/initramfs-format.js';
import {needsSignedKernel, PE_HEADER_BYTES, peSigned} from '../core/kernel-image.js';
import {planSegments, type SegmentSpec} from '../core/segments.js';
import {AnemosError, artifactError, preconditionError} from '../shared/errors.js';
import type {ProgressSink} from '../shared/progress.js';
import {composeInitramfs, type ComposeResult} from '../adapters/compose.js';
import {checkPayload, type PayloadCheckResult} from './payload.js';

export interface DeployDeps {
  /** The host's commands. */
  runner: Runner;
  /** Kernel and base initramfs onto the host, sha256-checked there. */
  fetch: (spec: ArtifactSpec, opts: FetchOptions) => Promise<FetchedArtifact>;
  /** The host's files: host keys to carry, the boot method's staged files, the first bytes of kernel and base. */
  files: HostFiles;
  /** Where anemos runs: the payload is fetched and checked here (defaults: the host's own). */
  here?: {runner: Runner; fetch: (spec: ArtifactSpec, opts: FetchOptions) => Promise<FetchedArtifact>; cacheDir: string};
  /** base ‖ segments into output on the host (default: composeInitramfs, for a local host). */
  compose?: (base: FetchedArtifact, segments: SegmentSpec[], output: string, opts: {progress: ProgressSink; elsewhere: string}) => Promise<ComposeResult>;
  progress: ProgressSink;
  log: (line: string) => void;
  now: () => number;
  /** The registry (config report:); it never fails the deploy (a warning at most). */
  registry?: DeployRecorder;
}

/**
 * What a deploy tells the registry: the deployment, before the deploy environment is
 * composed (the token it answers with goes into config.json), event 0 at the hand-over,
 * and the reason when the deploy stops before it.
 */
export interface DeployRecorder {
  begin(artifacts: FetchedArtifact[]): Promise<ReportTarget | undefined>;
  handover(): Promise<void>;
  abort(reason: string): Promise<void>;
}

export interface DeployResult {
  artifacts: FetchedArtifact[];
  composed?: ComposeResult;
  commands: string[];
  timings: Record<string, number>;
  executed: boolean;
}

/**
 * A bzImage carries "HdrS" at 0x202 (Documentation/arch/x86/boot.rst). Under Secure Boot or
 * lockdown it must also be signed: an unsigned one would be refused by kexec_file_load (or
 * shim) after the host was prepared; here it is refused before anything changes.
 */
export async function checkKernelImage(files: HostFiles, path: string, url: string, facts?: Pick<HostFacts, 'platform' | 'kexec'>): Promise<void> {
  const buf = Buffer.from(await files.readRange(path, 0x202, 4));
  if (buf.toString('ascii') !== 'HdrS') {
    throw artifactError('kernel-not-bzimage', `The kernel from ${url} is not an x86 bzImage (no "HdrS" header at 0x202).`, 'Point kernel.url at a vmlinuz file, e.g. the one "anemos initramfs build" writes.');
  }
  const why = facts && needsSignedKernel(facts);
  if (!why) return;
  const lfanew = Buffer.from(await files.readRange(path, 0x3c, 4)).readUInt32LE(0);
  const signed = peSigned(await files.readRange(path, lfanew, PE_HEADER_BYTES));
  if (signed !== true) {
    throw preconditionError(
      'kernel-unsigned',
      `${why[0].toUpperCase()}${why.slice(1)}: only a signed kernel can be booted here, and the kernel from ${url} ${signed === false ? 'carries no signature' : 'is not an EFI (PE) image that could carry one'}. Nothing was changed.`,
      'Use a kernel your distribution signed (Debian: the vmlinuz of a linux-image-*-amd64 package, which "anemos initramfs build" uses), or sign it with a key enrolled in the firmware or MOK.',
    );
  }
}

/** The payload must be a tar with ./deploy or ./IMGBUILD at its root (GNU tar detects the compression). */
export async function checkPayloadArchive(runner: Runner, path: string, url: string): Promise<PayloadCheckResult> {
  const r = await runner.run('tar', ['-tf', path], {allowFail: true});
  if (r.exitCode !== 0) {
    throw artifactError('payload-not-tar', `The payload from ${url} is not a tar archive (tar: ${r.stderr.trim().split('\n')[0]}).`, 'Make payloads with "anemos payload pack DIR".');
  }
  const names = new Set(r.stdout.split('\n').map((n) => n.replace(/^\.\//, '')));
  if (!names.has('deploy') && !names.has('IMGBUILD')) {
    throw artifactError('payload-no-entry', `The payload from ${url} has neither "deploy" nor "IMGBUILD" at its root.`, 'Put an executable deploy script or an IMGBUILD at the top of the payload directory and pack it again.');
  }
  // What the deploy environment would refuse after the reboot is refused here, before it:
  // an invalid IMGBUILD, a deploy script with a syntax error, the payload's own ./check.
  const check = await checkPayload(path, runner);
  if (check.errors.length) {
    const what = check.kind === 'IMGBUILD' && !check.errors.some((e) => e.startsWith('check: ')) ? 'The IMGBUILD in the payload' : 'The payload';
    throw new AnemosError('artifact', 'payload-invalid', `${what} from ${url} is not valid; nothing was changed.`, {
      hint: 'Fix the payload directory ("anemos payload check DIR" shows the same list), pack it again and update payload.sha256.',
      details: check.errors,
    });
  }
  return check;
}

/** Unpacked size of a zstd initramfs if its frame says so, else a conservative estimate. */
async function unpackedEstimate(files: HostFiles, path: string, size: number): Promise<{bytes: number; exact: boolean}> {
  const n = zstdContentSize(Buffer.from(await files.readRange(path, 0, 18)));
  return n !== undefined ? {bytes: n, exact: true} : {bytes: size * 4, exact: false};
}

/** The detached exec: wait the delay, sync, say so in the kernel log, then exec the method's command. */
export const HAND_OVER = 'sleep "$1"; shift; sync; echo "anemos: handing over: $*" 2>/dev/null >/dev/kmsg; exec "$@"';

export async function executeDeploy(plan: DeployPlan, facts: HostFacts, deps: DeployDeps, opts: {cacheDir: string; allowUnverified: boolean; baseDir: string}): Promise<DeployResult> {
  const timings: Record<string, number> = {};
  const has = (p: Phase) => plan.phases.includes(p);
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = deps.now();
    try {
      return await f();
    } finally {
      timings[name] = (deps.now() - t0) / 1000;
    }
  };
  const result: DeployResult = {artifacts: [], commands: [], timings, executed: false};

  const here = deps.here ?? {runner: deps.runner, fetch: deps.fetch, cacheDir: opts.cacheDir};
  // fetch: everything verified before any step that changes the host.
  const fetched = await timed('fetch', async () => {
    const out: Record<string, FetchedArtifact> = {};
    for (const a of plan.artifacts) {
      out[a.name] = await (a.name === 'payload' ? here.fetch : deps.fetch)(a, {
        cacheDir: a.name === 'payload' ? here.cacheDir : opts.cacheDir,
        allowUnverified: opts.allowUnverified,
        baseDir: opts.baseDir,
        onProgress: (p) =>
          p.done
            ? deps.progress.finish(`fetch ${p.name}`, `${p.received} bytes, ${p.verified ? 'sha256 verified' : 'UNVERIFIED (no sha256 to check against)'}`)
            : deps.progress.update(`fetch ${p.name}`, p.received, p.total),
      });
    }
    return out;
  });
  // A live image's layers: checked against their manifests' sha256 where anemos runs, like a payload.
  const layers = await timed('fetch layers', async () => {
    const out: FetchedArtifact[] = [];
    for (const l of plan.live?.layers ?? []) {
      out.push(
        await here.fetch(
          {name: `layer ${l.name}`, url: l.file, sha256: l.sha256},
          {
            cacheDir: here.cacheDir,
            baseDir: opts.baseDir,
            onProgress: (p) => (p.done ? deps.progress.finish(`fetch ${p.name}`, `${p.received} bytes, sha256 verified`) : deps.progress.update(`fetch ${p.name}`, p.received, p.total)),
          },
        ),
      );
    }
    return out;
  });
  result.artifacts = [...Object.values(fetched), ...layers];
  await checkKernelImage(deps.files, fetched.kernel.path, fetched.kernel.url, facts);
  // What the payload check warns of (an UNVERIFIED Alpine bootstrap, secrets in the clear) is said before anything changes.
  if (fetched.payload) {
    const check = await checkPayloadArchive(here.runner, fetched.payload.path, fetched.payload.url);
    for (const w of check.warnings) deps.log(`WARNING: ${w}`);
    // A downloaded IMGBUILD is held against deploy.disk here, as one on this machine was in the plan.
    const stop = preflightError(diskProblems(plan.bootConfig.disk, facts, check).problems);
    if (stop) throw stop;
  }
  const unpacked = await unpackedEstimate(deps.files, fetched.initramfs.path, fetched.initramfs.size);
  const payloadUnpacked = (fetched.payload?.size ?? 0) * 3;
  const layersBytes = layers.reduce((n, l) => n + l.size, 0);
  const mem = checkMemory(facts, {kernel: fetched.kernel.size, initramfs: fetched.initramfs.size + (fetched.payload?.size ?? 0) + layersBytes, unpacked: unpacked.bytes + payloadUnpacked + layersBytes, payloadUnpacked});
  if (mem) throw preconditionError('ram-too-small', mem, 'Use a machine with more RAM, or a smaller base initramfs/payload; nothing was changed.');
  if (plan.live && plan.bootConfig.live) {
    const need = liveRamNeed({layersBytes, baseUnpackedBytes: unpacked.bytes, agentBytes: RAM_KEEP_KIB * 1024, tmpfsMib: plan.bootConfig.live.tmpfs_mib});
    deps.log(`live image ${plan.live.name}: ${plan.live.layers.map((l) => l.name).join(' → ')}, needs about ${need.words}`);
    if (facts.memory.totalBytes < need.bytes) {
      throw preconditionError('ram-too-small', `This machine has ${Math.round(facts.memory.totalBytes / 1048576)} MiB of RAM, and the live image ${plan.live.name} needs about ${need.words}.`, 'Use a machine with more RAM, or a smaller live.tmpfs; nothing was changed.');
    }
  }
  if (!has('compose')) return result;

  // Recorded only for a deploy that goes all the way: its token must reach config.json.
  const report = has('exec') ? await deps.registry?.begin(result.artifacts) : undefined;
  try {
    await composeAndLoad(plan, facts, deps, fetched, layers, result, report, timed);
  } catch (err) {
    if (report) await deps.registry!.abort(err instanceof Error ? err.message : String(err));
    throw err;
  }
  if (!has('exec')) return result;

  if (report) await deps.registry!.handover();
  const method = BOOT_METHODS[plan.method];
  const exec = method.exec(facts.kexec.systemd);
  result.commands.push(commandLine(exec[0], exec.slice(1)));
  deps.log(`in ${plan.delaySeconds} s: ${commandLine(exec[0], exec.slice(1))}`);
  // Started detached after the delay, so an SSH session can print the result first; the
  // new session outlives us and the SSH session's end.
  // The hand-over goes into the kernel log: a serial console shows how long the shutdown takes (src/core/boot-timeline.ts).
  await deps.runner.detach('sh', ['-c', HAND_OVER, 'anemos-exec', String(plan.delaySeconds), ...exec]);
  result.executed = true;
  return result;
}

/** compose and load: what changes the host before the irreversible exec. */
async function composeAndLoad(
  plan: DeployPlan,
  facts: HostFacts,
  deps: DeployDeps,
  fetched: Record<string, FetchedArtifact>,
  layers: FetchedArtifact[],
  result: DeployResult,
  report: ReportTarget | undefined,
  timed: <T>(name: string, f: () => Promise<T>) => Promise<T>,
): Promise<void> {
  const has = (p: Phase) => plan.phases.includes(p);
  const bootConfig: BootConfig = {...plan.bootConfig, ...(plan.bootConfig.payload && fetched.payload ? {payload: {...plan.bootConfig.payload, sha256: fetched.payload.sha256}} : {}), ...(report ? {report} : {})};
  // The agent checks config.json against the same schema; one that fails here is our bug.
  const bad = validateBootConfig(bootConfig);
  if (bad.length) throw new Error(`the config.json planned for the deploy environment is invalid: ${bad.join('; ')}`);
  result.composed = await timed('compose', async () => {
    await deps.files.mkdirPrivate(plan.workDir);
    const hostKeys: Record<string, Uint8Array> = {};
    for (const [name, path] of Object.entries(plan.hostKeys)) hostKeys[name] = await deps.files.readBytes(path);
    const segments = planSegments({
      config: bootConfig,
      network: plan.network,
      authorizedKeys: plan.authorizedKeys,
      hostKeys,
      ...(fetched.payload && bootConfig.payload ? {payload: {file: bootConfig.payload.file, data: {size: fetched.payload.size, open: () => createReadStream(fetched.payload.path, {highWaterMark: 1 << 20})}}} : {}),
      ...(bootConfig.live ? {layers: bootConfig.live.layers.map((l, i) => ({file: l.file, data: {size: layers[i]!.size, open: () => createReadStream(layers[i]!.path, {highWaterMark: 1 << 20})}}))} : {}),
      firmware: plan.firmware.map((f) => ({path: f.path, data: {size: f.size, open: () => deps.files.openRead(join('/lib/firmware', f.path))}})),
    });
    const o = {progress: deps.progress, elsewhere: 'point cache_dir in anemos.conf at one'};
    return deps.compose ? deps.compose(fetched.initramfs, segments, plan.output, o) : composeInitramfs(fetched.initramfs.path, segments, plan.output, o);
  });
  deps.log(`composed ${plan.output}: ${result.composed.size} bytes (base ${result.composed.baseSize} bytes unchanged + ${result.composed.segments.length} segments)`);
  if (!has('load')) return;

  const method = BOOT_METHODS[plan.method];
  const request = {cmdline: plan.cmdline, kexecFileLoad: plan.kexecFileLoad};
  const room = method.room(facts, fetched.kernel!.size + result.composed.size);
  if (room) throw preconditionError('boot-space', room, 'Free space in /boot (old kernels: apt autoremove) and run it again; nothing was changed.');
  const load = method.load(request, {kernel: fetched.kernel!.path, initramfs: plan.output});
  await timed('load', async () => {
    // --install-kexec: the host's package manager, now that everything else has been checked.
    for (const argv of plan.setup) {
      result.commands.push(commandLine(argv[0], argv.slice(1)));
      deps.log(`$ ${commandLine(argv[0], argv.slice(1))}`);
      const r = await deps.runner.run(argv[0], argv.slice(1), {allowFail: true, timeoutMs: 900_000});
      if (r.exitCode !== 0) {
        throw new AnemosError('command', 'kexec-install-failed', `Installing kexec-tools failed (${argv.join(' ')} exited ${r.exitCode}); nothing else was changed.`, {
          hint: 'Install kexec-tools by hand, or deploy without --install-kexec (the one-shot GRUB entry needs no kexec).',
          details: `${r.stdout}${r.stderr}`.trim().split('\n').slice(-5),
        });
      }
    }
    for (const f of method.stage(facts, request)) {
      const existing = await deps.files.read(f.path);
      await deps.files.write(f.path, f.content(existing));
      deps.log(`${existing === undefined ? 'wrote' : `updated ${f.what} in`} ${f.path}`);
    }
    for (const argv of load) {
      result.commands.push(commandLine(argv[0], argv.slice(1)));
      deps.log(`$ ${commandLine(argv[0], argv.slice(1))}`);
      try {
        await deps.runner.run(argv[0], argv.slice(1), {allowFail: method.mayFail(argv)});
      } catch (err) {
        if (err instanceof AnemosError && err.code === 'command-failed') throw method.explain(err.details.join('\n'), request) ?? err;
        throw err;
      }
    }
  });
}
