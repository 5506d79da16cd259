import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import type {IpCaptures} from '../../src/core/network.js';

export const FIXTURES = join(__dirname, '..', 'fixtures');

export function networkCapture(shape: string, hostname = 'host.example.net'): IpCaptures {
  const dir = join(FIXTURES, 'network', shape);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {addr: read('addr.json'), route4: read('route4.json'), route6: read('route6.json'), resolvConf: read('resolv.conf'), hostname};
}
