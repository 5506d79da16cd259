// executeDeploy's decisions with fakes at its seams (a recording Runner for the commands
// that change the host, in-memory host files): which commands, in which order, what is
// written, and what happens when one fails. Fetch, compose and the payload checks are real.

import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {fakeFacts} from '../../test/helpers/facts.js';
import {fetchArtifact} from '../adapters/fetch.js';
import {hostFiles, type HostFiles} from '../adapters/host-files.js';
import {commandFailed, realRunner, type Runner} from '../adapters/process.js';
import {CUSTOM_CFG} from '../core/boot-methods/grub-once.js';
import {readCpio} from '../core/cpio.js';
import {parseConfig} from '../core/config.js';
import {planDeploy, PHASES, type Phase} from '../core/deploy-plan.js';
import type {HostFacts} from '../core/host-facts.js';
import {AnemosError} from '../shared/errors.js';
import {executeDeploy, type DeployRecorder, HAND_OVER} from './deploy.js';

/** Commands that change the host are recorded (and may be scripted to fail); the rest run for real. */
function recordingRunner(fail: (argv: string[]) => string | undefined = () => undefined) {
  const calls: string[][] = [];
  const detached: string[][] = [];
  const runner: Runner = {
    async run(cmd, args, opts) {
      const argv = [cmd, ...args];
      if (!['kexec', 'install', 'grub-reboot'].includes(cmd)) return realRunner.run(cmd, args, opts);
      calls.push(argv);
      const stderr = fail(argv);
      if (stderr !== undefined && !opts?.allowFail) throw commandFailed(cmd, args, 1, stderr);
      return {stdout: '', stderr: stderr ?? '', exitCode: stderr === undefined ? 0 : 1};
    },
    stream: () => Promise.reject(new Error('not used by deploy')),
    detach: (cmd, args) => void detached.push([cmd, ...args]),
  };
  return {runner, calls, detached};
}

function memoryFiles(initial: Record<string, string> = {}): HostFiles & {files: Record<string, string>} {
  const files = {...initial};
  return {
    files,
    read: async (p) => files[p],
    readBytes: async () => Buffer.from('host key'),
    readRange: hostFiles.readRange,
    openRead: hostFiles.openRead,
    stat: hostFiles.stat,
    list: hostFiles.list,
    freeBytes: hostFiles.freeBytes,
    write: async (p, c) => void (files[p] = c),
    writePrivate: async (p, c) => void (files[p] = c),
    mkdirPrivate: (p) => realRunner.run('mkdir', ['-p', p]).then(() => undefined),
  };
}

function setup(extra: string, facts: HostFacts = fakeFacts(), phases: Phase[] = [...PHASES]) {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-exec-'));
  const kernel = Buffer.alloc(4096);
  kernel.write('HdrS', 0x202, 'ascii');
  writeFileSync(join(dir, 'vmlinuz'), kernel);
  execFileSync('sh', ['-c', `cd "${dir}" && printf init > init && echo init | cpio -o -H newc --quiet | gzip > initramfs.cpio.gz`]);
  const config = parseConfig(`kernel: {url: ${dir}/vmlinuz}\ninitramfs: {url: ${dir}/initramfs.cpio.gz}\ncache_dir: ${dir}/cache\n${extra}`, 'x', {allowUnverified: true});
  const plan = planDeploy(config, facts, {mode: 'test', phases, allowUnverified: true, cliVersion: 't', deploymentId: 'dep-20261206T180000Z-0badcafe'});
  const run = (runner: Runner, files: HostFiles, registry?: DeployRecorder) =>
    executeDeploy(plan, facts, {runner, fetch: fetchArtifact, files, progress: {update() {}, finish() {}}, log: () => {}, now: () => 0, ...(registry ? {registry} : {})}, {cacheDir: config.cache_dir, allowUnverified: true, baseDir: dir});
  return {plan, run, dir};
}

