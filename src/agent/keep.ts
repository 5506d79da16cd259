// At the outcome, the agent leaves the record `anemos status` reads after the reboot
// (src/core/last-deploy.ts): a line in the kernel log, which ramoops dumps at the reboot
// where the host gave us its parameters, and an EFI variable on UEFI machines. Neither
// touches a disk. Best effort: a failure here is logged and the run goes on.

import {existsSync, readFileSync, rmSync, writeFileSync} from './runtime.js';
import {EFI_VARIABLE, EFIVARS_DIR, efiVariable, recordLine, type LastDeploy} from '../core/last-deploy.js';
import type {AgentLog} from './log.js';

const LOG_LINES = 40;

export function lastLogLines(path: string, n = LOG_LINES): string[] {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n);
  } catch {
    return [];
  }
}

export function keepOutcome(log: AgentLog, rec: LastDeploy, o: {efivars?: string; ramoops?: string} = {}): void {
  const kept: string[] = [];
  // Said only when ramoops is really loaded (/init loads it when the host passed its parameters).
  if (log.toKernelLog(recordLine(rec)) && existsSync(o.ramoops ?? '/sys/module/ramoops')) kept.push('ramoops (at the reboot)');
  const dir = o.efivars ?? EFIVARS_DIR;
  if (existsSync(dir)) {
    const file = `${dir}/${EFI_VARIABLE}`;
    try {
      // efivarfs cannot truncate: the old record goes first, the new one is one write.
      rmSync(file, {force: true});
      writeFileSync(file, efiVariable(rec));
      kept.push(`EFI variable ${EFI_VARIABLE}`);
    } catch (err) {
      log.warn(`could not keep the outcome in the EFI variable ${EFI_VARIABLE}: ${(err as Error).message}`);
    }
  }
  log.info(kept.length ? `outcome kept for "anemos status" on the next system: ${kept.join(', ')}` : 'outcome not kept across the reboot (no EFI variables, no ramoops on this machine)');
}
