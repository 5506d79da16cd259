// anemos-apk-verify as the deploy environment runs it (the agent bundle under the real qjs,
// gzip and the digests from busybox), on an Alpine mirror's index and apk-tools-static made
// here and signed with a key made here: what the Alpine bootstrap runs before apk.static.

import {execFile} from 'node:child_process';
import {mkdirSync, mkdtempSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {describe, expect, it} from 'vitest';
import {ALPINE_KEY_NAME, makeIndex, makePackage, newKey, publicPem} from '../helpers/alpine.js';
import {qjsCommand, REPO} from '../helpers/kernel.js';

describe('anemos-apk-verify under qjs, with busybox', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-apk-'));
  const keys = join(dir, 'keys');
  mkdirSync(keys);
  const key = newKey();
  writeFileSync(join(keys, ALPINE_KEY_NAME), publicPem(key));
  // busybox's applets first on PATH, as in the deploy environment.
  const bb = join(dir, 'bb');
  mkdirSync(bb);
  for (const applet of ['gzip', 'sha1sum', 'sha256sum', 'sh']) symlinkSync('/bin/busybox', join(bb, applet));
  const verify = async (index: Buffer, apk: Buffer) => {
    writeFileSync(join(dir, 'APKINDEX.tar.gz'), index);
    writeFileSync(join(dir, 'apk-tools-static.apk'), apk);
    const [qjs, ...flags] = qjsCommand();
    return promisify(execFile)(qjs!, [...flags, join(REPO, 'dist', 'agent.mjs'), 'apk-verify', '--keys', keys, '--index', join(dir, 'APKINDEX.tar.gz'), '--package', join(dir, 'apk-tools-static.apk'), '--name', 'apk-tools-static'], {env: {PATH: `${bb}:${process.env.PATH}`}}).then(
      (r) => ({code: 0, out: `${r.stdout}${r.stderr}`}),
      (e: {code: number; stdout: string; stderr: string}) => ({code: e.code, out: `${e.stdout}${e.stderr}`}),
    );
  };

  it('passes a signed index and the apk-tools-static it names, and refuses another key or another binary', async () => {
    const pkg = makePackage(key);
    const ok = await verify(makeIndex(pkg.control, key), pkg.apk);
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toMatch(/apk-tools-static 2\.14\.9-r0 as the signed index names it/);
    const foreign = await verify(makeIndex(pkg.control, newKey()), pkg.apk);
    expect(foreign.code).toBe(1);
    expect(foreign.out).toMatch(/REFUSED: the index's signature by .* does not match it/);
    const swapped = makePackage(key, {data: 'a binary someone else built'});
    const other = await verify(makeIndex(pkg.control, key), swapped.apk);
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/REFUSED: apk-tools-static's control checksum is Q1\S+, the signed index says Q1/);
  }, 60_000);
});
