// anemos serve's settings file: its keys become the flags the command line and the
// environment left unset (flag > environment > file), and a file it cannot take stops the
// start with every problem named.

import {execFile} from 'node:child_process';
import {mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {describe, expect, it} from 'vitest';
import {CLI, startServe} from '../helpers/registry.js';

const run = promisify(execFile);

describe('anemos serve --settings FILE', () => {
  it('takes what the command line does not say (the flag wins), and refuses a file with unknown keys or wrong values, naming each', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-serve-settings-'));
    const file = join(dir, 'serve.yaml');
    // listen is given on the command line by startServe: the file's is not used; quiet is the file's.
    writeFileSync(file, 'listen: 127.0.0.1:1\nquiet: true\n');
    const serve = await startServe(['--data', join(dir, 'registry'), '--settings', file]);
    try {
      expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(serve.output()).not.toMatch(/GET \/healthz/);
    } finally {
      await serve.stop();
    }
    writeFileSync(file, 'lisen: 0.0.0.0:8443\nboot: "yes"\n');
    const err = await run(process.execPath, [CLI, 'serve', '--data', join(dir, 'registry'), '--settings', file]).then(() => undefined, (e: {code: number; stderr: string}) => e);
    expect(err?.code).toBe(3);
    expect(err?.stderr).toContain(`${file} has 2 problems: anemos serve did not start.`);
    expect(err?.stderr).toMatch(/lisen: is not a setting of this command \(the settings are its long flags: boot, .*listen/);
    expect(err?.stderr).toContain('boot: must be true or false');
  });
});
