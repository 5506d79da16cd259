// anemos-apk-verify: an Alpine index and a package checked against Alpine's keys before
// anything of Alpine runs (core/apk-verify.ts), for the IMGBUILD's Alpine bootstrap, which
// then runs apk.static with the same keys. gunzip and the digests are busybox's.

import {verifyIndex, verifyPackage, type ApkTools, fromHex} from '../core/apk-verify.js';
import {parseFlags} from '../shared/parse-flags.js';
import {existsSync, readBytes, readFileSync, rmSync, runner, stderr, stdout, writeFileSync} from './runtime.js';

const usage = 'usage: anemos-apk-verify --keys DIR --index APKINDEX.tar.gz [--package FILE.apk --name NAME]\n';

let scratchSeq = 0;
async function withFile<T>(bytes: Uint8Array, f: (path: string) => Promise<T>): Promise<T> {
  const path = `/tmp/.anemos-apk-${++scratchSeq}`;
  writeFileSync(path, bytes, {mode: 0o600});
  try {
    return await f(path);
  } finally {
    rmSync(path, {force: true});
  }
}

export function busyboxApkTools(keysDir: string): ApkTools {
  return {
    // A key's name as the signature gives it: a file name in the keys directory, nothing else.
    key: (name) => (/^[A-Za-z0-9@._+-]+$/.test(name) && existsSync(`${keysDir}/${name}`) ? readFileSync(`${keysDir}/${name}`, 'utf8') : undefined),
    gunzip: (bytes) =>
      withFile(bytes, async (path) => {
        const out = `${path}.out`;
        const r = await runner.run('sh', ['-c', 'gzip -dc < "$1" > "$2"', 'sh', path, out], {allowFail: true});
        try {
          if (r.exitCode !== 0) throw new Error(`gzip could not read it: ${r.stderr.trim()}`);
          return readBytes(out);
        } finally {
          rmSync(out, {force: true});
        }
      }),
    digest: (hash, bytes) =>
      withFile(bytes, async (path) => {
        const r = await runner.run(`${hash}sum`, [path]);
        return fromHex(r.stdout.trim().split(/\s+/)[0]!);
      }),
  };
}

/** anemos-apk-verify; its exit code. */
export async function apkVerify(argv: string[]): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    values = parseFlags(argv, {keys: {type: 'string'}, index: {type: 'string'}, package: {type: 'string'}, name: {type: 'string'}}).values;
  } catch (err) {
    stderr(`anemos-apk-verify: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (!values.keys || !values.index || Boolean(values.package) !== Boolean(values.name)) {
    stderr(usage);
    return 2;
  }
  const tools = busyboxApkTools(values.keys);
  try {
    const index = await verifyIndex(tools, readBytes(values.index));
    stdout(`anemos-apk-verify: ${values.index}: signed by a key in ${values.keys}\n`);
    if (values.package) {
      const {version} = await verifyPackage(tools, index, values.name!, readBytes(values.package));
      stdout(`anemos-apk-verify: ${values.package}: ${values.name} ${version} as the signed index names it\n`);
    }
    return 0;
  } catch (err) {
    stderr(`anemos-apk-verify: REFUSED: ${(err as Error).message}\n`);
    return 1;
  }
}
