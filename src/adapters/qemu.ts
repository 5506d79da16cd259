// Run QEMU in the foreground with this terminal as the VM's serial console (--qemu).
import {realRunner, type Runner} from './process.js';

export async function runQemu(args: string[], runner: Runner = realRunner): Promise<number> {
  // A missing qemu-system-x86_64 is reported by the runner as tool-missing, with its package.
  const r = await runner.run('qemu-system-x86_64', args, {inherit: true, allowFail: true});
  return r.exitCode;
}
