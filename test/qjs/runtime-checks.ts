// Run under the real qjs by test/integration/qjs-runtime.test.ts: exercises
// src/agent/runtime.ts and prints what it observed, one JSON object per line; the test
// judges. Argument: a scratch directory.

import * as rt from '../../src/agent/runtime.js';
import {evaluateImgbuild, listPayloadFiles} from '../../src/core/payload-sandbox.js';

const dir = rt.args()[0]!;
const report = (name: string, value: unknown) => rt.stdout(`${JSON.stringify({name, value})}\n`);
const attempt = async (name: string, f: () => unknown) => {
  try {
    report(name, await f());
  } catch (err) {
    report(name, {error: (err as Error).message, code: (err as {code?: string}).code, details: (err as {details?: string[]}).details});
  }
};
const alive = (pid: number) => rt.existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(rt.readFileSync(`/proc/${pid}/status`, 'utf8'));

await attempt('files', () => {
  rt.mkdirSync(`${dir}/a/b/c`, {recursive: true});
  rt.writeFileSync(`${dir}/a/b/c/text`, 'héllo ☃ 𝄞\n', {mode: 0o640});
  rt.appendFileSync(`${dir}/a/b/c/text`, 'more\n');
  rt.writeFileSync(`${dir}/a/bytes`, Uint8Array.from([0, 1, 2, 255, 254]));
  rt.copyFileSync(`${dir}/a/b/c/text`, `${dir}/a/copy`);
  rt.chmodSync(`${dir}/a/copy`, 0o600);
  return {
    text: rt.readFileSync(`${dir}/a/b/c/text`, 'utf8'),
    mode: (rt.statSync(`${dir}/a/b/c/text`).mode & 0o777).toString(8),
    copyMode: (rt.statSync(`${dir}/a/copy`).mode & 0o777).toString(8),
    bytes: [...rt.readBytes(`${dir}/a/bytes`)],
    firstThree: [...rt.readBytes(`${dir}/a/bytes`, 3)],
    list: rt.readdirSync(`${dir}/a`),
    isDir: rt.statSync(`${dir}/a/b`).isDirectory(),
    exists: [rt.existsSync(`${dir}/a/copy`), rt.existsSync(`${dir}/nothing`)],
  };
});
await attempt('missing file', () => rt.readFileSync(`${dir}/nothing`, 'utf8'));
await attempt('remove tree', () => {
  rt.rmSync(`${dir}/a`, {recursive: true});
  rt.rmSync(`${dir}/a`, {force: true});
  return rt.existsSync(`${dir}/a`);
});

const {runner} = rt;
await attempt('run', async () => {
  const r = await runner.run('sh', ['-c', 'echo "out ☃"; echo err >&2; cat; echo "$FOO/$HOME"; pwd; exit 3'], {allowFail: true, input: 'from stdin\n', env: {FOO: 'foo'}, cwd: '/tmp'});
  const bare = await runner.run('sh', ['-c', 'echo "[$HOME]"'], {env: {PATH: '/usr/bin:/bin'}, extendEnv: false});
  return {...r, bare: bare.stdout};
});
await attempt('run relative', async () => {
  rt.mkdirSync(`${dir}/payload-like`, {recursive: true});
  rt.writeFileSync(`${dir}/payload-like/deploy`, '#!/bin/sh\necho "ran in $PWD"\n', {mode: 0o755});
  return (await runner.run('./deploy', [], {cwd: `${dir}/payload-like`})).stdout;
});
await attempt('run through busybox setsid', async () => {
  const exe = async (timeoutMs?: number) => (await runner.run('sh', ['-c', 'readlink /proc/$$/exe'], timeoutMs ? {timeoutMs} : {})).stdout.trim();
  return {setsid: (await runner.run('sh', ['-c', 'readlink -f "$(command -v setsid)"'])).stdout.trim(), grouped: await exe(5000), plain: await exe()};
});
await attempt('run failing', () => runner.run('sh', ['-c', 'echo why >&2; exit 4']));
await attempt('run missing', () => runner.run('no-such-tool-here', ['x']));
await attempt('run timeout', async () => {
  const t0 = rt.now();
  const err = await runner.run('sh', ['-c', `sleep 30 & echo $! > ${dir}/grandchild; wait`], {timeoutMs: 800}).then(() => undefined, (e: Error & {details?: string[]}) => e.details?.join(' '));
  await rt.sleep(200);
  const grandchild = Number(rt.readFileSync(`${dir}/grandchild`, 'utf8'));
  return {err, seconds: (rt.now() - t0) / 1000, grandchildAlive: alive(grandchild)};
});
await attempt('stream', async () => {
  const lines: string[] = [];
  const r = await runner.stream('sh', ['-c', 'echo one; echo two >&2; printf "no newline ☃"; exit 5'], {onLine: (l) => lines.push(l), timeoutSeconds: 10});
  return {lines, ...r};
});
await attempt('stream killed', async () => {
  const r = await runner.stream('sh', ['-c', 'kill -TERM $$'], {onLine: () => {}, timeoutSeconds: 10});
  return r;
});
await attempt('stream timeout', async () => {
  const t0 = rt.now();
  const lines: string[] = [];
  const r = await runner.stream('sh', ['-c', `echo started; sleep 30 & echo $! > ${dir}/streamchild; wait`], {onLine: (l) => lines.push(l), timeoutSeconds: 1});
  await rt.sleep(200);
  return {...r, lines, seconds: (rt.now() - t0) / 1000, grandchildAlive: alive(Number(rt.readFileSync(`${dir}/streamchild`, 'utf8')))};
});
await attempt('stream leaves a daemon', async () => {
  const t0 = rt.now();
  const r = await runner.stream('sh', ['-c', `setsid sleep 5 & echo $! > ${dir}/daemon; echo bye`], {onLine: () => {}, timeoutSeconds: 10});
  const seconds = (rt.now() - t0) / 1000;
  rt.runner.run('kill', [rt.readFileSync(`${dir}/daemon`, 'utf8').trim()], {allowFail: true});
  return {...r, seconds};
});
await attempt('detach', async () => {
  const fd = rt.openSync(`${dir}/detached.log`, 'a');
  runner.detach('sh', ['-c', `echo $$ > ${dir}/detached.pid; echo detached output`], {stdio: fd});
  rt.closeSync(fd);
  await rt.sleep(500);
  const pid = Number(rt.readFileSync(`${dir}/detached.pid`, 'utf8'));
  return {log: rt.readFileSync(`${dir}/detached.log`, 'utf8'), zombieOrAlive: rt.existsSync(`/proc/${pid}`)};
});
await attempt('imgbuild sandbox', async () => {
  const p = `${dir}/payload`;
  rt.mkdirSync(`${p}/files/etc`, {recursive: true});
  rt.writeFileSync(`${p}/IMGBUILD`, 'imgname="web$(id -u)"\ntarget=debian\nrm -rf "$PWD/files"\n');
  rt.writeFileSync(`${p}/files/etc/motd`, 'hello\n');
  const files = listPayloadFiles(rt, p);
  const asRoot = (await runner.run('id', ['-u'])).stdout.trim() === '0';
  const v = await evaluateImgbuild(runner, {asRoot, tmp: '/tmp'}, p, files);
  return {asRoot, errors: v.errors, imgname: v.spec?.imgname, files: files.map((f) => `${f.type} ${f.path}`), motdKept: rt.existsSync(`${p}/files/etc/motd`)};
});
rt.exit(0);
