import {execFileSync} from 'node:child_process';
import {join} from 'node:path';

export const REPO = join(__dirname, '..', '..');
export const CLI = join(REPO, 'dist', 'anemos.cjs');

/** Directory of the unpacked Debian cloud kernel package (cached under .cache/kernel). */
export function debianKernelDir(): string {
  return execFileSync(join(REPO, 'scripts', 'fetch-kernel.sh'), {encoding: 'utf8'}).trim();
}

/** The deploy environment's qjs (Debian 13's, cached under .cache/quickjs), runnable here: argv to prepend. */
export function qjsCommand(): string[] {
  const dir = execFileSync(join(REPO, 'scripts', 'fetch-quickjs.sh'), {encoding: 'utf8'}).trim();
  // As /usr/lib/anemos/agent runs it.
  return [join(dir, 'qjs'), '--std', '--no-unhandled-rejection'];
}
