// Every boot method, by the name the plan gives.

import {grubLive} from './grub-live.js';
import {grubOnce} from './grub-once.js';
import {kexec} from './kexec.js';
import type {BootMethod, BootMethodName} from './method.js';

export type {Argv, BootMethod, BootMethodName, BootPaths, PreflightProblem, StagedFile} from './method.js';

export const BOOT_METHODS: Record<BootMethodName, BootMethod> = {kexec, bootloader: grubOnce, 'live-disk': grubLive};
export {BOOT_METHOD_NAMES} from './method.js';
