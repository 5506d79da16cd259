import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {clearLastDeploy, readLastDeploy, renderStatus} from '../services/status.js';
import {chooseKeeper, EFI_MAX_BYTES, EFI_VARIABLE, efiVariable, newest, parseEfiVariable, parseKernelLog, recordLine, type LastDeploy} from './last-deploy.js';

const failed: LastDeploy = {
  v: 1,
  t: '2026-11-24T03:40:00.000Z',
  mode: 'deploy',
  outcome: 'failed',
  action: 'reboot',
  written: [],
  msg: 'DEPLOY FAILED: payload run: ./deploy exited with status 4',
  step: 'payload run',
  log: ['[03:39:58] anemos: payload run: start', '[03:39:59] anemos: deploy: checking the disk before touching it: not good'],
};

// What a Debian 6.1 kernel's ramoops shows in /sys/fs/pstore/dmesg-ramoops-0 after the agent's reboot -f.
const dmesg = (record: string) =>
  [
    'Shutdown#1 Part1',
    '<6>[    2.101] virtio_net virtio0 eth0: renamed',
    '<7>[    3.200] anemos: agent started (mode deploy); log: /run/anemos/deploy.log',
    '<7>[    4.000] anemos: network: ok (0.8 s)',
    '<7>[    9.000] anemos: deploy: checking the disk before touching it: not good',
    '<3>[    9.100] anemos: DEPLOY FAILED: payload run: ./deploy exited with status 4',
    `<5>[    9.101] ${record}`,
    '<7>[    9.102] anemos: outcome kept for "anemos status" on the next system: ramoops (at the reboot)',
    '<7>[   19.200] anemos: no disk was written, so the old system is intact: rebooting in 10 s',
    '<12>[   19.300] reboot: Restarting system',
  ].join('\n');

describe('where the last deploy outlives the reboot', () => {
  it('UEFI: an EFI variable; BIOS: ramoops with the host\'s parameters and its memmap= reservation carried, dumping at reboot; else nowhere, said so', () => {
    expect(chooseKeeper({efi: true, cmdline: ''})).toEqual({kind: 'efi'});
    const ramoops = chooseKeeper({efi: false, cmdline: 'root=/dev/vda1 memmap=1M$0x30000000 quiet', ramoops: {mem_address: '805306368', mem_size: '1048576', record_size: '65536', ecc: '0', console_size: '0'}});
    expect(ramoops).toEqual({
      kind: 'ramoops',
      args: ['memmap=1M$0x30000000', 'ramoops.mem_address=805306368', 'ramoops.mem_size=1048576', 'ramoops.record_size=65536', 'ramoops.ecc=0', 'ramoops.console_size=0', 'ramoops.max_reason=4'],
    });
    expect(chooseKeeper({efi: false, cmdline: '', ramoops: {mem_address: '805306368', mem_size: '1048576', record_size: '0'}})).toMatchObject({kind: 'none', reason: expect.stringMatching(/record_size=0/)});
    expect(chooseKeeper({efi: false, cmdline: ''})).toMatchObject({kind: 'none', reason: expect.stringMatching(/memmap=.*ramoops/)});
  });

  it('the EFI variable: attributes first, JSON after, the oldest log lines dropped to fit the firmware\'s limit', () => {
    const long = {...failed, log: Array.from({length: 200}, (_, i) => `[03:39:${i}] anemos: line ${i} ${'x'.repeat(60)}`)};
    const bytes = efiVariable(long);
    expect(Buffer.from(bytes).readUInt32LE(0)).toBe(7);
    expect(bytes.length).toBeLessThanOrEqual(EFI_MAX_BYTES);
    const back = parseEfiVariable(bytes, 'efi')!;
    expect(back).toMatchObject({outcome: 'failed', step: 'payload run', source: 'efi'});
    expect(back.log.at(-1)).toBe(long.log.at(-1));
    expect(back.log.length).toBeLessThan(200);
    expect(parseEfiVariable(Buffer.from('\x07\0\0\0not json'))).toBeUndefined();
  });

  it('a kernel log kept by ramoops: the last record, with the agent\'s lines since it started', () => {
    const rec = parseKernelLog(dmesg(recordLine(failed)), '/sys/fs/pstore/dmesg-ramoops-0')!;
    expect(rec).toMatchObject({outcome: 'failed', action: 'reboot', step: 'payload run', source: '/sys/fs/pstore/dmesg-ramoops-0'});
    expect(rec.log).toEqual([
      'agent started (mode deploy); log: /run/anemos/deploy.log',
      'network: ok (0.8 s)',
      'deploy: checking the disk before touching it: not good',
      'DEPLOY FAILED: payload run: ./deploy exited with status 4',
    ]);
    expect(parseKernelLog(dmesg('anemos: nothing kept'), 'x')).toBeUndefined();
    expect(recordLine({...failed, msg: 'y'.repeat(5000)}).length).toBeLessThan(1000);
  });

  it('anemos status reads the EFI variable and systemd-pstore\'s archive, and shows the newest', async () => {
    const root = mkdtempSync(join(tmpdir(), 'anemos-status-'));
    expect(renderStatus(await readLastDeploy({root})).join('\n')).toMatch(/^No deploy outcome is kept/);
    mkdirSync(join(root, 'sys/firmware/efi/efivars'), {recursive: true});
    writeFileSync(join(root, 'sys/firmware/efi/efivars', EFI_VARIABLE), efiVariable({...failed, t: '2026-11-20T00:00:00.000Z', msg: 'DEPLOY FAILED: older'}));
    mkdirSync(join(root, 'var/lib/systemd/pstore/1763955600'), {recursive: true});
    writeFileSync(join(root, 'var/lib/systemd/pstore/1763955600/dmesg-ramoops-0'), dmesg(recordLine(failed)));
    const r = await readLastDeploy({root});
    expect(r.record).toMatchObject({msg: failed.msg, source: join(root, 'var/lib/systemd/pstore/1763955600/dmesg-ramoops-0')});
    const text = renderStatus(r).join('\n');
    expect(text).toMatch(/^Last deploy: FAILED in step "payload run"; no disk was written, so it rebooted into the old system/);
    expect(text).toMatch(/deploy: checking the disk before touching it: not good/);
    expect(newest([undefined, {...failed, t: '2026-01-01T00:00:00Z'}, failed])?.t).toBe(failed.t);
    // --clear: both records go; a panic's log that pstore kept stays.
    writeFileSync(join(root, 'var/lib/systemd/pstore/1763955600/dmesg-ramoops-1'), 'Panic#1 Part1\n<0>[ 1.0] Kernel panic - not syncing: VFS\n');
    expect((await clearLastDeploy({root})).sort()).toEqual([join(root, 'sys/firmware/efi/efivars', EFI_VARIABLE), join(root, 'var/lib/systemd/pstore/1763955600/dmesg-ramoops-0')]);
    expect((await readLastDeploy({root})).record).toBeUndefined();
    expect(readFileSync(join(root, 'var/lib/systemd/pstore/1763955600/dmesg-ramoops-1'), 'utf8')).toMatch(/Kernel panic/);
  });
});
