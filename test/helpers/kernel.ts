import {execFileSync} from 'node:child_process';
import {join} from 'node:path';

export const REPO = join(__dirname, '..', '..');
export const CLI = join(REPO, 'dist', 'anemos.cjs');

/** Directory of the unpacked Debian cloud kernel package (cached under .cache/kernel). */
export function debianKernelDir(): string {
  return execFileSync(join(REPO, 'scripts', 'fetch-kernel.sh'), {encoding: 'utf8'}).trim();
}