describe('executeDeploy with fakes at its seams', () => {
  it('kexec: unload, load with the plan\'s command line, then systemctl kexec detached after the delay; nothing written', async () => {
    const {plan, run} = setup('boot: {method: kexec, delay: 2}');
    const r = recordingRunner();
    const files = memoryFiles();
    const result = await run(r.runner, files);
    expect(r.calls.map((c) => c.slice(0, 2))).toEqual([['kexec', '-u'], ['kexec', '-l']]);
    expect(r.calls[1]).toContain(`--append=${plan.cmdline}`);
    expect(r.calls[1]).toContain(`--initrd=${plan.output}`);
    expect(r.detached).toEqual([['sh', '-c', HAND_OVER, 'anemos-exec', '2', 'systemctl', 'kexec']]);
    expect(files.files).toEqual({});
    expect(result.executed).toBe(true);
  });

  it('kexec: "kexec -u" may fail (nothing loaded); an EPERM on load is named as lockdown, and nothing is started', async () => {
    const {run} = setup('boot: {method: kexec}');
    const r = recordingRunner((argv) => (argv[1] === '-u' ? 'nothing loaded' : argv[1] === '-l' ? 'kexec_load failed: Operation not permitted' : undefined));
    const err = await run(r.runner, memoryFiles()).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AnemosError);
    expect(err).toMatchObject({code: 'kexec-refused', exitCode: 4});
    expect(r.calls.map((c) => c.slice(0, 2))).toEqual([['kexec', '-u'], ['kexec', '-l']]);
    expect(r.detached).toEqual([]);
  });

  it('bootloader: the entry merged into custom.cfg first (the operator\'s lines kept), then install, grub-reboot, a detached reboot', async () => {
    const {run} = setup('boot: {method: bootloader, delay: 0}');
    const r = recordingRunner();
    const files = memoryFiles({[CUSTOM_CFG]: "menuentry 'rescue' {\n}\n"});
    await run(r.runner, files);
    expect(files.files[CUSTOM_CFG]).toMatch(/^menuentry 'rescue' \{\n\}\n### BEGIN anemos[\s\S]*linux \/boot\/anemos\/vmlinuz .*anemos\.mode=test/);
    expect(r.calls.map((c) => c[0])).toEqual(['install', 'install', 'grub-reboot']);
    expect(r.calls[2]).toEqual(['grub-reboot', 'anemos-deploy']);
    expect(r.detached[0]!.slice(-2)).toEqual(['systemctl', 'reboot']);
  });

  it('bootloader: a /boot too small stops before anything is written or run', async () => {
    const facts = fakeFacts({boot: {...fakeFacts().boot, bootFreeBytes: 1024}});
    const {run} = setup('boot: {method: bootloader}', facts);
    const r = recordingRunner();
    const files = memoryFiles();
    await expect(run(r.runner, files)).rejects.toMatchObject({code: 'boot-space'});
    expect([r.calls, r.detached, files.files]).toEqual([[], [], {}]);
  });

  it('Secure Boot on: an unsigned deploy kernel is refused after the download, before anything is composed, loaded or written', async () => {
    const facts = fakeFacts({platform: {uefi: true, secureBoot: true}, kexec: {...fakeFacts().kexec, lockdown: 'integrity'}});
    const {run} = setup('boot: {method: kexec}', facts);
    const r = recordingRunner();
    const files = memoryFiles();
    const err = await run(r.runner, files).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({code: 'kernel-unsigned', exitCode: 4});
    expect((err as AnemosError).message).toMatch(/^Secure Boot is on: only a signed kernel can be booted here, and the kernel from .*vmlinuz is not an EFI \(PE\) image that could carry one\. Nothing was changed\.$/);
    expect([r.calls, r.detached, files.files]).toEqual([[], [], {}]);
  });

  // A recorder that says what it was asked, and answers like the registry with a deployment's token.
  const fakeRegistry = (order: string[]): DeployRecorder => ({
    begin: async (artifacts) => (order.push(`begin ${artifacts.map((a) => a.name).join(',')}`), {url: 'https://registry.example.net', token: 'anm_0badcafe_deployment-token', deployment: 'dep-20261206T180000Z-0badcafe', pin: `sha256//${'A'.repeat(43)}=`}),
    handover: async () => void order.push('handover'),
    abort: async (why) => void order.push(`abort: ${why}`),
  });

  it("the registry records the deployment before compose, its token (never another) is in config.json, and hears of the hand-over after the load and before the exec", async () => {
    const {run, plan} = setup('boot: {method: kexec}\nreport: {url: https://registry.example.net, fingerprint: "sha256//' + 'A'.repeat(43) + '="}');
    expect(plan.registry).toEqual({url: 'https://registry.example.net', deployment: 'dep-20261206T180000Z-0badcafe'});
    expect(plan.bootConfig).not.toHaveProperty('report');
    const r = recordingRunner();
    const order: string[] = [];
    const loggingRunner: Runner = {...r.runner, run: (cmd, args, o) => (order.push(cmd), r.runner.run(cmd, args, o)), detach: (cmd, args) => (order.push(`detach ${cmd}`), r.runner.detach(cmd, args))};
    await run(loggingRunner, memoryFiles(), fakeRegistry(order));
    expect(order.filter((c) => /^(kexec|begin|handover|abort|detach)/.test(c))).toEqual(['begin kernel,initramfs', 'kexec', 'kexec', 'handover', 'detach sh']);
    // config.json is an uncompressed segment of the composed image: the deployment's token is in it, with the pin.
    const image = readFileSync(plan.output);
    const header = image.indexOf('anemos/config.json\0') - 110;
    const entry = readCpio(image, header).entries.find((e) => e.path === 'anemos/config.json')!;
    const config = JSON.parse(image.toString('utf8', entry.dataOffset, entry.dataOffset + entry.size));
    expect(config.report).toEqual({url: 'https://registry.example.net', token: 'anm_0badcafe_deployment-token', deployment: 'dep-20261206T180000Z-0badcafe', pin: `sha256//${'A'.repeat(43)}=`});
  });

  it('a deploy that stops after the registry recorded it (the load refused) tells it why, and never hands over', async () => {
    const {run} = setup('boot: {method: kexec}\nreport: {url: https://registry.example.net}');
    const r = recordingRunner((argv) => (argv[1] === '-l' ? 'kexec_load failed: Operation not permitted' : undefined));
    const order: string[] = [];
    await expect(run(r.runner, memoryFiles(), fakeRegistry(order))).rejects.toMatchObject({code: 'kexec-refused'});
    expect(order).toEqual(['begin kernel,initramfs', expect.stringMatching(/^abort: .*lockdown/i)]);
    expect(r.detached).toEqual([]);
  });

  it('--phases fetch,compose: composed, nothing loaded or started', async () => {
    const {run} = setup('boot: {method: kexec}', fakeFacts(), ['fetch', 'compose']);
    const r = recordingRunner();
    const result = await run(r.runner, memoryFiles());
    expect(result.composed?.segments.map((s) => s.name)).toEqual(['config']);
    expect([r.calls, r.detached, result.executed]).toEqual([[], [], false]);
  });
});
