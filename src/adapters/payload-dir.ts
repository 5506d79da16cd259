// The workstation's side of services/payload-sandbox.ts: Node's fs for listing, and the
// sandbox in /tmp as nobody when we run as root (deploy), else in our TMPDIR.

import {lstatSync, readdirSync} from 'node:fs';
import {tmpdir} from 'node:os';
import type {PayloadFile} from '../core/payload-check.js';
import * as sandbox from '../services/payload-sandbox.js';
import {EVALUATION_TIMEOUT_MS, type SandboxPlace, type SandboxRun} from '../services/payload-sandbox.js';
import type {ImgbuildFindings} from '../core/imgbuild.js';
import type {Runner} from './process.js';

export {NOBODY, EVALUATION_TIMEOUT_MS} from '../services/payload-sandbox.js';

export const listPayloadFiles = (dir: string): PayloadFile[] => sandbox.listPayloadFiles({readdirSync: (p) => readdirSync(p), lstatSync}, dir);

function hostPlace(): SandboxPlace {
  const asRoot = process.getuid?.() === 0;
  return {asRoot, tmp: asRoot ? '/tmp' : tmpdir()};
}

export const runSandboxed = (runner: Runner, dir: string, argv: [string, ...string[]], timeoutMs = EVALUATION_TIMEOUT_MS): Promise<SandboxRun> =>
  sandbox.runSandboxed(runner, hostPlace(), dir, argv, timeoutMs);

export const evaluateImgbuild = (runner: Runner, dir: string, files: PayloadFile[] = listPayloadFiles(dir), timeoutMs = EVALUATION_TIMEOUT_MS): Promise<ImgbuildFindings> =>
  sandbox.evaluateImgbuild(runner, hostPlace(), dir, files, timeoutMs);
