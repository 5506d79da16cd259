import {describe, expect, it} from 'vitest';
import type {Host, HostFiles} from '../adapters/host-files.js';
import type {Runner} from '../adapters/process.js';
import {CUSTOM_CFG, renderGrubEntry} from '../core/boot-methods/grub-once.js';
import {renderLiveEntry} from '../core/boot-methods/grub-live.js';
import {liveRemove} from './live-remove.js';

/** A host whose files are a map and whose commands are recorded. */
function host(files: Record<string, string>, dirs: string[]): {host: Host; calls: string[][]} {
  const calls: string[][] = [];
  const runner = {
    run: async (cmd: string, args: string[]) => {
      calls.push([cmd, ...args]);
      return {stdout: '', stderr: '', exitCode: 0};
    },
  } as unknown as Runner;
  const f = {
    read: async (p: string) => files[p],
    write: async (p: string, c: string) => void (files[p] = c),
    stat: async (p: string) => (dirs.includes(p) ? {size: 0, dev: 1, isFile: false, isDirectory: true} : undefined),
  } as unknown as HostFiles;
  return {host: {name: 'this host', runner, files: f} as Host, calls};
}

describe('anemos live remove', () => {
  it("takes out the live entry and /boot/anemos-live; the operator's lines and a one-shot entry stay", async () => {
    const once = renderGrubEntry({cmdline: 'anemos.mode=test'});
    const files = {[CUSTOM_CFG]: `menuentry 'rescue' {\n}\n${renderLiveEntry({cmdline: 'anemos.mode=live'})}${once}`};
    const {host: h, calls} = host(files, ['/boot/anemos-live']);
    const r = await liveRemove(h);
    expect(files[CUSTOM_CFG]).toBe(`menuentry 'rescue' {\n}\n${once}`);
    expect(calls).toEqual([['rm', '-r', '--', '/boot/anemos-live']]);
    expect(r.removed).toHaveLength(2);
    expect(r.removed[0]).toMatch(/GRUB's own default is the default again/);
  });

  it('leaves a host without the entry as it is', async () => {
    const files = {[CUSTOM_CFG]: "menuentry 'rescue' {\n}\n"};
    const {host: h, calls} = host(files, []);
    expect(await liveRemove(h)).toEqual({removed: []});
    expect(files[CUSTOM_CFG]).toBe("menuentry 'rescue' {\n}\n");
    expect(calls).toEqual([]);
  });
});
