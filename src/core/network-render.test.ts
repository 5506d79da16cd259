import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {FIXTURES, networkCapture} from '../../test/helpers/fixtures.js';
import {parseNetwork} from './network.js';
import {RENDER_FORMATS, renderNetwork} from './network-render.js';

// Golden files: reviewed by hand once, then any change shows up as a diff.
// Regenerate with UPDATE_GOLDEN=1 and review the diff before committing.
const GOLDEN = join(FIXTURES, 'render');
const SHAPES = ['dhcp-cloud', 'static-onlink', 'ipv6-only', 'dual-nic', 'bond-vm', 'bond-vlan-vm'];

function asText(files: ReturnType<typeof renderNetwork>): string {
  return files.map((f) => `==> ${f.path} (mode ${f.mode.toString(8)})\n${f.content}`).join('\n');
}

describe('network renderers (golden)', () => {
  for (const shape of SHAPES) {
    for (const format of RENDER_FORMATS) {
      it(`${shape} as ${format}`, () => {
        const text = asText(renderNetwork(parseNetwork(networkCapture(shape)), format));
        const file = join(GOLDEN, `${shape}.${format}.txt`);
        if (process.env.UPDATE_GOLDEN) {
          mkdirSync(GOLDEN, {recursive: true});
          writeFileSync(file, text);
        }
        expect(existsSync(file), `${file} missing: run with UPDATE_GOLDEN=1 and review it`).toBe(true);
        expect(text).toBe(readFileSync(file, 'utf8'));
      });
    }
  }

  it('maps interface names for ifupdown when the new system names NICs differently', () => {
    const net = parseNetwork(networkCapture('static-onlink'));
    const text = renderNetwork(net, 'alpine', {names: {'96:00:01:aa:bb:cc': 'eth7'}})[0].content;
    expect(text).toContain('auto eth7');
    expect(text).toContain('up ip -4 route add default via 172.31.1.1 dev eth7 onlink');
  });
});
