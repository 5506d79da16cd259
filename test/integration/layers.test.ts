// The layer table of .dependency-cruiser.cjs holds on src/ (no violation, no cycle), and
// the rules bite: a tree with one import of each forbidden kind is refused, each by name.
// The agent's closure is type-checked without Node's types (tsconfig.agent.json).

import {execFileSync, spawnSync} from 'node:child_process';
import {copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, relative, resolve} from 'node:path';
import {afterAll, describe, expect, it} from 'vitest';
import {BOOT_METHOD_NAMES} from '../../src/core/boot-methods/index.js';
import {TARGETS} from '../../src/core/targets/index.js';

const root = resolve(__dirname, '../..');
const depcruise = join(root, 'node_modules/.bin/depcruise');
const cruise = (cwd: string) => spawnSync(depcruise, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {cwd, encoding: 'utf8'});
const violations = (stdout: string) =>
  (JSON.parse(stdout) as {summary: {violations: {rule: {name: string}; from: string; to: string}[]}}).summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);

const scratch = mkdtempSync(join(tmpdir(), 'anemos-layers-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

describe('layers', () => {
  it('src/ keeps the layer table: no violation, no cycle', () => {
    const r = cruise(root);
    expect(violations(r.stdout)).toEqual([]);
  });

  it('refuses an upward import, an agent reaching an adapter, a Node built-in in core, a process started outside the Runner, a cycle and a test import', () => {
    const files: Record<string, string> = {
      'src/shared/errors.ts': 'export const e = 1;\n',
      'src/core/plan.ts': "import {readFileSync} from 'node:fs';\nimport {e} from '../shared/errors.js';\nexport const plan = () => readFileSync(String(e));\n",
      'src/core/a.ts': "import type {B} from './b.js';\nexport type A = {b?: B};\n",
      'src/core/b.ts': "import type {A} from './a.js';\nexport type B = {a?: A};\n",
      'src/adapters/disk.ts': "import {run} from '../services/deploy.js';\nexport const disk = run;\n",
      'src/services/deploy.ts': "import {plan} from '../core/plan.js';\nimport {h} from '../../test/helpers/h.js';\nexport const run = () => [plan, h];\n",
      'src/agent/main.ts': "import {disk} from '../adapters/disk.js';\nexport const main = disk;\n",
      'src/commands/go.ts': "import {disk} from '../adapters/disk.js';\nexport const go = disk;\n",
      'src/adapters/ssh.ts': "import {spawn} from 'node:child_process';\nexport const ssh = () => spawn('ssh', []);\n",
      'src/adapters/process.ts': "import {spawn} from 'node:child_process';\nexport const run = () => spawn('true', []);\n",
      'test/helpers/h.ts': 'export const h = 1;\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(scratch, path)), {recursive: true});
      writeFileSync(join(scratch, path), text);
    }
    copyFileSync(join(root, '.dependency-cruiser.cjs'), join(scratch, '.dependency-cruiser.cjs'));
    writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({compilerOptions: {module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true}, include: ['src', 'test']}));
    execFileSync('ln', ['-s', join(root, 'node_modules'), join(scratch, 'node_modules')]);
    const r = cruise(scratch);
    // a cycle is reported once, from the module cruised first
    expect(violations(r.stdout).sort()).toEqual(
      [
        'adapters-layer: src/adapters/disk.ts -> src/services/deploy.ts',
        'agent-layer: src/agent/main.ts -> src/adapters/disk.ts',
        'commands-layer: src/commands/go.ts -> src/adapters/disk.ts',
        'no-circular: src/core/a.ts -> src/core/b.ts',
        'not-to-test: src/services/deploy.ts -> test/helpers/h.ts',
        'one-process-door: src/adapters/ssh.ts -> child_process',
        'portable-core: src/core/plan.ts -> fs',
      ].sort(),
    );
  });

  it('a boot method and a target are each one file: nothing else branches on their names', () => {
    const sources = (dir: string): string[] =>
      readdirSync(dir, {withFileTypes: true}).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []));
    const names = [...BOOT_METHOD_NAMES, ...TARGETS].join('|');
    const branch = new RegExp(`(===|!==)\\s*'(${names})'|'(${names})'\\s*(===|!==)|case '(${names})'`);
    // Not a target: the host's own distribution, which picks the package manager for --install-kexec,
    // and anemos-netconf's output formats (one of which is named alpine).
    const elsewhere = new Set(['src/core/install-kexec.ts', 'src/core/network-render.ts']);
    const found = sources(join(root, 'src'))
      .map((f) => relative(root, f))
      .filter((f) => !/^src\/core\/(boot-methods|targets)\//.test(f) && !elsewhere.has(f))
      .flatMap((f) => readFileSync(join(root, f), 'utf8').split('\n').flatMap((line, i) => (branch.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])));
    expect(found).toEqual([]);
  });

  it('the agent and all it imports type-check without Node\'s types (it runs on QuickJS)', () => {
    const r = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.agent.json'], {cwd: root, encoding: 'utf8'});
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
