// docs/config.md and docs/commands.md are generated from what the CLI runs with: the
// config schema and oclif's command manifest. Stale is a failure; UPDATE_GOLDEN=1 rewrites.

import {readFileSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {CONFIG_SCHEMA} from '../../src/core/config.js';
import {commandReference, configReference, type ManifestCommand} from '../../src/core/reference.js';
import {EXIT, EXIT_MEANING} from '../../src/shared/errors.js';
import {CLI, REPO} from '../helpers/kernel.js';

function golden(file: string, text: string): void {
  const path = join(REPO, file);
  if (process.env.UPDATE_GOLDEN) writeFileSync(path, text);
  expect(readFileSync(path, 'utf8'), `${file} is stale: UPDATE_GOLDEN=1 npx vitest run test/integration/references.test.ts`).toBe(text);
}

describe('generated references', () => {
  it('docs/config.md lists every key of the schema, with its type and default', () => {
    const text = configReference(CONFIG_SCHEMA, readFileSync(join(REPO, 'anemos.conf.example'), 'utf8'));
    for (const key of ['kernel.sha256', 'deploy.disk', 'access.host_keys', 'report.fingerprint', 'cache_dir']) expect(text).toContain(`| \`${key}\``);
    expect(text).toContain('| `cache_dir` | a string | `/var/cache/anemos` |');
    golden('docs/config.md', text);
  });

  it('docs/commands.md lists every command of the bundled CLI, each flag with its variable, and the exit codes', async () => {
    const {buildManifest} = createRequire(__filename)(CLI) as {buildManifest(file: string): Promise<{commands: Record<string, ManifestCommand>}>};
    const manifest = await buildManifest(CLI);
    const text = commandReference(Object.values(manifest.commands), EXIT, EXIT_MEANING);
    for (const id of Object.keys(manifest.commands)) expect(text).toContain(`## anemos ${id.replace(/:/g, ' ')}\n`);
    expect(text).toMatch(/\| `--disk VALUE` \| `ANEMOS_QEMU_DISK` \| {2}\| With --qemu: .*\(only with --qemu\) \|/);
    expect(text).toContain('| 12 | no verdict within --timeout');
    golden('docs/commands.md', text);
  });
});
