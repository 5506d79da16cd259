// Firmware collection with the real modinfo against the Debian kernel's own modules: the
// files a driver declares are taken when installed (plain or compressed), skipped when not.
// (The cloud kernel has no NIC driver that declares firmware; ni_pcidio does.)

import {mkdirSync, mkdtempSync, readdirSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {collectFirmware} from '../../src/adapters/host-facts.js';
import {realRunner} from '../../src/adapters/process.js';
import {debianKernelDir} from '../helpers/kernel.js';

describe('firmware collection (modinfo -F firmware)', () => {
  it('takes the declared files that exist, .zst variants too, and skips unknown drivers', async () => {
    const kdir = debianKernelDir();
    const kver = readdirSync(join(kdir, 'lib', 'modules'))[0]!;
    const fw = mkdtempSync(join(tmpdir(), 'anemos-fw-'));
    writeFileSync(join(fw, 'niscrb01.bin'), 'firmware one');
    writeFileSync(join(fw, 'ni6534a.bin.zst'), 'compressed firmware');
    mkdirSync(join(fw, 'unrelated'));
    writeFileSync(join(fw, 'unrelated', 'other.bin'), 'not declared');
    const found = await collectFirmware(realRunner, ['no_such_driver', 'ni_pcidio'], {firmwareDir: fw, modinfoArgs: ['-b', kdir, '-k', kver]});
    // modinfo lists niscrb02.bin (not installed here), niscrb01.bin, ni6534a.bin.
    expect(found).toEqual([
      {path: 'niscrb01.bin', size: 12},
      {path: 'ni6534a.bin.zst', size: 19},
    ]);
  });
});
