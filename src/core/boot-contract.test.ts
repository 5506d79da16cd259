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

  it("README tells payload authors every variable of a payload's environment", () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    for (const name of Object.keys(PAYLOAD_ENV)) expect(readme, name).toContain(`\`${name}\``);
  });
});
