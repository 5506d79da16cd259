import {describe, expect, it} from 'vitest';
import {fakeFacts} from '../../../test/helpers/facts.js';
import {parseConfig} from '../config.js';
import {draftDeploy, PHASES} from '../deploy-plan.js';
import {renderPlan} from '../plan-render.js';
import {BOOT_METHODS} from '../boot-methods/index.js';
import {mergeLiveEntry} from '../boot-methods/grub-live.js';
import {mergeCustomCfg, renderGrubEntry} from '../boot-methods/grub-once.js';
import {LIVE_SYSTEM_MIB, liveRamNeed, resolveLiveImage} from './image.js';
import type {LayerManifest} from './layer.js';

const sha = (c: string) => c.repeat(64);
const manifest = (name: string, s: string, parent?: {name: string; sha256: string; dir?: string}): LayerManifest => ({
  format: 'anemos-live-layer/1',
  name,
  sha256: s,
  size: name === 'base' ? 44_000_000 : 3_500_000,
  parent: parent ?? null,
  chain: parent ? [parent.name, name] : [name],
  inputs: sha('0'),
  epoch: 1_700_000_000,
  entries: {tree: 10, layer: 5, added: 5, changed: 0, removed: 0},
  treeBytes: 200_000_000,
});
const tree = (over: Record<string, LayerManifest | undefined> = {}) => {
  const dirs: Record<string, LayerManifest | undefined> = {
    '/img/base/out': manifest('base', sha('b')),
    '/img/web/out': manifest('web', sha('w'), {name: 'base', sha256: sha('b'), dir: '../../base/out'}),
    ...over,
  };
  return (dir: string) => dirs[dir];
};

describe('a live image as a deploy boots it', () => {
  it('follows the top layer to its parents, bottom first', () => {
    const r = resolveLiveImage('/img/web/out', tree());
    expect(r.problem).toBeUndefined();
    expect(r.image!.name).toBe('web');
    expect(r.image!.layers.map((l) => [l.name, l.file, l.sha256])).toEqual([
      ['base', '/img/base/out/layer.squashfs', sha('b')],
      ['web', '/img/web/out/layer.squashfs', sha('w')],
    ]);
  });

  it('names a top that is not a layer, a parent missing, a parent rebuilt since, a manifest without its parent\'s place', () => {
    expect(resolveLiveImage('/img/nope', tree()).problem).toMatchObject({code: 'live-image-missing', message: expect.stringContaining('live.image /img/nope is not a layer')});
    expect(resolveLiveImage('/img/web/out', tree({'/img/base/out': undefined})).problem).toMatchObject({code: 'live-parent-missing', message: expect.stringContaining('web is built on base, and /img/base/out holds no layer')});
    const stale = resolveLiveImage('/img/web/out', tree({'/img/base/out': manifest('base', sha('c'))})).problem!;
    expect(stale.code).toBe('live-parent-stale');
    expect(stale.message).toBe(`The live image's layer web was built on base bbbbbbbbbbbb…, and /img/base/out now holds base cccccccccccc…: web is stale.`);
    expect(stale.hint).toMatch(/--with-parents/);
    expect(resolveLiveImage('/img/web/out', tree({'/img/web/out': manifest('web', sha('w'), {name: 'base', sha256: sha('b')})})).problem!.code).toBe('live-parent-unknown');
    // A chain that leads back to itself ends.
    const loop = (dir: string) => manifest('x', sha('x'), {name: 'x', sha256: sha('x'), dir: '.'});
    expect(resolveLiveImage('/img/x', loop).problem!.code).toBe('live-chain-loop');
  });

  it('needs the larger of RAM while it starts and RAM once it runs', () => {
    const MiB = 1048576;
    const running = liveRamNeed({layersBytes: 48 * MiB, baseUnpackedBytes: 60 * MiB, agentBytes: 112 * MiB, tmpfsMib: 512});
    expect(running.bytes).toBe((48 + 512 + LIVE_SYSTEM_MIB) * MiB);
    expect(running.words).toBe(`816 MiB: 48 MiB of layers + 512 MiB writable (live.tmpfs) + ${LIVE_SYSTEM_MIB} MiB for the system`);
    const starting = liveRamNeed({layersBytes: 48 * MiB, baseUnpackedBytes: 400 * MiB, agentBytes: 112 * MiB, tmpfsMib: 16});
    expect(starting.bytes).toBe(560 * MiB);
    expect(starting.words).toMatch(/^560 MiB while it starts/);
  });
});

