// anemos deploy --host: the same facts → plan → execute as on the host, driven from a
// workstation or CI runner over SSH, then the deploy followed to a verdict. Nothing of
// anemos is installed on the host: facts are read with its own tools, the plan is made
// here, the artifacts land in its cache (cache_dir), the composed image in cache_dir/work
// (or /boot/anemos for the one-shot GRUB entry), and the payload is checked here.

import {appendFileSync, mkdirSync} from 'node:fs';
import {mkdtemp, rm} from 'node:fs/promises';
import {homedir, tmpdir} from 'node:os';
import {join} from 'node:path';
import {loadConfig} from '../adapters/config-file.js';
import {fetchArtifact} from '../adapters/fetch.js';
import {pipeCommand, realRunner} from '../adapters/process.js';
import {checkRegistryUrl} from '../adapters/registry-client.js';
import {remoteCompose, remoteFetch} from '../adapters/remote-artifacts.js';
import {sshHost} from '../adapters/ssh-host.js';
import {isDeployEnvironment, RUNTIME, type LogEvent} from '../core/boot-contract.js';
import {BOOT_METHODS} from '../core/boot-methods/index.js';
import type {DeployPlan} from '../core/deploy-plan.js';
import {parseDmiUuid} from '../core/inventory.js';
import type {MachineIdentity} from '../core/registry/lifecycle.js';
import {connectionError, sshArgv, type SshDestination} from '../core/ssh-destination.js';
import {LineSplitter} from '../shared/line-splitter.js';
import {AnemosError} from '../shared/errors.js';
import type {DeployResult} from './deploy.js';
import {confirmDeploy, executePrepared, prepareDeploy, type DeployRequest, type DeployTarget} from './deploy-driver.js';
import {trustOf} from './registry/access.js';
import {eventLine, watchDeploy, type Observation, type Verdict, type WatchIO} from './watch.js';

export interface RemoteDeployOptions extends DeployRequest {
  destination: SshDestination;
  /** Send the artifacts from here instead of letting the host download them. */
  upload: boolean;
  /** The whole run, in seconds. */
  timeoutSeconds: number;
  logsDir?: string;
  check?: string;
  /** Follow a deploy already under way (after the driver was stopped): no plan, no changes. */
  attach?: boolean;
  onEvent: (e: LogEvent) => void;
}

export interface RemoteDeployOutcome {
  /** Absent with --attach: no plan was made. */
  plan?: DeployPlan;
  planText: string;
  dryRun: boolean;
  result?: DeployResult;
  verdict?: Verdict;
  logsDir?: string;
}

const WATCH_SECONDS = 120;

/** This workstation's cache: $XDG_CACHE_HOME/anemos or ~/.cache/anemos. */
export function workstationCache(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'anemos');
}

/** Lines of the connecting user's authorized_keys, so they can log in to the deploy environment as root. */
async function userKeys(host: ReturnType<typeof sshHost>, user: string): Promise<string[]> {
  if (user === 'root') return [];
  const r = await host.runner.run('sh', ['-c', 'h=$(getent passwd "$1" | cut -d: -f6) && cat "$h/.ssh/authorized_keys"', 'sh', user], {allowFail: true});
  return r.exitCode === 0 ? r.stdout.split('\n') : [];
}

/** The host's NICs (their own MACs; a bond member's permanent one), read over its SSH connection. */
async function remoteMacs(host: ReturnType<typeof sshHost>): Promise<string[]> {
  const r = await host.runner.run('sh', ['-c', 'for d in /sys/class/net/*; do [ -e "$d/device" ] || continue; cat "$d/bonding_slave/perm_hwaddr" 2>/dev/null || cat "$d/address"; done']);
  return r.stdout.split('\n').map((l) => l.trim().toLowerCase()).filter((l) => /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(l));
}

/** The host as the registry knows machines (for an enrollment from here): DMI UUID, MACs, name. */
async function remoteIdentity(host: ReturnType<typeof sshHost>): Promise<{identity: MachineIdentity}> {
  const uuid = parseDmiUuid(await host.files.read('/sys/class/dmi/id/product_uuid'));
  return {identity: {...(uuid ? {uuid} : {}), macs: await remoteMacs(host), hostname: await host.hostname()}};
}

