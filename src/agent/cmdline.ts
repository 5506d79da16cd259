// Parse the kernel command line for what the agent needs: its mode and the consoles.

import {KERNEL_KEYS} from '../core/boot-contract.js';

export interface AgentCmdline {
  mode?: string;
  /** Console devices named by console= (ttyS0, tty0), in order; empty when none. */
  consoles: string[];
  debug: boolean;
}

export function parseCmdline(text: string): AgentCmdline {
  const args = text.trim().split(/\s+/).filter(Boolean);
  const consoles: string[] = [];
  let mode: string | undefined;
  let debug = false;
  for (const a of args) {
    const [k, v = ''] = a.split(/=(.*)/s, 2);
    if (k === 'console' && v) consoles.push(v.split(',')[0]);
    if (k === KERNEL_KEYS.mode) mode = v;
    if (k === KERNEL_KEYS.debug) debug = v !== '0';
  }
  return {...(mode ? {mode} : {}), consoles, debug};
}

