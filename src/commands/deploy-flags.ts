// The flags of "deploy" and "test-boot" (they differ only in mode), and the request the
// deploy services take from them. Running it and saying how it went: deploy-command.ts.
import {createInterface} from 'node:readline/promises';
import {Flags} from '@oclif/core';
import type {BootMode} from '../core/boot-contract.js';
import {PHASES, type Phase} from '../core/deploy-plan.js';
import type {DeployRequest} from '../services/deploy-run.js';
import {usageError} from '../shared/errors.js';
import {DEFAULT_CONFIG_PATH} from '../core/config.js';
import {makeProgress} from '../shared/progress.js';
import {registryFlagValues, registryTrustFlags} from './registry-flags.js';
import {loadRegistryToken, trustFromFlags} from '../services/registry/client.js';

export const deployFlags = {
  config: Flags.string({char: 'c', description: 'Config file.', env: 'ANEMOS_CONFIG', default: DEFAULT_CONFIG_PATH}),
  yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation.', env: 'ANEMOS_YES'}),
  'dry-run': Flags.boolean({description: 'Print the plan and the exact commands; change nothing, download nothing.'}),
  phases: Flags.string({description: `The phases to run, in order (${PHASES.join(',')}); the last one named is where it stops, and each needs the ones before it ("compose" alone also fetches).`, default: PHASES.join(','), env: 'ANEMOS_PHASES'}),
  'install-kexec': Flags.boolean({description: 'If the host has no kexec-tools, install it with its package manager (apt-get, dnf, apk, pacman, zypper) before the load, instead of using the one-shot GRUB entry.', env: 'ANEMOS_INSTALL_KEXEC'}),
  'allow-unverified': Flags.boolean({description: 'Accept artifacts without sha256 (warns loudly; shown in the plan).', env: 'ANEMOS_ALLOW_UNVERIFIED'}),
  qemu: Flags.boolean({description: 'Run the deploy environment in a local QEMU VM instead of on this host (try a payload on a laptop).', env: 'ANEMOS_QEMU'}),
  disk: Flags.string({description: 'With --qemu: raw disk image attached as /dev/vda (required for deploy).', env: 'ANEMOS_QEMU_DISK', dependsOn: ['qemu']}),
  memory: Flags.integer({description: 'With --qemu: VM memory in MiB (default 1024).', env: 'ANEMOS_QEMU_MEMORY', dependsOn: ['qemu']}),
  'ssh-port': Flags.integer({description: 'With --host: the host\'s SSH port. With --qemu: the loopback port forwarded to the VM\'s SSH (default 2222).', env: 'ANEMOS_SSH_PORT', relationships: [{type: 'some', flags: ['host', 'qemu']}]}),
  accel: Flags.string({description: 'With --qemu: QEMU accelerator (default kvm:tcg: KVM first, else TCG).', env: 'ANEMOS_QEMU_ACCEL', dependsOn: ['qemu']}),
  host: Flags.string({description: 'Deploy [USER@]HOST over SSH from here, and follow it to a verdict (docs/guide.md, "From a workstation or a CI job"). The config is read here; network: auto means the host\'s network.', env: 'ANEMOS_HOST', exclusive: ['qemu']}),
  identity: Flags.string({char: 'i', description: 'With --host: SSH private key (ssh -i).', env: 'ANEMOS_SSH_IDENTITY', dependsOn: ['host']}),
  'ssh-option': Flags.string({description: 'With --host: an ssh -o option (repeatable), e.g. UserKnownHostsFile=./known_hosts.', multiple: true, dependsOn: ['host']}),
  upload: Flags.boolean({description: 'With --host: fetch kernel and base initramfs here and send them over SSH (for hosts without outbound access).', dependsOn: ['host']}),
  timeout: Flags.string({description: 'With --host: give up waiting for a verdict after this long (exit 12): seconds or 30m, 2h (default 1h).', env: 'ANEMOS_TIMEOUT', dependsOn: ['host']}),
  logs: Flags.string({description: 'With --host: where the events, deploy.log and (on failure) the step scripts are copied (default: ~/.cache/anemos/logs/HOST-TIME).', env: 'ANEMOS_LOGS', dependsOn: ['host']}),
  check: Flags.string({description: 'With --host: a command run on the new system over SSH; the deploy passes only if it exits 0.', dependsOn: ['host']}),
  attach: Flags.boolean({description: 'With --host: follow a deploy already under way (after this command was stopped) to its verdict; changes nothing.', dependsOn: ['host']}),
  'from-registry': Flags.string({description: 'Take this machine\'s desired deployment (kernel, base, payload, config overrides) from the registry at URL, found by the host\'s MACs (over SSH with --host); laid over --config when that file exists. Asked with ANEMOS_REGISTRY_TOKEN (or --token-file) if set, else with the machine\'s own credential.', env: 'ANEMOS_FROM_REGISTRY', exclusive: ['qemu']}),
  'token-file': Flags.string({description: 'A registry token in a file only you can read (0600; default ~/.config/anemos/registry-token), used before the machine\'s own credential; or set ANEMOS_REGISTRY_TOKEN.', env: 'ANEMOS_REGISTRY_TOKEN_FILE'}),
  ...registryTrustFlags,
};