export async function runRemoteDeploy(o: RemoteDeployOptions): Promise<RemoteDeployOutcome> {
  const t0 = Date.now();
  const deadline = t0 + o.timeoutSeconds * 1000;
  // Before any connection: a registry that may not be trusted this way is refused first.
  if (o.fromRegistry && !o.attach) checkRegistryUrl(o.fromRegistry.url, trustOf(o.fromRegistry.trust), '--insecure-registry');
  if (o.attach) {
    const config = await loadConfig(o.configPath, {allowUnverified: o.allowUnverified});
    const logsDir = logsDirFor(o, t0);
    o.log(`Attaching to ${o.destination.host}: following its deploy environment from its first event (logs: ${logsDir}).`);
    const verdict = await follow(o, {deadline, logsDir, hostname: config.hostname});
    return {planText: '', dryRun: false, verdict, logsDir};
  }
  const controlDir = await mkdtemp(join(tmpdir(), 'anemos-ssh-'));
  const host = sshHost(o.destination, controlDir);
  const localCache = workstationCache();
  // The host over SSH: its facts read with its own tools, its credential read and written
  // there; the payload checked and packed here; the kernel and base downloaded there (or
  // sent from here), the composed image made there from its base and a tail made here.
  const target: DeployTarget = {
    host,
    identity: () => remoteIdentity(host),
    payloadCache: () => localCache,
    extraAuthorizedKeys: () => userKeys(host, o.destination.user),
    // We follow it: the deploy environment waits (at most 2 minutes) for us to read its outcome before rebooting.
    plan: (draft) => ({...draft, bootConfig: {...draft.bootConfig, watch_seconds: WATCH_SECONDS}}),
    label: `Host: ${host.name}`,
    previewCommands: true,
    executor: () => ({
      runner: host.runner,
      files: host.files,
      fetch: remoteFetch(host, {upload: o.upload, localCacheDir: localCache, baseDir: o.cwd, warn: o.log}),
      here: {runner: realRunner, fetch: fetchArtifact, cacheDir: localCache},
      compose: remoteCompose(host),
    }),
  };
  let plan: DeployPlan;
  let planText: string;
  let result: DeployResult;
  let bootIdBefore: string | undefined;
  try {
    await host.connect();
    // Root first (sudo -n for another user): without it nothing below could be read or done.
    await host.isRoot();
    const prepared = await prepareDeploy(o, target);
    ({plan, planText} = prepared);
    if (o.dryRun) return {plan, planText, dryRun: true};
    await confirmDeploy(prepared, o, host.name);
    bootIdBefore = (await host.files.read('/proc/sys/kernel/random/boot_id'))?.trim();
    result = await executePrepared(prepared, o, target);
  } finally {
    await host.close();
    await rm(controlDir, {recursive: true, force: true});
  }
  if (!result.executed) return {plan, planText, dryRun: false, result};

  const logsDir = logsDirFor(o, t0);
  o.log(`${o.mode === 'deploy' ? 'The deploy' : 'The test'} environment starts in ${plan.delaySeconds} s (by ${BOOT_METHODS[plan.method].description}); following it (logs: ${logsDir}).`);
  const verdict = await follow(o, {deadline, logsDir, hostname: plan.bootConfig.hostname, bootIdBefore});
  return {plan, planText, dryRun: false, result, verdict, logsDir};
}

