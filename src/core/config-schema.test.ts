import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {parseConfig} from './config.js';
import {CONFIG_SCHEMA} from './config.js';
import {BOOT_CONFIG_SCHEMA} from './boot-contract.js';
import {NETWORK_SCHEMA} from './network-schema.js';

const SCHEMA_FILE = join(__dirname, '..', '..', 'schema', 'anemos.conf.schema.json');
const EXAMPLE = join(__dirname, '..', '..', 'anemos.conf.example');

export const publishedSchema = () => ({$schema: 'https://json-schema.org/draft/2020-12/schema', title: 'anemos.conf', ...CONFIG_SCHEMA});

describe('published config schema and example', () => {
  it('schema/anemos.conf.schema.json is the schema the CLI validates with', () => {
    const text = JSON.stringify(publishedSchema(), null, 2) + '\n';
    if (process.env.UPDATE_GOLDEN) writeFileSync(SCHEMA_FILE, text);
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(text);
  });

  it('schema/network.schema.json is the schema of network.json everyone validates with', () => {
    const file = join(__dirname, '..', '..', 'schema', 'network.schema.json');
    const text = JSON.stringify({$schema: 'https://json-schema.org/draft/2020-12/schema', title: 'network.json', ...NETWORK_SCHEMA}, null, 2) + '\n';
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('schema/boot-config.schema.json is the schema of config.json the agent validates with', () => {
    const file = join(__dirname, '..', '..', 'schema', 'boot-config.schema.json');
    const text = JSON.stringify({$schema: 'https://json-schema.org/draft/2020-12/schema', title: 'anemos/config.json', ...BOOT_CONFIG_SCHEMA}, null, 2) + '\n';
    if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('anemos.conf.example documents every key; its placeholder sums are refused, and with real ones it is valid', () => {
    const example = readFileSync(EXAMPLE, 'utf8');
    const keys = (schema: typeof CONFIG_SCHEMA, prefix = ''): string[] =>
      Object.entries(schema.properties ?? {}).flatMap(([k, v]) => [prefix + k, ...(v.type === 'object' ? keys(v, `${prefix}${k}.`) : [])]);
    for (const key of keys(CONFIG_SCHEMA)) {
      const leaf = key.split('.').at(-1)!;
      expect(example, `anemos.conf.example lacks ${key}`).toMatch(new RegExp(`^\\s*#?\\s*${leaf}:`, 'm'));
    }
    // As shipped, its placeholder sums are refused, each by name; with real sums it parses.
    expect(() => parseConfig(example, 'anemos.conf.example')).toThrow(
      expect.objectContaining({details: ['kernel', 'initramfs', 'payload'].map((a) => expect.stringMatching(new RegExp(`^${a}\\.sha256: is the sha256 of an empty file`)))}),
    );
    expect(() => parseConfig(example.replace(/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/g, 'a'.repeat(64)), 'anemos.conf.example')).not.toThrow();
  });
});
