// Run QEMU in the foreground with this terminal as the VM's serial console (--qemu).
import {spawn} from 'node:child_process';
import {preconditionError} from '../shared/errors.js';

export function runQemu(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', args, {stdio: ['inherit', 'inherit', 'inherit']});
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? preconditionError('tool-missing', 'qemu-system-x86_64 is not installed.', 'apt-get install qemu-system-x86') : err),
    );
    child.on('exit', (code) => resolve(code ?? -1));
  });
}
