// The IMGBUILD runner in the deploy environment. Everything that can be judged before
// the disk is touched is judged first (evaluation by sh, directives, disk size, templates);
// then the planned step scripts run one by one, each logged with its duration.

import type {Runner} from '../shared/command.js';
import {evaluateImgbuild, listPayloadFiles} from '../core/payload-sandbox.js';
import * as runtime from './runtime.js';
import {dirname, existsSync, join, mkdirSync, now, readdirSync, readFileSync, rmSync, writeFileSync} from './runtime.js';
import type {BootConfig} from '../core/boot-contract.js';
import {renderTemplate, templateValues, type ImgbuildSpec} from '../core/imgbuild.js';
import {diskLayout, planImgbuild, stepPrelude, type ImgStep, type PlanContext, type StepPhase} from '../core/imgbuild-plan.js';
import type {NetworkConfig} from '../core/network.js';
import {formatSize} from '../core/inventory.js';
import {TARGET_MODULES} from '../core/targets/index.js';
import {AgentError} from './errors.js';
import type {AgentLog} from './log.js';
import {runInGroup} from './payload.js';

/** Source the IMGBUILD with the real sh and validate what it set, as `payload check` does. */
async function evaluate(runner: Runner, dir: string): Promise<{spec: ImgbuildSpec; warnings: string[]}> {
  // The agent is root: the IMGBUILD's top level runs as nobody on a copy in /tmp.
  const findings = await evaluateImgbuild(runner, {asRoot: true, tmp: '/tmp'}, dir, listPayloadFiles(runtime, dir));
  if (!findings.spec) throw new AgentError('imgbuild-invalid', `The IMGBUILD is not valid; nothing was written: ${findings.errors.join(' ')}`);
  return {spec: findings.spec, warnings: findings.warnings};
}

