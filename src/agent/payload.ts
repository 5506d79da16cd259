// Verify, unpack and run the payload. The sha256 is checked again here: the bytes in
// RAM are what runs, whatever happened on the way.

import {spawn} from 'node:child_process';
import {createHash} from 'node:crypto';
import {createReadStream, existsSync, mkdirSync, statSync} from 'node:fs';
import {pipeline} from 'node:stream/promises';
import {createInterface} from 'node:readline';
import type {Runner} from '../adapters/process.js';
import {AgentError} from './errors.js';

export async function verifyPayload(path: string, expected: string): Promise<void> {
  if (!existsSync(path)) throw new AgentError('payload-missing', `The payload ${path} is not in the initramfs.`);
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  const actual = h.digest('hex');
  if (actual !== expected.toLowerCase()) {
    throw new AgentError('payload-sha256', `The payload does not match its sha256 (expected ${expected}, got ${actual}).`);
  }
}

export type PayloadKind = 'deploy' | 'IMGBUILD';

export async function unpackPayload(runner: Runner, archive: string, dir: string): Promise<PayloadKind> {
  mkdirSync(dir, {recursive: true});
  // GNU tar refuses absolute names and ".." members by default.
  const r = await runner.run('tar', ['-xf', archive, '-C', dir, '--no-same-owner'], {allowFail: true});
  if (r.exitCode !== 0) throw new AgentError('payload-not-tar', `The payload is not a readable tar archive: ${r.stderr.trim().split('\n')[0]}`);
  const deploy = `${dir}/deploy`;
  if (existsSync(deploy)) {
    if (!(statSync(deploy).mode & 0o111)) throw new AgentError('payload-not-executable', 'The payload\'s "deploy" is not executable (chmod +x deploy, then pack again).');
    return 'deploy';
  }
  if (existsSync(`${dir}/IMGBUILD`)) return 'IMGBUILD';
  throw new AgentError('payload-no-entry', 'The payload has neither "deploy" nor "IMGBUILD" at its root.');
}

export interface RunScriptOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutSeconds: number;
  onLine: (line: string) => void;
}

/** Run ./deploy in its own process group; kill the group on timeout. */
export function runDeployScript(o: RunScriptOptions): Promise<void> {
  return runInGroup({...o, command: './deploy', args: [], name: './deploy', timeoutHint: `deploy.timeout (${o.timeoutSeconds} s)`});
}

export interface RunInGroupOptions extends RunScriptOptions {
  command: string;
  args: string[];
  /** How messages name the process. */
  name: string;
  /** What the timeout is, for the message ("deploy.timeout (3600 s)"). */
  timeoutHint: string;
}

/** Run a command in its own process group, lines to onLine; the group is killed on timeout. */
export function runInGroup(o: RunInGroupOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(o.command, o.args, {cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe']});
    for (const s of [child.stdout, child.stderr]) createInterface({input: s}).on('line', o.onLine);
    let timedOut = false;
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // the group is already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 10_000).unref();
    }, Math.max(1, o.timeoutSeconds) * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new AgentError('payload-run', `${o.name} could not start: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new AgentError('payload-timeout', `${o.name} ran longer than ${o.timeoutHint} and was stopped.`));
      else if (code === 0) resolve();
      else reject(new AgentError('payload-failed', `${o.name} exited with ${code !== null ? `code ${code}` : `signal ${signal}`}.`));
    });
  });
}
