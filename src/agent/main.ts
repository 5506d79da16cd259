// The deploy agent, started by /init in the initramfs. Order of business: log, network
// (the gate: no disk is touched before it passes), SSH, then the payload. A failure
// before any disk write reboots into the old system; after, the machine stays reachable.
// "agent.mjs netconf ..." is anemos-netconf and "agent.mjs configure ..." anemos-configure,
// for payloads. It runs on QuickJS (qjs --std); ./runtime.ts is all it knows of that.

import type {Runner} from '../shared/command.js';
import {RAM_KEEP_KIB, type BootConfig, type NextBoot, type PayloadEnv} from '../core/boot-contract.js';
import {CONTRACT, RUNTIME} from '../core/boot-contract.js';
import {carriedKernelArgs} from '../core/kernel-args.js';
import {keepOutcome, lastLogLines} from './keep.js';
import {partitionGuids, tidyBootEntries} from './boot-entries.js';
import {EFIVARS_DIR} from '../core/last-deploy.js';
import type {NetworkConfig} from '../core/network.js';
import {RENDER_FORMATS, renderNetwork, type RenderFormat} from '../core/network-render.js';
import {readNetworkJson, writeRendered} from '../core/network-files.js';
import {normalizeNetwork, validateNetwork} from '../core/network-schema.js';
import {parseFlags} from '../shared/parse-flags.js';
import {parseCmdline} from './cmdline.js';
import {describeTimeline, parseKernelLog, type BootTimeline} from '../core/boot-timeline.js';
import {apkVerify} from './apk.js';
import {configure} from './configure.js';
import {runImgbuild} from './imgbuild.js';
import {checkBootConfig} from './main-checks.js';
import {diskWrites} from './disk-writes.js';
import {bootInstalledOnce, LIVE_UPPER, mountLive} from './live.js';
import {AgentError} from './errors.js';
import {AnemosError} from '../shared/errors.js';
import {AgentLog, type LogEvent} from './log.js';
import {writeInventory} from './hardware.js';
import {Reporter} from './report.js';
import {describeHardware, parseIpAddrLines, type HardwareInventory} from '../core/inventory.js';
import {planNetwork, type NetworkPlan} from './net-setup.js';
import {runDeployScript, unpackPayload, verifyPayload} from './payload.js';
import {decideOnFailure} from './policy.js';
import {startDropbear} from './ssh.js';
import {readLinks, readWriteCounters} from './system.js';
import * as runtime from './runtime.js';
import {args, env, exit, existsSync, now, readFileSync, sleep, stderr, stdout, writeFileSync} from './runtime.js';

const RUN_DIR = RUNTIME.dir;
const PAYLOAD_DIR = `${RUN_DIR}/payload`;
const ROOT = '/';

/** Seconds since the kernel started. */
const uptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);

function readJson<T>(path: string, what: string): T {
  if (!existsSync(path)) throw new AgentError(`${what}-missing`, `${path} is missing from the initramfs: it was not composed by anemos deploy.`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new AgentError(`${what}-invalid`, `${path} is not valid JSON: ${(err as Error).message}`);
  }
}

async function waitForLinks(net: NetworkConfig, log: AgentLog, seconds: number): Promise<NetworkPlan> {
  const deadline = now() + seconds * 1000;
  for (;;) {
    const plan = planNetwork(net, readLinks());
    if ((!plan.missing.length && !plan.missingMembers.length) || now() > deadline) return plan;
    await sleep(500);
  }
}

