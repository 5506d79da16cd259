// Every target anemos can install, by the name an IMGBUILD's "target" gives.

import {alpine} from './alpine.js';
import {arch} from './arch.js';
import {debian} from './debian.js';
import type {Target} from './target.js';

export type {Target};

export const TARGET_MODULES: Record<string, Target> = {debian, alpine, arch};

/** The names an IMGBUILD's "target" may give. */
export const TARGETS = Object.keys(TARGET_MODULES);

/** A target's options at their defaults (a root configured after the fact: anemos-configure). */
export const defaultOptions = (t: Target): Record<string, string> => Object.fromEntries(Object.entries(t.options).map(([k, o]) => [k, o.default]));