describe('live: in anemos.conf and the plan', () => {
  const SHA = sha('b');
  const conf = (live: string, extra = '') => parseConfig(`kernel: {url: http://h/vmlinuz, sha256: ${SHA}}\ninitramfs: {url: http://h/i.zst, sha256: ${SHA}}\nlive: ${live}\n${extra}`, 'anemos.conf', {baseDir: '/etc'});

  it('reads the image relative to the file, the tmpfs size and persist paths', () => {
    expect(conf('{image: images/web/out, tmpfs: 2G, persist: [{path: /srv/data, label: data}]}').live).toEqual({image: '/etc/images/web/out', tmpfsMib: 2048, persist: [{path: '/srv/data', label: 'data'}], everyBoot: false});
    expect(conf('{image: /i, every_boot: true}').live).toEqual({image: '/i', tmpfsMib: 512, persist: [], everyBoot: true});
  });

  it('refuses a payload beside it, and persist paths that climb, name the kernel\'s file systems or repeat', () => {
    expect(() => conf('{image: /i}', `payload: {url: http://h/p.tar.gz, sha256: ${SHA}}`)).toThrow(/has 1 problem/);
    let err: any;
    try {
      conf('{image: /i, tmpfs: 0M, persist: [{path: /srv/../etc, label: data}, {path: /proc/x, label: d}, {path: /srv, label: a}, {path: /srv, label: b}]}');
    } catch (e) {
      err = e;
    }
    expect(err.details.join('\n')).toMatch(/live\.tmpfs/);
    expect(err.details.join('\n')).toMatch(/live\.persist\.0\.path: \/srv\/\.\.\/etc has a "\." or "\.\." part/);
    expect(err.details.join('\n')).toMatch(/live\.persist\.1\.path: \/proc\/x is the root or a file system the kernel provides/);
    expect(err.details.join('\n')).toMatch(/live\.persist\.3\.path: \/srv is listed twice/);
  });

  it('plans live mode: no payload needed, the layers in config.json, anemos.mode=live, the plan says what boots', () => {
    const image = resolveLiveImage('/img/web/out', tree()).image!;
    const plan = draftDeploy(conf('{image: /img/web/out, tmpfs: 256M, persist: [{path: /srv/data, label: data}]}'), fakeFacts(), {mode: 'deploy', phases: [...PHASES], allowUnverified: false, cliVersion: '0.1.0', live: {image}});
    expect(plan.problems).toEqual([]);
    expect(plan.cmdline).toMatch(/ anemos\.mode=live /);
    expect(plan.bootConfig.mode).toBe('live');
    expect(plan.bootConfig.payload).toBeUndefined();
    expect(plan.bootConfig.live).toEqual({
      image: 'web',
      layers: [
        {name: 'base', file: '00-base.squashfs', sha256: sha('b')},
        {name: 'web', file: '01-web.squashfs', sha256: sha('w')},
      ],
      tmpfs_mib: 256,
      persist: [{path: '/srv/data', label: 'data'}],
    });
    const text = renderPlan(plan, []);
    expect(text).toMatch(/Live image web, booted into RAM; no disk is written but the persist: file systems:/);
    expect(text).toMatch(/layer base +\/img\/base\/out\/layer\.squashfs {2}sha256 bbbbbbbbbbbb… {2}44000000 bytes/);
    expect(text).toMatch(/persist: \/srv\/data on the file system labelled data/);
  });

  it('every_boot: the image from this disk at every boot, by a default GRUB entry; not by kexec', () => {
    const image = resolveLiveImage('/img/web/out', tree()).image!;
    const o = {mode: 'deploy' as const, phases: [...PHASES], allowUnverified: false, cliVersion: '0.1.0', live: {image}};
    const plan = draftDeploy(conf('{image: /img/web/out, every_boot: true}'), fakeFacts(), o);
    expect(plan.problems).toEqual([]);
    expect(plan.method).toBe('live-disk');
    expect(plan.bootConfig.live?.every_boot).toBe(true);
    const method = BOOT_METHODS[plan.method];
    expect(method.load(plan, {kernel: '/k', initramfs: '/i'})).toEqual([
      ['install', '-D', '-m', '0600', '/k', '/boot/anemos-live/vmlinuz'],
      ['install', '-D', '-m', '0600', '/i', '/boot/anemos-live/initramfs.img'],
    ]);
    expect(method.exec(true)).toEqual(['systemctl', 'reboot']);
    // The block: the entry, made the default unless GRUB takes a one-shot entry (grub-reboot) this boot.
    const [staged] = method.stage(fakeFacts(), plan);
    const cfg = staged!.content("menuentry 'rescue' {\n}\n");
    expect(cfg).toMatch(/^menuentry 'rescue' \{\n\}\n### BEGIN anemos live/);
    expect(cfg).toContain(`linux /boot/anemos-live/vmlinuz ${plan.cmdline}`);
    expect(cfg).toContain('initrd /boot/anemos-live/initramfs.img');
    expect(cfg).toContain('if [ -z "${boot_once}" ]; then set default=anemos-live; fi');
    // Beside a one-shot entry (anemos deploy from the live system's installed one): both kept, each replaced on its own.
    const both = mergeCustomCfg(cfg, renderGrubEntry({cmdline: 'anemos.mode=deploy'}));
    expect(staged!.content(both).match(/### BEGIN anemos/g)).toHaveLength(2);
    expect(mergeLiveEntry(both)).toBe(`menuentry 'rescue' {\n}\n${renderGrubEntry({cmdline: 'anemos.mode=deploy'})}`);
    // /boot on a partition of its own: GRUB's paths start there.
    expect(method.stage(fakeFacts({boot: {grubCustomHook: true, separateBoot: true}}), plan)[0]!.content(undefined)).toContain('linux /anemos-live/vmlinuz');
    expect(renderPlan(plan, [])).toMatch(/nothing is written but \/boot \(the deploy environment and the layers in \/boot\/anemos-live, the GRUB entry\)/);
    expect(renderPlan(plan, [])).toMatch(/Every boot runs this image again/);
    // Asked for by kexec: refused, with the way out; without GRUB's custom.cfg: refused, in its words.
    expect(draftDeploy(conf('{image: /img/web/out, every_boot: true}', 'boot: {method: kexec}'), fakeFacts(), o).problems.map((p) => p.code)).toEqual(['live-every-boot-kexec']);
    const noHook = draftDeploy(conf('{image: /img/web/out, every_boot: true}'), fakeFacts({boot: {...fakeFacts().boot, grubCustomHook: false}}), o).problems;
    expect(noHook.map((p) => p.code)).toEqual(['grub-no-custom-cfg']);
    expect(noHook[0]!.message).toMatch(/the live GRUB entry/);
  });

  it('stops on a chain problem, and on report: (not recorded yet)', () => {
    const problem = resolveLiveImage('/img/web/out', tree({'/img/base/out': undefined})).problem!;
    const plan = draftDeploy(conf('{image: /img/web/out}', 'report: {url: "https://r.example:8443"}'), fakeFacts(), {mode: 'deploy', phases: [...PHASES], allowUnverified: false, cliVersion: '0.1.0', live: {problem}});
    expect(plan.problems.map((p) => p.code)).toEqual(['live-parent-missing', 'live-report']);
  });
});
