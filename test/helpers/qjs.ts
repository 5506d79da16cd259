// Calling the agent's file-touching functions under the real qjs from a unit test: the
// agent's runtime (src/agent/runtime.ts) is QuickJS', not Node's (test/qjs/call.ts).

import {execFile, execFileSync} from 'node:child_process';
import {promisify} from 'node:util';
import {mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {buildSync} from 'esbuild';
import {qjsCommand, REPO} from './kernel.js';

let bundle: string | undefined;
let qjs: string[] | undefined;

/** A test entry bundled as scripts/build.mjs bundles the agent: neutral platform, no Node built-ins. */
export function bundleForQjs(entry: string, outfile: string): void {
  buildSync({entryPoints: [join(REPO, entry)], bundle: true, platform: 'neutral', mainFields: ['module', 'main'], format: 'esm', target: 'es2022', outfile, logLevel: 'warning'});
}

function prepared(name: string, args: unknown[]): [string, string[]] {
  if (!bundle) {
    bundle = join(mkdtempSync(join(tmpdir(), 'anemos-qjs-call-')), 'call.mjs');
    bundleForQjs('test/qjs/call.ts', bundle);
  }
  qjs ??= qjsCommand();
  const [cmd, ...flags] = qjs;
  return [cmd!, [...flags, bundle, name, JSON.stringify(args)]];
}

export function callUnderQjs<T>(name: string, ...args: unknown[]): T {
  const [cmd, argv] = prepared(name, args);
  return JSON.parse(execFileSync(cmd, argv, {encoding: 'utf8', timeout: 30_000})) as T;
}

/** The same, without blocking this process: for a call that talks to a server the test runs here. */
export async function callUnderQjsAsync<T>(name: string, ...args: unknown[]): Promise<T> {
  const [cmd, argv] = prepared(name, args);
  const {stdout} = await promisify(execFile)(cmd, argv, {encoding: 'utf8', timeout: 120_000});
  return JSON.parse(stdout) as T;
}
