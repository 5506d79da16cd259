import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {ROUTES} from './api.js';
import {openApi} from './openapi.js';

const FILE = join(__dirname, '..', '..', '..', 'schema', 'openapi.json');

describe("the registry's API description", () => {
  it('schema/openapi.json is the description generated from the route table the server dispatches from', () => {
    const text = JSON.stringify(openApi('0.1.0'), null, 2) + '\n';
    if (process.env.UPDATE_GOLDEN) writeFileSync(FILE, text);
    expect(readFileSync(FILE, 'utf8')).toBe(text);
  });

  it('describes every route, and every route once, with who may call it', () => {
    const doc = openApi('t') as {paths: Record<string, Record<string, {'x-permission': string; security: unknown[]}>>};
    const described = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(described.sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(new Set(described).size).toBe(ROUTES.length);
    for (const r of ROUTES) expect(doc.paths[r.path]![r.method.toLowerCase()]!['x-permission']).toBe(r.permission);
    expect(doc.paths['/healthz']!.get!.security).toEqual([]);
  });
});
