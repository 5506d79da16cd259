// Every target anemos can install, by the name an IMGBUILD's "target" gives.

import type {ImgTarget} from '../imgbuild-spec.js';
import {alpine} from './alpine.js';
import {arch} from './arch.js';
import {debian} from './debian.js';
import type {Target} from './target.js';

export type {Target};

export const TARGET_MODULES: Record<ImgTarget, Target> = {debian, alpine, arch};
