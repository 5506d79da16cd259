// A live image's chain, read from the build directories on this machine (where anemos
// runs: with --host, the workstation's), for the deploy planner (core/live/image.ts).

import {readFileSync, realpathSync} from 'node:fs';
import {join} from 'node:path';
import {resolveLiveImage, type ChainProblem, type LiveImage} from '../core/live/image.js';
import type {LayerManifest} from '../core/live/layer.js';

function readManifest(dir: string): LayerManifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as LayerManifest;
  } catch {
    return undefined;
  }
}

/** TOP's chain; a link (an image library's entry) is followed first, as parents are found relative to the build directory itself. */
export function readLiveImage(top: string): {image?: LiveImage; problem?: ChainProblem} {
  let dir = top.replace(/\/+$/, '') || '/';
  try {
    dir = realpathSync(dir);
  } catch {
    // missing: resolveLiveImage names it
  }
  return resolveLiveImage(dir, readManifest);
}
