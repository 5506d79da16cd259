// The last deploy's outcome, kept where the old system can read it after the reboot
// without the deploy environment writing to any disk (DESIGN.md §8): an EFI variable on
// UEFI machines, the kernel's ramoops (pstore) where the host reserves memory for it.
// The agent writes it; `anemos status` reads it. Both sides share this file.

import {concatBytes, utf8Decode, utf8Encode, writeU32LE} from '../shared/bytes.js';

/** A vendor GUID of anemos' own: the variable never collides with a firmware one. */
export const EFI_GUID = '9e93b5f7-2f8e-4391-b195-a40589a0d15f';
export const EFI_VARIABLE = `AnemosLastDeploy-${EFI_GUID}`;
export const EFIVARS_DIR = '/sys/firmware/efi/efivars';
/** EFI_VARIABLE_NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS, as efivarfs wants it first. */
const EFI_ATTRIBUTES = 0x7;
/** Firmware variable stores are small (OVMF allows 8 KiB per variable; some boards less). */
export const EFI_MAX_BYTES = 3584;
/** The kernel-log line the record travels in through ramoops' dump at reboot. */
export const RECORD_MARK = 'anemos-record: ';
/** Where pstore shows records, and where systemd-pstore moves them at boot (Debian 12's default). */
export const PSTORE_DIRS = ['/sys/fs/pstore', '/var/lib/systemd/pstore'];
/** ramoops dumps the kernel log at a reboot too (KMSG_DUMP_SHUTDOWN), not only at a panic. */
const RAMOOPS_DUMP_AT_REBOOT = 'ramoops.max_reason=4';

export interface LastDeploy {
  v: 1;
  /** When the outcome was reached (ISO 8601). */
  t: string;
  mode: 'deploy' | 'test';
  outcome: 'succeeded' | 'failed';
  action?: 'reboot' | 'stay';
  written?: string[];
  msg: string;
  /** The step that failed, if one did. */
  step?: string;
  /** The last lines of deploy.log. */
  log: string[];
  /** Where it was read from (set by the reader). */
  source?: string;
}

/** The host's ramoops, as /sys/module/ramoops/parameters shows it (absent: not loaded). */
export interface RamoopsParams {
  mem_address: string;
  mem_size: string;
  record_size?: string;
  console_size?: string;
  ftrace_size?: string;
  pmsg_size?: string;
  mem_type?: string;
  ecc?: string;
}

export const RAMOOPS_PARAMS = ['mem_address', 'mem_size', 'record_size', 'console_size', 'ftrace_size', 'pmsg_size', 'mem_type', 'ecc'] as const;

/** Where a record written by the deploy environment would survive; what the planner says. */
export type Keeper = {kind: 'efi'} | {kind: 'ramoops'; args: string[]} | {kind: 'none'; reason: string};

export function chooseKeeper(f: {efi: boolean; ramoops?: RamoopsParams; cmdline: string}): Keeper {
  if (f.efi) return {kind: 'efi'};
  const r = f.ramoops;
  if (r && Number(r.mem_address) > 0 && Number(r.mem_size) > 0 && Number(r.record_size ?? 0) > 0) {
    const params = Object.entries(r)
      .filter(([, v]) => v !== undefined && /^(0x[0-9a-fA-F]+|\d+|[YN])$/.test(String(v).trim()))
      .map(([k, v]) => `ramoops.${k}=${String(v).trim()}`);
    // The memory the host set aside (memmap=SIZE$ADDR) must stay set aside in the deploy
    // kernel too, which gets the firmware's memory map from kexec, not the host's.
    const memmap = f.cmdline.split(/\s+/).filter((a) => /^memmap=/.test(a));
    return {kind: 'ramoops', args: [...memmap, ...params, RAMOOPS_DUMP_AT_REBOOT]};
  }
  return {
    kind: 'none',
    reason: r
      ? 'ramoops is loaded without a dmesg record (record_size=0)'
      : 'BIOS boot without ramoops (give the host kernel memmap= and ramoops.mem_address=/mem_size=/record_size=, and load ramoops)',
  };
}

export function describeKeeper(k: Keeper): string {
  if (k.kind === 'efi') return `if the deploy fails, its outcome and last log lines are kept in the EFI variable ${EFI_VARIABLE.split('-')[0]}: "anemos status" shows them after the reboot`;
  if (k.kind === 'ramoops') return 'if the deploy fails, its outcome and last log lines reach pstore (ramoops) at the reboot: "anemos status" shows them';
  return `if the deploy fails before writing, the reason is not kept across the reboot here (${k.reason}); anemos deploy --host keeps it on the workstation`;
}

/** The kernel-log line for ramoops: the record without its log (those lines are in the log already). */
export function recordLine(r: LastDeploy): string {
  const {log: _log, source: _source, ...head} = r;
  let line = RECORD_MARK + JSON.stringify(head);
  if (line.length > 900) line = RECORD_MARK + JSON.stringify({...head, msg: head.msg.slice(0, 600)});
  return line;
}

/** efivarfs' file content: the attributes, then the record, its oldest log lines dropped to fit. */
export function efiVariable(r: LastDeploy): Uint8Array {
  const {source: _source, ...rec} = r;
  const fit = {...rec, msg: rec.msg.slice(0, 1000), log: rec.log.map((l) => l.slice(0, 240))};
  let json = JSON.stringify(fit);
  while (utf8Encode(json).length > EFI_MAX_BYTES - 4 && fit.log.length) {
    fit.log.shift();
    json = JSON.stringify(fit);
  }
  const attrs = new Uint8Array(4);
  writeU32LE(attrs, 0, EFI_ATTRIBUTES);
  return concatBytes([attrs, utf8Encode(json)]);
}

function asRecord(v: unknown): LastDeploy | undefined {
  const r = v as LastDeploy;
  return r && r.v === 1 && typeof r.t === 'string' && (r.outcome === 'failed' || r.outcome === 'succeeded') && typeof r.msg === 'string' ? {...r, log: Array.isArray(r.log) ? r.log : []} : undefined;
}

export function parseEfiVariable(bytes: Uint8Array, source = `${EFIVARS_DIR}/${EFI_VARIABLE}`): LastDeploy | undefined {
  try {
    const r = asRecord(JSON.parse(utf8Decode(bytes, 4)));
    return r && {...r, source};
  } catch {
    return undefined;
  }
}

/**
 * A kernel log kept by pstore (dmesg-ramoops-N, dmesg-efi-...): the last record line, with
 * the anemos lines logged since the agent started before it.
 */
export function parseKernelLog(text: string, source: string): LastDeploy | undefined {
  const lines = text.split('\n');
  let at = -1;
  for (let i = lines.length - 1; i >= 0 && at < 0; i--) if (lines[i]!.includes(RECORD_MARK)) at = i;
  if (at < 0) return undefined;
  let rec: LastDeploy | undefined;
  try {
    rec = asRecord(JSON.parse(lines[at]!.slice(lines[at]!.indexOf(RECORD_MARK) + RECORD_MARK.length)));
  } catch {
    return undefined;
  }
  if (!rec) return undefined;
  const log: string[] = [];
  for (let i = at - 1; i >= 0; i--) {
    const m = /\banemos: (.*)$/.exec(lines[i]!);
    if (!m) continue;
    log.unshift(m[1]!);
    if (/^agent started/.test(m[1]!)) break;
  }
  return {...rec, log, source};
}

/** The newest of the records found. */
export function newest(records: (LastDeploy | undefined)[]): LastDeploy | undefined {
  return records.filter((r): r is LastDeploy => Boolean(r)).sort((a, b) => b.t.localeCompare(a.t))[0];
}
