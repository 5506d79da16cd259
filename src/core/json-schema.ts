// A validator for the small JSON Schema subset our config schema uses. It reports every
// problem with its YAML path instead of stopping at the first one (linuxkit's habit).
// Not a general JSON Schema implementation: no $ref, no allOf, no formats.

export interface Schema {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array';
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  /** false: no other keys; a schema: every other key's value must match it. */
  additionalProperties?: boolean | Schema;
  /** What every key of a mapping must look like (with additionalProperties as a schema: maps keyed by MAC). */
  propertyNames?: {pattern: string; 'x-hint'?: string};
  enum?: readonly (string | number | boolean)[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  maxLength?: number;
  oneOf?: Schema[];
  default?: unknown;
  examples?: unknown[];
  /** Not JSON Schema: what to tell the user when this node is wrong. */
  'x-hint'?: string;
}

export interface SchemaProblem {
  path: string;
  message: string;
  hint?: string;
}

/** A value quoted in a message: a long one (hostile input, a pasted file) is cut. */
const quote = (v: string) => (v.length > 80 ? `${v.slice(0, 80)}…` : v);

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v);

function typeMatches(want: NonNullable<Schema['type']>, v: unknown): boolean {
  const t = typeOf(v);
  return t === want || (want === 'number' && t === 'integer');
}

function editDistance(a: string, b: string): number {
  const d = Array.from({length: a.length + 1}, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word, c);
    if (dist < bestD) [best, bestD] = [c, dist];
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export const join = (path: string, key: string | number): string => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

const NOUNS: Record<NonNullable<Schema['type']>, [string, string]> = {
  object: ['a mapping', 'mappings'],
  string: ['a string', 'strings'],
  integer: ['an integer', 'integers'],
  number: ['a number', 'numbers'],
  boolean: ['true or false', 'true/false values'],
  array: ['a list', 'lists'],
};

export function describe(s: Schema, plural = false): string {
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  if (s.type === 'array' && s.items) return `${plural ? 'lists' : 'a list'} of ${describe(s.items, true)}`;
  return s.type ? NOUNS[s.type][plural ? 1 : 0] : plural ? 'values' : 'a value';
}

export function validate(schema: Schema, value: unknown, path = ''): SchemaProblem[] {
  const at = path || '(top level)';
  if (schema.oneOf) {
    const branches = schema.oneOf.map((s) => validate(s, value, path));
    if (branches.some((p) => p.length === 0)) return [];
    // Report the branch whose type fits; otherwise say which shapes are allowed.
    const fitting = schema.oneOf.findIndex((s) => !s.type || typeMatches(s.type, value));
    if (fitting >= 0 && schema.oneOf.filter((s) => !s.type || typeMatches(s.type, value)).length === 1) {
      return branches[fitting].map((p) => ({...p, hint: p.hint ?? schema['x-hint']}));
    }
    return [{path: at, message: `must be ${schema.oneOf.map((s) => describe(s)).join(', or ')}`, hint: schema['x-hint']}];
  }
  const problems: SchemaProblem[] = [];
  if (schema.type && !typeMatches(schema.type, value)) {
    return [{path: at, message: `must be ${describe(schema)}, not ${typeOf(value)}${typeof value === 'string' ? ` "${quote(value)}"` : ''}`, hint: schema['x-hint']}];
  }
  if (schema.enum && !schema.enum.includes(value as string)) {
    return [{path: at, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, not ${quote(JSON.stringify(value) ?? String(value))}`, hint: schema['x-hint']}];
  }
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) {
    problems.push({path: at, message: `"${quote(value)}" does not match the expected form`, hint: schema['x-hint']});
  }
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum) {
    problems.push({path: at, message: `must be at least ${schema.minimum}, not ${value}`, hint: schema['x-hint']});
  }
  if (typeof value === 'number' && schema.maximum !== undefined && value > schema.maximum) {
    problems.push({path: at, message: `must be at most ${schema.maximum}, not ${value}`, hint: schema['x-hint']});
  }
  if (Array.isArray(value) && schema.minItems !== undefined && value.length < schema.minItems) {
    problems.push({path: at, message: `must have at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}, not ${value.length}`, hint: schema['x-hint']});
  }
  if (Array.isArray(value) && schema.maxItems !== undefined && value.length > schema.maxItems) {
    problems.push({path: at, message: `must have at most ${schema.maxItems} items, not ${value.length}`, hint: schema['x-hint']});
  }
  if (typeof value === 'string' && schema.maxLength !== undefined && value.length > schema.maxLength) {
    problems.push({path: at, message: `must be at most ${schema.maxLength} characters long, not ${value.length}`, hint: schema['x-hint']});
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => problems.push(...validate(schema.items!, item, join(path, i))));
  }
  if (schema.type === 'object' && value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = schema.properties ?? {};
    for (const req of schema.required ?? []) {
      if (obj[req] === undefined || obj[req] === null) {
        problems.push({path: join(path, req), message: 'is required but missing', hint: props[req]?.['x-hint']});
      }
    }
    for (const [k, v] of Object.entries(obj)) {
      if (schema.propertyNames && !new RegExp(schema.propertyNames.pattern).test(k)) {
        problems.push({path: join(path, k), message: `"${k}" is not a valid key here`, hint: schema.propertyNames['x-hint']});
      }
      if (props[k]) {
        if (v !== null || schema.required?.includes(k)) problems.push(...validate(props[k], v, join(path, k)));
      } else if (typeof schema.additionalProperties === 'object') {
        problems.push(...validate(schema.additionalProperties, v, join(path, k)));
      } else if (schema.additionalProperties === false) {
        const guess = closest(k, Object.keys(props));
        problems.push({
          path: join(path, k),
          message: 'is not a known key',
          hint: guess ? `Did you mean "${guess}"?` : `Known keys here: ${Object.keys(props).join(', ')}.`,
        });
      }
    }
  }
  return problems;
}
