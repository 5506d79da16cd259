// The two references in docs/, generated (a golden test fails when either is stale):
// every anemos.conf key from the JSON Schema the CLI validates with, and every command,
// flag, environment variable and exit code from oclif's command manifest.

import {describe, type Schema} from './json-schema.js';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
const code = (text: string) => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);
const shown = (v: unknown) => (v === undefined ? '' : code(typeof v === 'string' ? v : JSON.stringify(v)));

function typeOf(s: Schema): string {
  if (s.oneOf) return s.oneOf.map(typeOf).join(', or ');
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return `a mapping of ${describe(s.additionalProperties, true)}`;
  const base = describe(s);
  const bounds = [s.minimum !== undefined ? `≥ ${s.minimum}` : '', s.maximum !== undefined ? `≤ ${s.maximum}` : '', s.maxLength !== undefined ? `≤ ${s.maxLength} characters` : ''].filter(Boolean);
  return bounds.length ? `${base} (${bounds.join(', ')})` : base;
}

function keyRows(schema: Schema, prefix: string, rows: string[]): void {
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const key = `${prefix}${name}`;
    const required = schema.required?.includes(name) ? ' **required**' : '';
    const form = [s.pattern ? `Form: ${code(s.pattern)}.` : '', s['x-hint'] ?? ''].filter(Boolean).join(' ');
    rows.push(`| ${code(key)}${required} | ${cell(typeOf(s))} | ${cell(shown(s.default))} | ${cell([s.description ?? '', form].filter(Boolean).join(' '))} |`);
    if (s.type === 'object' && s.properties) keyRows(s, `${key}.`, rows);
    for (const branch of s.oneOf ?? []) if (branch.type === 'object' && branch.properties) keyRows(branch, `${key}.`, rows);
  }
}

/** docs/config.md: every key of anemos.conf, then the example file that uses each of them. */
export function configReference(schema: Schema, example: string): string {
  const rows: string[] = [];
  keyRows(schema, '', rows);
  return [
    '# anemos.conf reference',
    '',
    '<!-- Generated from the JSON Schema anemos validates with (src/core/config.ts, schema/anemos.conf.schema.json); UPDATE_GOLDEN=1 npx vitest run test/integration/references.test.ts rewrites it. -->',
    '',
    '`anemos config check` checks a file against exactly this, and names every problem with its YAML path. Relative artifact paths are read from the config file\'s directory.',
    '',
    '| Key | Type | Default | Meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
    '## Every key in use',
    '',
    '`anemos.conf.example`, as shipped (its sha256 values are placeholders that `config check` refuses):',
    '',
    '```yaml',
    example.trimEnd(),
    '```',
    '',
  ].join('\n');
}

/** The parts of oclif's manifest the reference reads. */
export interface ManifestFlag {
  name: string;
  type: 'boolean' | 'option';
  char?: string;
  description?: string;
  env?: string;
  default?: unknown;
  options?: string[];
  multiple?: boolean;
  required?: boolean;
  hidden?: boolean;
  dependsOn?: string[];
  exclusive?: string[];
  relationships?: {type: string; flags: (string | {name: string})[]}[];
}
export interface ManifestCommand {
  id: string;
  summary?: string;
  description?: string;
  hidden?: boolean;
  examples?: (string | {command: string; description?: string})[];
  args?: Record<string, {name: string; description?: string; required?: boolean}>;
  flags: Record<string, ManifestFlag>;
}

function flagRow(f: ManifestFlag): string {
  const name = `${f.char ? `-${f.char}, ` : ''}--${f.name}${f.type === 'option' ? ` ${f.options ? f.options.join('\\|') : 'VALUE'}` : ''}`;
  const needs = [
    ...(f.dependsOn?.length ? [`only with ${f.dependsOn.map((d) => `--${d}`).join(' and ')}`] : []),
    ...(f.relationships ?? []).map((r) => `only with ${r.flags.map((x) => `--${typeof x === 'string' ? x : x.name}`).join(' or ')}`),
    ...(f.exclusive?.length ? [`not with ${f.exclusive.map((d) => `--${d}`).join(', ')}`] : []),
    ...(f.multiple ? ['repeatable'] : []),
    ...(f.required ? ['required'] : []),
  ];
  return `| ${code(name)} | ${f.env ? code(f.env) : ''} | ${cell(shown(f.default))} | ${cell([f.description ?? '', needs.length ? `(${needs.join('; ')})` : ''].filter(Boolean).join(' '))} |`;
}

/** docs/commands.md: every command with its arguments, flags (and their variables), examples; then the exit codes. */
export function commandReference(commands: ManifestCommand[], exits: Record<string, number>, exitMeaning: Record<string, string>): string {
  const out = [
    '# Command reference',
    '',
    '<!-- Generated from the oclif command manifest (src/commands/); UPDATE_GOLDEN=1 npx vitest run test/integration/references.test.ts rewrites it. -->',
    '',
    'Every command takes `-h`/`--help`; `anemos help COMMAND` and `anemos version` work too. A flag\'s environment variable is read when the flag is not given (flag > variable > config file > default); a flag without one is listed without.',
    '',
  ];
  const visible = commands.filter((c) => !c.hidden).sort((a, b) => a.id.localeCompare(b.id));
  out.push(...visible.map((c) => `- [anemos ${c.id.replace(/:/g, ' ')}](#${`anemos-${c.id.replace(/:/g, '-')}`})`), '');
  for (const c of visible) {
    const args = Object.values(c.args ?? {});
    out.push(`## anemos ${c.id.replace(/:/g, ' ')}`, '', c.summary ?? '', '');
    if (c.description) out.push(c.description, '');
    out.push('```', `anemos ${c.id.replace(/:/g, ' ')}${args.map((a) => (a.required ? ` ${a.name.toUpperCase()}` : ` [${a.name.toUpperCase()}]`)).join('')}${Object.keys(c.flags).length ? ' [FLAGS]' : ''}`, '```', '');
    if (args.length) out.push(...args.map((a) => `- \`${a.name.toUpperCase()}\`${a.required ? '' : ' (optional)'}: ${a.description ?? ''}`), '');
    const flags = Object.values(c.flags).filter((f) => !f.hidden).sort((a, b) => a.name.localeCompare(b.name));
    if (flags.length) out.push('| Flag | Variable | Default | Meaning |', '|---|---|---|---|', ...flags.map(flagRow), '');
    const examples = (c.examples ?? []).map((e) => (typeof e === 'string' ? e : e.command).replace(/<%= config\.bin %>/g, 'anemos'));
    if (examples.length) out.push('Examples:', '', '```sh', ...examples, '```', '');
  }
  out.push('## Exit codes', '', '| Code | Meaning |', '|---|---|');
  for (const [kind, n] of Object.entries(exits).sort((a, b) => a[1] - b[1])) out.push(`| ${n} | ${cell(exitMeaning[kind] ?? kind)} |`);
  out.push('');
  return out.join('\n');
}
