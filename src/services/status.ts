// anemos status: the last deploy's outcome as the deploy environment left it, read on the
// system that booted after it (src/core/last-deploy.ts says where and why).

import {rm} from 'node:fs/promises';
import {join} from 'node:path';
import {EFI_VARIABLE, EFIVARS_DIR, newest, parseEfiVariable, parseKernelLog, PSTORE_DIRS, type LastDeploy} from '../core/last-deploy.js';
import {hostFiles, type HostFiles} from '../adapters/host-files.js';
import {AnemosError} from '../shared/errors.js';

/** Files that may hold a record: the EFI variable, and pstore's kernel logs (also under systemd's archive). */
async function candidates(files: HostFiles, root: string): Promise<{path: string; kind: 'efi' | 'log'}[]> {
  const out: {path: string; kind: 'efi' | 'log'}[] = [];
  const efi = join(root, EFIVARS_DIR, EFI_VARIABLE);
  if ((await files.stat(efi))?.isFile) out.push({path: efi, kind: 'efi'});
  const logs = async (dir: string) => {
    for (const n of await files.list(dir)) {
      const p = join(dir, n);
      if (/^dmesg-/.test(n)) out.push({path: p, kind: 'log'});
      // systemd-pstore moves the records there (systemd 252, Debian 12), or into a directory per boot.
      else if ((await files.stat(p))?.isDirectory) for (const m of await files.list(p)) if (/^dmesg-/.test(m)) out.push({path: join(p, m), kind: 'log'});
    }
  };
  for (const d of PSTORE_DIRS) await logs(join(root, d));
  return out;
}

export async function readLastDeploy(o: {files?: HostFiles; root?: string} = {}): Promise<{record?: LastDeploy; searched: string[]}> {
  const files = o.files ?? hostFiles;
  const root = o.root ?? '/';
  const found: (LastDeploy | undefined)[] = [];
  for (const c of await candidates(files, root)) {
    if (c.kind === 'efi') found.push(parseEfiVariable(Buffer.from(await files.readBytes(c.path)), c.path));
    else found.push(parseKernelLog((await files.read(c.path)) ?? '', c.path));
  }
  const record = newest(found);
  return {...(record ? {record} : {}), searched: [join(root, EFIVARS_DIR, EFI_VARIABLE), ...PSTORE_DIRS.map((d) => join(root, d))]};
}

/**
 * anemos status --clear: remove the records (the EFI variable, the pstore files that hold
 * one); a kernel log pstore kept for another reason (a panic) stays. The removed paths.
 */
export async function clearLastDeploy(o: {root?: string} = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const c of await candidates(hostFiles, o.root ?? '/')) {
    if (c.kind === 'log' && !parseKernelLog((await hostFiles.read(c.path)) ?? '', c.path)) continue;
    try {
      await rm(c.path, {force: true});
    } catch (err) {
      throw new AnemosError('precondition', 'status-clear', `Cannot remove ${c.path}: ${(err as Error).message}.`, {hint: 'Run "anemos status --clear" as root.'});
    }
    removed.push(c.path);
  }
  return removed;
}

export function renderStatus(r: {record?: LastDeploy; searched: string[]}): string[] {
  const rec = r.record;
  if (!rec) {
    return [
      'No deploy outcome is kept on this machine.',
      `Looked in: ${r.searched.join(', ')}.`,
      'The deploy environment keeps one in an EFI variable (UEFI) or through ramoops (a host kernel with ramoops configured); elsewhere the reason of a failure lives only in the deploy log of "anemos deploy --host" (its --logs directory).',
    ];
  }
  const what =
    rec.outcome === 'succeeded'
      ? 'SUCCEEDED'
      : `FAILED${rec.step ? ` in step "${rec.step}"` : ''}; ${rec.written?.length ? `disks written: ${rec.written.join(', ')}` : 'no disk was written'}${rec.action === 'reboot' ? ', so it rebooted into the old system' : ''}`;
  return [`Last ${rec.mode === 'test' ? 'test boot' : 'deploy'}: ${what}`, `  when: ${rec.t}`, `  ${rec.msg}`, `  kept in: ${rec.source}`, ...(rec.log.length ? ['Its last log lines:', ...rec.log.map((l) => `  ${l}`)] : [])];
}