function logsDirFor(o: RemoteDeployOptions, t0: number): string {
  const dir = o.logsDir ?? join(workstationCache(), 'logs', `${o.destination.host.replace(/[^A-Za-z0-9.-]/g, '_')}-${new Date(t0).toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dir, {recursive: true, mode: 0o700});
  return dir;
}

function follow(o: RemoteDeployOptions, w: {deadline: number; logsDir: string; hostname?: string; bootIdBefore?: string}): Promise<Verdict> {
  const d = o.destination;
  const logsDir = w.logsDir;
  return watchDeploy(sshWatch(d, logsDir), {
    mode: o.mode,
    ...(w.bootIdBefore ? {bootIdBefore: w.bootIdBefore} : {}),
    attach: Boolean(o.attach),
    ...(w.hostname ? {hostname: w.hostname} : {}),
    check: o.check,
    deadline: w.deadline,
    sshHint: `ssh ${d.port ? `-p ${d.port} ` : ''}root@${d.host}`,
    logsDir,
    say: o.log,
    onEvent: (e) => {
      appendFileSync(join(logsDir, 'events.jsonl'), JSON.stringify(e) + '\n');
      appendFileSync(join(logsDir, 'deploy.log'), `${eventLine(e)}\n`);
      o.onEvent(e);
    },
  });
}

/** WatchIO over fresh SSH connections (the machine reboots under any connection). */
export function sshWatch(d: SshDestination, logsDir: string): WatchIO {
  const opts = ['-o', 'ConnectTimeout=10', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3'];
  const as = (user: string, command: string) => [...sshArgv({...d, user}, opts), command];
  // The deploy environment has only root; an installed system may refuse root and take the user.
  const users = [d.user, ...(d.user === 'root' ? [] : ['root'])];
  // Another machine's output: at most 4 MiB of it is kept (a --check that prints forever is cut there).
  const ssh = (user: string, command: string, timeoutMs = 60_000) => realRunner.run('ssh', as(user, command), {allowFail: true, timeoutMs, maxOutputBytes: 4 * 1048576}).catch((err: unknown) => ({exitCode: 255, stdout: '', stderr: (err as Error).message}));
  return {
    async observe(): Promise<Observation | AnemosError | undefined> {
      let error: AnemosError | undefined;
      for (const user of users) {
        const r = await ssh(user, 'cat /proc/sys/kernel/random/boot_id /proc/sys/kernel/hostname /proc/cmdline', 30_000);
        if (r.exitCode === 0) {
          const [bootId, hostname, cmdline] = r.stdout.split('\n');
          return {bootId: bootId.trim(), hostname: hostname.trim(), deployEnv: isDeployEnvironment(cmdline ?? '')};
        }
        error = connectionError({...d, user}, r.stderr);
        if (error?.code !== 'ssh-permission') break;
      }
      return error;
    },
    async follow(afterSeq, onEvent, signal) {
      const p = pipeCommand('ssh', as('root', `tail -n +${afterSeq + 1} -f ${RUNTIME.events}`), {signal});
      const lines = new LineSplitter();
      const decoder = new TextDecoder();
      try {
        for await (const chunk of p.output) {
          for (const line of lines.push(decoder.decode(chunk, {stream: true}))) {
            try {
              onEvent(JSON.parse(line) as LogEvent);
            } catch {
              // a line cut by the reboot: the next connection reads it again from its seq
            }
          }
        }
      } catch {
        // the connection cut under the stream: the same as its end
      }
      // However it ended (the reboot, the abort, ssh refused), the watcher connects again.
      await p.done.catch(() => undefined);
    },
    async ack() {
      await ssh('root', `touch ${RUNTIME.outcomeSeen}`, 30_000);
    },
    async collect() {
      // The IMGBUILD step scripts, for a post-mortem (each one runs alone with sh).
      const r = await realRunner.run('sh', ['-c', 'ssh "$@" | tar -xf - -C "$0"', logsDir, ...as('root', `cd ${RUNTIME.dir} && tar -cf - imgbuild/steps 2>/dev/null`)], {allowFail: true, timeoutMs: 60_000});
      return r.exitCode === 0 ? ['imgbuild/steps'] : [];
    },
    async check(command) {
      const r = await ssh(d.user, command, 600_000);
      return {code: r.exitCode, output: `${r.stdout}${r.stderr}`};
    },
    sleep: (ms) => new Promise((res) => setTimeout(res, ms)),
    after(ms, f) {
      // setTimeout takes at most 2^31-1 ms; a longer --timeout is checked again on the next connection.
      const t = setTimeout(f, Math.min(ms, 2 ** 31 - 1));
      return () => clearTimeout(t);
    },
    now: () => Date.now(),
  };
}