export interface DeployFlagValues {
  qemu: boolean;
  disk?: string;
  memory?: number;
  'ssh-port'?: number;
  host?: string;
  identity?: string;
  'ssh-option'?: string[];
  upload: boolean;
  timeout?: string;
  logs?: string;
  check?: string;
  attach: boolean;
  accel?: string;
  config: string;
  yes: boolean;
  'dry-run': boolean;
  phases: string;
  'allow-unverified': boolean;
  'install-kexec': boolean;
  'from-registry'?: string;
  'token-file'?: string;
  'registry-ca'?: string;
  'registry-fingerprint'?: string;
  'insecure-registry'?: boolean;
}

export function parsePhases(text: string): Phase[] {
  const phases = text.split(',').map((p) => p.trim()).filter(Boolean);
  const bad = phases.filter((p) => !PHASES.includes(p as Phase));
  if (bad.length || !phases.length) throw usageError('bad-phase', `Unknown phase "${bad.join(', ') || text}".`, `Phases are ${PHASES.join(', ')}.`);
  // A phase needs the ones before it: "compose" alone still fetches. A list that skips one
  // ("fetch,exec") would run phases it does not name: refused, not silently widened.
  const last = Math.max(...phases.map((p) => PHASES.indexOf(p as Phase)));
  const run = PHASES.slice(0, last + 1);
  const skipped = phases.length > 1 ? run.filter((p) => !phases.includes(p)) : [];
  if (skipped.length) {
    throw usageError('phase-gap', `--phases ${text} skips ${skipped.join(', ')}, which ${run[last]} needs (phases run in order).`, `Pass --phases ${run.join(',')}, or the last phase alone: --phases ${run[last]}.`);
  }
  return run;
}

async function askYesNo(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({input: process.stdin, output: process.stderr});
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** --from-registry and the registry's token and trust, as the deploy service takes them (the token file and CA file read there). */
function registryRequest(flags: DeployFlagValues): Pick<DeployRequest, 'fromRegistry' | 'registryToken'> {
  const r = registryFlagValues({...flags, registry: flags['from-registry']});
  const token = loadRegistryToken(r);
  const trust = trustFromFlags(r);
  return {
    ...(flags['from-registry'] ? {fromRegistry: {url: flags['from-registry'], trust: {...(trust.pin ? {fingerprint: trust.pin} : {}), ...(trust.ca ? {ca: trust.ca} : {}), ...(trust.insecure ? {insecure: true} : {})}}} : {}),
    ...(token ? {registryToken: token} : {}),
  };
}

export function deployRequest(flags: DeployFlagValues, mode: BootMode, version: string, say: (l: string) => void): DeployRequest {
  return {
    configPath: flags.config,
    mode,
    phases: parsePhases(flags.phases),
    dryRun: flags['dry-run'],
    yes: flags.yes,
    allowUnverified: flags['allow-unverified'],
    installKexec: flags['install-kexec'],
    ...registryRequest(flags),
    cliVersion: version,
    cwd: process.cwd(),
    progress: makeProgress(),
    log: say,
    confirm: askYesNo,
  };
}

