import {parseArgs} from 'node:util';
import {describe, expect, it} from 'vitest';
import {parseFlags} from './parse-flags.js';

const options = {format: {type: 'string' as const}, names: {type: 'string' as const, default: 'host'}};

describe('parseFlags (the agent\'s util.parseArgs)', () => {
  it('agrees with Node\'s parseArgs on what anemos-netconf and anemos-configure are given', () => {
    for (const args of [
      ['render', '--format', 'networkd', '/mnt/target'],
      ['render', '--format=netplan', '--names', 'kernel', '/mnt'],
      ['--names=kernel', 'render', '/mnt', '--format', 'alpine'],
      ['render', '--', '--format'],
    ]) {
      const node = parseArgs({args, allowPositionals: true, options});
      expect(parseFlags(args, options)).toEqual({values: {...node.values}, positionals: node.positionals});
    }
  });

  it('refuses what Node refuses: an unknown option, a missing value', () => {
    for (const args of [['--colour', 'x'], ['render', '--format'], ['-x']]) {
      expect(() => parseArgs({args, allowPositionals: true, options})).toThrow();
      expect(() => parseFlags(args, options)).toThrow(/Unknown option|argument missing/);
    }
  });
});
