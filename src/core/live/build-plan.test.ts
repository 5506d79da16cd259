import {describe, expect, it} from 'vitest';
import {validateImgbuild} from '../imgbuild.js';
import type {ImgbuildSpec} from '../imgbuild-spec.js';
import {chainProblems, planTree} from './build-plan.js';

const layer = (dir: string, vars: Record<string, string>, functions: string[] = []): {dir: string; spec: ImgbuildSpec} => {
  const found = validateImgbuild({vars: {target: 'debian', format: 'live', debian_suite: 'trixie', kernel: 'none', ...vars}, functions}, [{path: 'IMGBUILD', mode: 0o644, type: 'file'}], 'live');
  if (!found.spec) throw new Error(found.errors.join('; '));
  return {dir, spec: found.spec};
};

describe("a live layer's tree: the command that makes it", () => {
  const base = layer('/p/base', {imgname: 'base', packages: 'systemd-sysv'});
  const web = layer('/p/web', {imgname: 'web', from: '../base', packages: 'nginx'}, ['provision']);

  it('replays a local chain from nothing: minbase, every layer\'s packages, each layer\'s steps after', () => {
    const cmd = planTree([base, web], '/w/tree.tar', 1_700_000_000)!;
    expect(cmd.cmd).toBe('mmdebstrap');
    expect(cmd.args.slice(0, 3)).toEqual(['--mode=unshare', '--variant=minbase', '--include=systemd-sysv,nginx']);
    expect(cmd.args.filter((a) => a.startsWith('--setup-hook'))).toEqual([]);
    expect(cmd.args.find((a) => a.includes('provision'))).toMatch(/^--customize-hook=.*\/p\/web\/IMGBUILD/);
    expect(cmd.args.slice(-3)).toEqual(['trixie', '/w/tree.tar', 'http://deb.debian.org/debian']);
    expect(cmd.env).toEqual({SOURCE_DATE_EPOCH: '1700000000'});
  });

  it("on a parent named by URL: its tree unpacked first (a setup hook), the custom variant installing the chain's packages over it", () => {
    const child = layer('/p/web', {imgname: 'web', from: 'https://images.example.com/base/out', from_sha256: 'a'.repeat(64), packages: 'nginx'}, ['provision']);
    const cmd = planTree([child], '/w/tree.tar', 1_700_000_000, '/w/out/from/.tree.tar')!;
    expect(cmd.args.slice(0, 4)).toEqual(['--mode=unshare', '--variant=custom', '--include=nginx', `--setup-hook=tar -C "$1" -x < /w/out/from/.tree.tar`]);
    expect(cmd.args.filter((a) => a.startsWith('--setup-hook'))).toHaveLength(1);
    expect(cmd.args.find((a) => a.includes('provision'))).toMatch(/^--customize-hook=/);
    // A child that adds files only asks for no package: no --include at all.
    const files = layer('/p/top', {imgname: 'top', from: 'https://images.example.com/web/out', from_sha256: 'a'.repeat(64), packages: ''});
    expect(planTree([files], '/w/tree.tar', 1, '/w/t.tar')!.args.some((a) => a.startsWith('--include'))).toBe(false);
  });

  it('a layer of the chain on another suite than its bottom one is refused', () => {
    const other = layer('/p/web', {imgname: 'web', from: '../base', debian_suite: 'bookworm'});
    expect(chainProblems([base, other])).toEqual([expect.stringMatching(/web: debian_suite "bookworm" differs from its bottom layer base's "trixie"/)]);
  });
});
