// What makes a payload directory valid, judged from a listing of its files (pure).
// The shell syntax check and IMGBUILD evaluation run the real sh elsewhere.

import type {ImgbuildSpec} from './imgbuild-spec.js';

export interface PayloadFile {
  /** Path relative to the payload root, "/"-separated. */
  path: string;
  mode: number;
  type: 'file' | 'dir' | 'symlink';
}

export interface PayloadFindings {
  kind?: 'deploy' | 'IMGBUILD';
  /** The IMGBUILD as sh evaluated it (check of a directory or archive holding one). */
  imgbuild?: ImgbuildSpec;
  errors: string[];
  warnings: string[];
}

export function checkPayloadFiles(files: PayloadFile[]): PayloadFindings {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const errors: string[] = [];
  const warnings: string[] = [];
  const deploy = byPath.get('deploy');
  const imgbuild = byPath.get('IMGBUILD');
  let kind: PayloadFindings['kind'];
  if (deploy) {
    kind = 'deploy';
    if (deploy.type !== 'file') errors.push('"deploy" must be a regular file.');
    else if (!(deploy.mode & 0o111)) errors.push('"deploy" is not executable: chmod +x deploy.');
    if (imgbuild) warnings.push('Both "deploy" and "IMGBUILD" exist: "deploy" runs, IMGBUILD is ignored.');
  } else if (imgbuild) {
    kind = 'IMGBUILD';
  } else {
    errors.push('Neither "deploy" nor "IMGBUILD" is at the top of the payload.');
  }
  const check = byPath.get('check');
  if (check && (check.type !== 'file' || !(check.mode & 0o111))) errors.push('"check" (the payload\'s own check, run by "payload check" and deploy\'s preflight) is not an executable file: chmod +x check.');
  if (files.some((f) => f.path === 'secrets' || f.path.startsWith('secrets/'))) {
    warnings.push('secrets/ travels unencrypted inside the payload and the initramfs: anyone who can read the payload URL can read them.');
  }
  for (const f of files) {
    if (f.type === 'symlink') warnings.push(`${f.path} is a symlink; it is packed as a link, not as the file it points to.`);
  }
  return {...(kind ? {kind} : {}), errors, warnings};
}
