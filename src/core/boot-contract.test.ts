// The host ↔ deploy environment contract is one module: what /init checks for, what a
// payload author is told and what a driver looks for in /proc/cmdline all come from it.

import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {CONTRACT, isDeployEnvironment, KERNEL_KEYS, PAYLOAD_ENV} from './boot-contract.js';
import {planCmdline} from './deploy-plan.js';
import {parseCmdline} from '../agent/cmdline.js';

const REPO = join(__dirname, '..', '..');

describe('boot contract', () => {
  it('the mode the planner writes is the one the agent reads and a driver recognises', () => {
    const cmdline = planCmdline('BOOT_IMAGE=/vmlinuz root=/dev/vda1 console=ttyS0,115200', 'deploy', '');
    expect(cmdline).toContain(`${KERNEL_KEYS.mode}=deploy`);
    expect(parseCmdline(cmdline).mode).toBe('deploy');
    expect(isDeployEnvironment(cmdline)).toBe(true);
    expect(isDeployEnvironment('BOOT_IMAGE=/vmlinuz root=/dev/vda1 xanemos.mode=deploy')).toBe(false);
  });

  it("/init refuses to start without the contract's config.json", () => {
    const init = readFileSync(join(REPO, 'initramfs/files/init'), 'utf8');
    const checked = /^for f in (.+); do$/m.exec(init)?.[1]?.split(' ') ?? [];
    expect(checked).toContain(`/${CONTRACT.config}`);
  });

  it("docs/payloads.md tells payload authors every variable of a payload's environment, as the contract describes it", () => {
    const doc = readFileSync(join(REPO, 'docs/payloads.md'), 'utf8');
    const rows = new Map([...doc.matchAll(/^\| `(ANEMOS_[A-Z_]+)` \| (.+) \|$/gm)].map((m) => [m[1]!, m[2]!.replace(/`/g, '')]));
    expect([...rows.keys()].sort()).toEqual(Object.keys(PAYLOAD_ENV).sort());
    for (const [name, what] of Object.entries(PAYLOAD_ENV)) expect(rows.get(name), name).toBe(what);
  });
});