function diskBytes(disk: string): number {
  const name = disk.replace(/^\/dev\//, '');
  const path = `/sys/class/block/${name}/size`;
  if (!existsSync(path)) {
    const disks = existsSync('/sys/block') ? readdirSync('/sys/block').filter((d) => !/^(loop|ram|zram)/.test(d)) : [];
    throw new AgentError('imgbuild-disk', `deploy.disk ${disk} does not exist here (disks: ${disks.join(', ') || 'none'}). Nothing was written.`);
  }
  return Number(readFileSync(path, 'utf8').trim()) * 512;
}


/** The file calls renderTemplates makes: the agent's runtime, or Node's fs in a test. */
export type TemplateFs = Pick<typeof runtime, 'readFileSync' | 'writeFileSync' | 'mkdirSync' | 'rmSync' | 'chmodSync'> & {statSync(path: string): {mode: number}};

/** Render every *.makeimg.template into work/templates, keeping its mode; errors before any disk write. */
export function renderTemplates(fsys: TemplateFs, spec: ImgbuildSpec, payloadDir: string, out: string, values: ReturnType<typeof templateValues>): void {
  const {readFileSync, writeFileSync, mkdirSync, rmSync, chmodSync, statSync} = fsys;
  rmSync(out, {recursive: true, force: true});
  mkdirSync(out, {recursive: true});
  const problems: string[] = [];
  for (const t of spec.templates) {
    const dest = join(out, t.slice('files/'.length, -'.makeimg.template'.length));
    try {
      const text = renderTemplate(readFileSync(join(payloadDir, t), 'utf8'), values, t);
      mkdirSync(dirname(dest), {recursive: true});
      writeFileSync(dest, text);
      chmodSync(dest, statSync(join(payloadDir, t)).mode & 0o7777);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new AgentError('imgbuild-template', `${problems.join(' ')} Nothing was written.`);
}

function networkBytes(): number {
  if (!existsSync('/proc/net/dev')) return 0;
  return readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.trim().split(/[:\s]+/))
    .filter((f) => f.length > 2 && f[0] !== 'lo')
    .reduce((sum, f) => sum + Number(f[1]), 0);
}

export interface ImgbuildRun {
  runner: Runner;
  log: AgentLog;
  payloadDir: string;
  workDir: string;
  config: BootConfig;
  net: NetworkConfig;
  env: Record<string, string>;
  kernelArgs: string[];
  paths: {networkJson: string; authorizedKeys: string; hostKeysDir: string};
}

export interface ImgbuildResult {
  phases: Record<StepPhase, number>;
  downloadedBytes: number;
  steps: {id: string; seconds: number}[];
}

export async function runImgbuild(o: ImgbuildRun): Promise<ImgbuildResult> {
  const t0 = now();
  const deadline = t0 + o.config.timeout * 1000;
  const {spec, warnings} = await o.log.step('imgbuild evaluate', () => evaluate(o.runner, o.payloadDir));
  for (const w of warnings) o.log.warn(w);
  const efi = existsSync('/sys/firmware/efi');
  const ctx: PlanContext = {root: '/mnt/target', payload: o.payloadDir, work: o.workDir, ...(o.config.disk ? {disk: o.config.disk} : {}), efi, kernelArgs: o.kernelArgs, ...o.paths};
  o.log.info(`IMGBUILD "${spec.imgname}": target ${TARGET_MODULES[spec.target].summary(spec)}, format ${spec.format.kind === 'raw' ? `raw ${spec.format.sizeText} ${spec.format.table} ${spec.format.fs}` : spec.format.kind}, ${efi ? 'UEFI' : 'BIOS'} firmware, ${spec.packages.length} packages, services: ${spec.services.join(' ') || 'none'}`);

  const layout = diskLayout(spec, efi);
  if (layout) {
    if (!o.config.disk) throw new AgentError('imgbuild-disk', 'The IMGBUILD format "raw" partitions a disk, but deploy.disk is not set in anemos.conf. Nothing was written.');
    const size = diskBytes(o.config.disk);
    if (size < layout.minBytes) {
      throw new AgentError('imgbuild-disk', `${o.config.disk} has ${formatSize(size)}, and the IMGBUILD format needs at least ${formatSize(layout.minBytes)}. Use a smaller size in format, or "max". Nothing was written.`);
    }
  }
  renderTemplates(runtime, spec, o.payloadDir, join(o.workDir, 'templates'), templateValues(o.net, {hostname: o.config.hostname, imgname: spec.imgname, target: spec.target, ...(o.config.disk ? {disk: o.config.disk} : {})}));

  const steps = planImgbuild(spec, ctx);
  const prelude = stepPrelude(spec, ctx);
  const stepsDir = join(o.workDir, 'steps');
  rmSync(stepsDir, {recursive: true, force: true});
  mkdirSync(stepsDir, {recursive: true});
  const files = steps.map((s, i) => {
    const file = join(stepsDir, `${String(i + 1).padStart(2, '0')}-${s.id}.sh`);
    writeFileSync(file, `#!/bin/sh\n# anemos IMGBUILD step: ${s.title}\n${prelude}\n${s.script}`, {mode: 0o755});
    return file;
  });
  o.log.info(`IMGBUILD plan: ${steps.map((s) => s.id).join(' → ')} (scripts in ${stepsDir})`);

  const phases: Record<StepPhase, number> = {prepare: 0, disk: 0, bootstrap: 0, customise: 0, bootloader: 0, finish: 0};
  const done: {id: string; seconds: number}[] = [];
  const rx0 = networkBytes();
  for (const [i, step] of steps.entries()) {
    const started = now();
    await o.log.step(`imgbuild ${step.id}`, () => runStep(o, step, files[i]!, deadline));
    const seconds = (now() - started) / 1000;
    phases[step.phase] += seconds;
    done.push({id: step.id, seconds: Math.round(seconds * 10) / 10});
  }
  const downloadedBytes = networkBytes() - rx0;
  const fmt = (n: number) => `${n.toFixed(1)} s`;
  o.log.info(
    `IMGBUILD done in ${fmt((now() - t0) / 1000)}: disk ${fmt(phases.disk)}, bootstrap ${fmt(phases.bootstrap)}, customisation ${fmt(phases.customise)}, ` +
      `bootloader ${fmt(phases.bootloader)}, unmount ${fmt(phases.finish)}; the target downloaded ${(downloadedBytes / 2 ** 20).toFixed(1)} MiB`,
  );
  return {phases, downloadedBytes, steps: done};
}

function runStep(o: ImgbuildRun, step: ImgStep, file: string, deadline: number): Promise<void> {
  o.log.info(`IMGBUILD step ${step.id}: ${step.title}`);
  const left = Math.floor((deadline - now()) / 1000);
  if (left <= 0) return Promise.reject(new AgentError('payload-timeout', `The IMGBUILD ran longer than deploy.timeout (${o.config.timeout} s); stopped before step ${step.id}.`));
  return runInGroup(o.runner, {
    command: '/bin/sh',
    args: [file],
    name: `IMGBUILD step ${step.id} (${file})`,
    cwd: o.payloadDir,
    env: o.env,
    timeoutSeconds: left,
    timeoutHint: `deploy.timeout (${o.config.timeout} s)`,
    onLine: (l) => o.log.info(`${step.id}: ${l}`),
  });
}