async function bringUpNetwork(runner: Runner, net: NetworkConfig, log: AgentLog): Promise<NetworkPlan> {
  await runner.run('ip', ['link', 'set', 'lo', 'up']);
  const plan = await waitForLinks(net, log, 15);
  if (!plan.ifaces.length) {
    const here = readLinks().map((l) => `${l.name} ${l.mac}`).join(', ') || 'none';
    throw new AgentError('network-no-interface', `No interface has the MAC(s) in network.json (${plan.missing.join(', ')}); interfaces here: ${here}. A driver may be missing from the base initramfs.`);
  }
  for (const mac of plan.missing) log.warn(`no interface with MAC ${mac}: its configuration is skipped`);
  for (const m of plan.missingMembers) log.warn(`${m.bond}: no member ${m.name} (MAC ${m.mac}) here: the bond comes up without it`);
  for (const argv of plan.modules) {
    const r = await runner.run(argv[0], argv.slice(1), {allowFail: true});
    if (r.exitCode !== 0) throw new AgentError('network-module', `Could not load the ${argv[1]} kernel module the network needs (${r.stderr.trim() || `exit ${r.exitCode}`}): the base initramfs lacks it. Build the base with this anemos (anemos initramfs build), which includes it.`);
  }
  for (const i of plan.ifaces) {
    for (const step of i.up) {
      if (Array.isArray(step)) await runner.run(step[0], step.slice(1));
      else writeFileSync(step.write, step.value);
    }
    const bonding = `/proc/net/bonding/${i.name}`;
    if (existsSync(bonding)) {
      const text = readFileSync(bonding, 'utf8');
      const field = (name: string) => text.match(new RegExp(`^${name}: (.*)$`, 'm'))?.[1] ?? '?';
      const members = [...text.matchAll(/^Slave Interface: (\S+)/gm)].map((m) => m[1]);
      log.info(`${i.name}: bond (${field('Bonding Mode')}) over ${members.join(', ') || 'no member'}; active: ${field('Currently Active Slave')}`);
    }
    let dhcpOk = false;
    if (i.dhcp4) {
      const r = await runner.run('udhcpc', ['-i', i.name, '-f', '-q', '-n', '-t', '5', '-T', '2', '-s', '/usr/share/anemos/udhcpc.script'], {allowFail: true});
      dhcpOk = r.exitCode === 0;
      log.info(dhcpOk ? `${i.name}: DHCP lease obtained` : `${i.name}: no DHCP answer; using the address the host had`);
    }
    for (const argv of [...(dhcpOk ? [] : i.fallback), ...i.statics]) await runner.run(argv[0], argv.slice(1));
    log.info(`${i.name} (${i.mac}) configured`);
  }
  if (plan.resolvConf.trim()) writeFileSync('/etc/resolv.conf', plan.resolvConf);
  const addrs = await runner.run('ip', ['addr'], {allowFail: true});
  const global = addrs.stdout.split('\n').filter((l) => /^\s+inet6? /.test(l) && !/ scope (host|link)/.test(l));
  for (const l of global) log.info(`  ${l.trim()}`);
  leased = global.map((l) => l.match(/^\s+inet (\d+\.\d+\.\d+\.\d+)\//)?.[1]).find(Boolean);
  return plan;
}

async function checkGateway(runner: Runner, plan: NetworkPlan): Promise<string | undefined> {
  if (!plan.gateways.length) return undefined; // DHCP-only: udhcpc's lease proved the link
  for (const g of plan.gateways) {
    const r =
      g.family === 4
        ? await runner.run('arping', ['-c', '1', '-w', '2', '-I', g.dev, g.address], {allowFail: true})
        : await runner.run('ping', ['-6', '-c', '1', '-W', '2', g.address.startsWith('fe80:') ? `${g.address}%${g.dev}` : g.address], {allowFail: true});
    if (r.exitCode === 0) return undefined;
  }
  return `no gateway answered (${plan.gateways.map((g) => g.address).join(', ')})`;
}

async function checkUrl(runner: Runner, url: string): Promise<string | undefined> {
  const r = await runner.run('wget', ['--no-verbose', '--tries=1', '--timeout=5', '-O', '/dev/null', url], {allowFail: true});
  if (r.exitCode === 0) return undefined;
  // wget's last line, without its timestamp (a retry that fails alike is then the same problem, logged once).
  const said = (r.stderr.trim().split('\n').filter(Boolean).at(-1) ?? `wget exit ${r.exitCode}`).replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, '').replace(/\.$/, '');
  // wget's 8: the server answered with an error status.
  return r.exitCode === 8 ? `${url} answered: ${said}` : `${url} unreachable: ${said}`;
}

/** The dead-man's switch: the network must prove itself before any disk is touched. */
async function networkGate(runner: Runner, plan: NetworkPlan, config: BootConfig, log: AgentLog): Promise<void> {
  const deadline = now() + config.network_timeout * 1000;
  let last = '';
  for (;;) {
    const problem = (await checkGateway(runner, plan)) ?? (config.check_url ? await checkUrl(runner, config.check_url) : undefined);
    if (!problem) return;
    if (problem !== last) log.warn(`network check: ${problem}; retrying until ${config.network_timeout} s have passed`);
    last = problem;
    if (now() > deadline) throw new AgentError('network-gate', `The network did not pass its check within ${config.network_timeout} s: ${problem}.`);
    await sleep(2000);
  }
}

/** The address to reach this machine at: the first IPv4 of network.json, or the one DHCP gave. */
let leased: string | undefined;

function primaryAddress(net: NetworkConfig): string {
  for (const i of Object.values(net.interfaces)) for (const a of i.addresses) if (a.family === 4) return a.address;
  if (leased) return leased;
  for (const i of Object.values(net.interfaces)) for (const a of i.addresses) return a.address;
  return '<address>';
}

/** Stay up (test mode, or after a failed write) with dropbear and the console. */
function forever(): Promise<never> {
  // A timer keeps QuickJS' event loop (and so the agent) alive.
  const tick = (): void => void sleep(3_600_000).then(tick);
  return new Promise<never>(() => tick());
}

/**
 * A driver following over SSH (anemos deploy --host) must read the outcome before the
 * machine reboots under it: wait until it says so, at most watch_seconds.
 */
async function waitForWatcher(config: BootConfig | undefined, log: AgentLog): Promise<void> {
  const limit = config?.watch_seconds ?? 0;
  if (!limit) return;
  const t0 = now();
  while (!existsSync(RUNTIME.outcomeSeen) && now() - t0 < limit * 1000) await sleep(500);
  log.info(existsSync(RUNTIME.outcomeSeen) ? 'the driver has read the outcome' : `no driver read the outcome within ${limit} s; going on`);
}

/**
 * Network boot: a machine waiting in the deploy environment (discovered, or failed and being
 * looked at) asks the boot service what it would boot now, until the answer is another:
 * then it reboots, and its network boot takes it (the deploy environment composed for it).
 */
/**
 * Asks the registry what this machine boots until the answer changes (returned, with its
 * rule); with next.idle poweroff, returns undefined at the first answer that has not
 * changed: the machine is registered and has nothing else to do.
 */
async function waitForNextBoot(runner: Runner, next: NextBoot, log: AgentLog): Promise<string | undefined> {
  log.info(next.idle === 'poweroff' ? 'asking the registry once whether a deployment is ready; if not, powering off until woken' : `waiting for a deployment: asking the registry every ${next.seconds} s`);
  let failing = '';
  for (;;) {
    await sleep(next.seconds * 1000);
    const r = await runner.run('wget', ['-q', '-T', '10', '-O', '-', next.url], {allowFail: true});
    let answer: {boot?: unknown; mode?: unknown; rule?: unknown} | undefined;
    try {
      answer = r.exitCode === 0 ? (JSON.parse(r.stdout) as typeof answer) : undefined;
    } catch {
      answer = undefined;
    }
    if (!answer || typeof answer.boot !== 'string') {
      const why = r.exitCode === 0 ? 'an answer that is not the boot service\'s' : `wget exit ${r.exitCode}`;
      if (why !== failing) log.warn(`the registry did not say what this machine boots (${why}); asking again`);
      failing = why;
      continue;
    }
    failing = '';
    const now = `${answer.boot}${typeof answer.mode === 'string' ? ` ${answer.mode}` : ''}`;
    if (now !== next.current) return `${now}: ${String(answer.rule ?? '')}`;
    if (next.idle === 'poweroff') return undefined;
  }
}

/** The registry's reporter, when config.json names a registry. */
let reporter: Reporter | undefined;

async function reboot(runner: Runner, log: AgentLog, why: string, delaySeconds: number): Promise<never> {
  log.info(`${why}: rebooting in ${delaySeconds} s`);
  // The registry gets what is left while the reboot waits anyway, not a moment longer.
  await Promise.all([sleep(delaySeconds * 1000), reporter?.drain(delaySeconds)]);
  await runner.run('sync', [], {allowFail: true});
  await runner.run('reboot', ['-f'], {allowFail: true});
  // reboot -f does not return; if it did, stay up rather than exit.
  return forever();
}

/** Off until woken (Wake-on-LAN): what the registry has had of this boot is delivered first. */
async function powerOff(runner: Runner, log: AgentLog, drainSeconds: number): Promise<never> {
  await reporter?.drain(drainSeconds);
  log.info('powering off');
  await runner.run('sync', [], {allowFail: true});
  await runner.run('poweroff', ['-f'], {allowFail: true});
  return forever();
}

async function run(): Promise<void> {
  const runner = runtime.runner;
  const cmdlineText = readFileSync('/proc/cmdline', 'utf8');
  const cmdline = parseCmdline(cmdlineText);
  const log = new AgentLog({consoles: cmdline.consoles, kmsg: true, dir: RUN_DIR});
  const before = readWriteCounters();
  const t0 = now();
  // Every event from the first, for the registry if config.json names one.
  let early: LogEvent[] | undefined = [];
  log.onEvent((e) => (reporter ? reporter.add(e) : early?.push(e)));
  log.info(`agent started (mode ${cmdline.mode ?? 'from config'}); log: ${log.logPath}`);
  // Everything lives in RAM here: when memory runs out, the kernel must stop the payload
  // (runInGroup gives it the default back), not the agent that reports it or SSH.
  try {
    writeFileSync('/proc/self/oom_score_adj', '-1000');
  } catch (err) {
    log.warn(`could not keep the agent out of the OOM killer's reach: ${(err as Error).message}`);
  }
  const timeline: BootTimeline = {...parseKernelLog((await runner.run('dmesg', [], {allowFail: true})).stdout), agent: uptime()};
  log.emit({level: 'info', timeline, msg: `boot: ${describeTimeline(timeline)}`});
  // What this machine is, at every boot: for the operator, a driver and the registry.
  let inventory: HardwareInventory | undefined;
  try {
    inventory = writeInventory(new Date().toISOString());
    log.info(`inventory (${RUNTIME.inventory}): ${describeHardware(inventory)}`);
  } catch (err) {
    log.warn(`could not gather the hardware inventory: ${(err as Error).message}`);
  }
  let config: BootConfig | undefined;
  let net: NetworkConfig | undefined;
  /** SSH is up: a driver can read the outcome, so it is worth waiting for one. */
  let reachable = false;
  try {
    config = readJson<BootConfig>(`${ROOT}${CONTRACT.config}`, 'config');
    checkBootConfig(config);
    const rawNet = readJson<unknown>(`${ROOT}${CONTRACT.network}`, 'network');
    const netProblems = validateNetwork(rawNet);
    if (netProblems.length) throw new AgentError('network-invalid', `${CONTRACT.network} is invalid: ${netProblems.map((p) => `${p.path}: ${p.message}`).join('; ')}.`);
    net = normalizeNetwork(rawNet);
    const mode = cmdline.mode ?? config.mode;
    if (config.report) {
      const macs = inventory?.nics.map((n) => n.mac) ?? Object.keys(net.interfaces);
      reporter = new Reporter(config.report, {uuid: inventory?.system.uuid, macs, hostname: config.hostname}, mode === 'test' ? 'test' : 'deploy', runner, log, RUN_DIR);
      if (inventory) reporter.setInventory(inventory);
      for (const e of early ?? []) reporter.add(e);
    }
    early = undefined; // no registry, or it has them now
    if (config.hostname) await runner.run('hostname', [config.hostname.split('.')[0]], {allowFail: true});
    const plan = await log.step('network', () => bringUpNetwork(runner, net!, log));
    const cfg = config;
    await log.step('network check', () => networkGate(runner, plan, cfg, log));
    timeline.network = uptime();
    log.emit({level: 'info', timeline, msg: `boot: network up and checked ${timeline.network.toFixed(2)} s after the kernel started`});
    // Again, now that the NICs are up: their link state, speed and addresses read true only now.
    try {
      inventory = writeInventory(new Date().toISOString(), parseIpAddrLines((await runner.run('ip', ['-o', 'addr', 'show'], {allowFail: true})).stdout));
      reporter?.setInventory(inventory);
    } catch (err) {
      log.warn(`could not gather the hardware inventory again: ${(err as Error).message}`);
    }
    if (reporter) {
      log.info(`reporting to the registry at ${config.report!.url} as deployment ${config.report!.deployment}`);
      reporter.start();
    }
    const ssh = await log.step('ssh', () => startDropbear(runner));
    reachable = true;
    log.info(`SSH: ssh root@${primaryAddress(net)} (host keys: ${ssh.convertedKeys.length ? `carried: ${ssh.convertedKeys.join(', ')}` : 'new'})`);

    if (mode === 'test') {
      log.emit({level: 'info', outcome: 'test-ready', msg: `TEST MODE READY: nothing will be written to disks. Connect with: ssh root@${primaryAddress(net)} ; "reboot" returns to the old system.`});
      if (config.next_boot) {
        const next = await waitForNextBoot(runner, config.next_boot, log);
        if (next === undefined) {
          log.emit({level: 'info', outcome: 'succeeded', msg: 'TEST BOOT ENDED: registered, nothing to deploy yet: powering off until woken (anemos machines wake)'});
          await powerOff(runner, log, 10);
        }
        // This boot has done its part: its record ends here (the next boot is a deployment of its own).
        log.emit({level: 'info', outcome: 'succeeded', msg: `TEST BOOT ENDED: the registry has another boot for this machine now (${next})`});
        await reboot(runner, log, 'rebooting into its network boot', 2);
      }
      await forever();
    }

    if (mode === 'live') {
      const live = config.live;
      if (!live) throw new AgentError('live-config', `${CONTRACT.config} says live mode and names no image (live:).`);
      const init = await mountLive(runner, log, live, {hostname: config.hostname, net}, {
        layersDir: `${ROOT}${CONTRACT.liveDir}`,
        networkJson: `${ROOT}${CONTRACT.network}`,
        authorizedKeys: `${ROOT}${CONTRACT.authorizedKeys}`,
        hostKeysDir: `${ROOT}${CONTRACT.hostKeysDir}`,
      });
      const total = ((now() - t0) / 1000).toFixed(1);
      log.emit({level: 'info', outcome: 'succeeded', msg: `LIVE IMAGE READY in ${total} s: ${live.image} (${live.layers.map((l) => l.name).join(' → ')}) mounted; switching to its ${init}; writes go to a ${live.tmpfs_mib} MiB tmpfs (${LIVE_UPPER})`});
      // A network boot's registry records the boot before the agent is gone (it reports nothing once the image runs).
      await reporter?.drain(10);
      // The image's own sshd takes port 22, with the same host keys.
      await runner.run('killall', ['dropbear'], {allowFail: true});
      return;
    }

    // UEFI: the partitions the firmware's boot entries may point at, before the payload changes them.
    const partitionsBefore = existsSync(EFIVARS_DIR) ? partitionGuids() : undefined;
    const payloadPath = `${ROOT}${CONTRACT.dir}/${config.payload!.file}`;
    await log.step('payload verify', () => verifyPayload(runner, payloadPath, config!.payload!.sha256));
    const kind = await log.step('payload unpack', () => unpackPayload(runner, payloadPath, PAYLOAD_DIR));
    const payloadEnv: PayloadEnv = {
      ANEMOS_PAYLOAD_DIR: PAYLOAD_DIR,
      ANEMOS_CONFIG: `${ROOT}${CONTRACT.config}`,
      ANEMOS_NETWORK: `${ROOT}${CONTRACT.network}`,
      ANEMOS_HOSTNAME: config.hostname,
      ANEMOS_LOG: log.logPath,
      ANEMOS_RAM_KEEP_KIB: String(RAM_KEEP_KIB),
      ...(config.disk ? {ANEMOS_DISK: config.disk} : {}),
    };
    const env: Record<string, string> = {PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...payloadEnv};
    if (kind === 'IMGBUILD') {
      await runImgbuild({
        runner,
        log,
        payloadDir: PAYLOAD_DIR,
        workDir: `${RUN_DIR}/imgbuild`,
        config,
        net,
        env,
        kernelArgs: carriedKernelArgs(cmdlineText),
        paths: {networkJson: `${ROOT}${CONTRACT.network}`, authorizedKeys: `${ROOT}${CONTRACT.authorizedKeys}`, hostKeysDir: `${ROOT}${CONTRACT.hostKeysDir}`},
      });
    } else {
      await log.step('payload run', () => runDeployScript(runner, {cwd: PAYLOAD_DIR, env, timeoutSeconds: config!.timeout, onLine: (l) => log.info(`deploy: ${l}`)}));
    }
    if (partitionsBefore) tidyBootEntries(log, partitionsBefore);
    const total = ((now() - t0) / 1000).toFixed(1);
    const msg = `DEPLOY SUCCEEDED in ${total} s: ${log.steps.map((s) => `${s.step} ${s.seconds} s`).join(', ')}`;
    log.emit({level: 'info', outcome: 'succeeded', msg});
    keepOutcome(log, {v: 1, t: new Date().toISOString(), mode: 'deploy', outcome: 'succeeded', msg, log: lastLogLines(log.logPath)});
    await waitForWatcher(config, log);
    await reboot(runner, log, 'the new system boots from disk', 2);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const written = diskWrites(before, readWriteCounters());
    const action = decideOnFailure(config?.on_failure ?? 'auto', written);
    // The outcome, for a driver following events.jsonl: whether to expect the old system back.
    log.emit({level: 'error', outcome: 'failed', action, written, msg: `DEPLOY FAILED: ${message}`});
    const step = [...log.steps].reverse().find((s) => !s.ok)?.step;
    keepOutcome(
      log,
      {v: 1, t: new Date().toISOString(), mode: (cmdline.mode ?? config?.mode) === 'test' ? 'test' : 'deploy', outcome: 'failed', action, written, msg: `DEPLOY FAILED: ${message}`, ...(step ? {step} : {}), log: lastLogLines(log.logPath)},
    );
    if (action === 'reboot') {
      if (reachable) await waitForWatcher(config, log);
      // From the disk at every boot: GRUB's default would boot this image, and fail, again.
      if (config?.live?.every_boot) await bootInstalledOnce(runner, log);
      await reboot(runner, log, written.length ? `disks written (${written.join(', ')}), but deploy.on_failure is reboot` : 'no disk was written, so the old system is intact', 10);
    }
    log.error(`Disks were written (${written.join(', ') || 'none'}): staying up so you can repair. Log: ${log.logPath}. SSH: ssh root@${net ? primaryAddress(net) : '<address>'}. Retry: ${existsSync(`${PAYLOAD_DIR}/deploy`) ? `cd ${PAYLOAD_DIR} && ./deploy` : `the step scripts in ${RUN_DIR}/imgbuild/steps (each runs alone: sh FILE)`}`);
    await forever();
  }
}

/** anemos-netconf; its exit code. */
async function netconf(argv: string[]): Promise<number> {
  const usage = `usage: anemos-netconf render --format ${RENDER_FORMATS.join('|')} [--names host|kernel] [--network FILE] ROOT\n`;
  let parsed;
  try {
    parsed = parseFlags(argv, {format: {type: 'string'}, names: {type: 'string', default: 'host'}, network: {type: 'string', default: `${ROOT}${CONTRACT.network}`}});
  } catch (err) {
    stderr(`anemos-netconf: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  const {values, positionals} = parsed;
  const [sub, root, ...extra] = positionals;
  const format = values.format as RenderFormat | undefined;
  const names = values.names!;
  if (sub !== 'render' || !format || !RENDER_FORMATS.includes(format) || !root || extra.length || !['host', 'kernel'].includes(names)) {
    stderr(usage);
    return 2;
  }
  // The same schema as the CLI's: a broken network.json stops here, not in the new system.
  const net = readNetworkJson(runtime, values.network!);
  // --names kernel: the names this kernel gives the NICs (the new system's own kernel names
  // them alike: eth0 for the first). ANEMOS_SYSFS points tests at a sysfs of their making.
  let kernelNames: Record<string, string> | undefined;
  if (names === 'kernel') {
    kernelNames = Object.fromEntries(readLinks(env().ANEMOS_SYSFS ?? '/sys').map((l) => [l.mac.toLowerCase(), l.name]));
    const nics = Object.values(net.interfaces).flatMap((i) => (i.bond ? i.bond.members : i.vlan ? [] : [i]));
    for (const i of nics) {
      if (!kernelNames[i.mac]) stderr(`anemos-netconf: no interface here has MAC ${i.mac}; writing the name it had on the old system (${i.name})\n`);
    }
  }
  const files = renderNetwork(net, format, kernelNames ? {names: kernelNames} : {});
  writeRendered(runtime, root, files);
  for (const f of files) stdout(`anemos-netconf: wrote ${root.replace(/\/$/, '')}/${f.path}\n`);
  return 0;
}

async function main(): Promise<number> {
  const [command, ...rest] = args();
  try {
    return command === 'netconf' ? await netconf(rest) : command === 'configure' ? await configure(rest) : command === 'apk-verify' ? await apkVerify(rest) : (await run(), 0);
  } catch (err) {
    stderr(`anemos agent: ${err instanceof AnemosError ? `${err.message}${err.details.length ? `\n  ${err.details.join('\n  ')}` : ''}` : err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err)}\n`);
    return 1;
  }
}

// An error is caught in main; QuickJS would end the process on a rejection no one handled.
void main().then(exit);
