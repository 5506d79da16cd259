import {describe, expect, it} from 'vitest';
import {AnemosError} from '../shared/errors.js';
import {missingChecksums, parseConfig} from './config.js';

const SHA = 'a'.repeat(64);
const minimal = `kernel: {url: https://example.org/vmlinuz, sha256: ${SHA}}\ninitramfs: {url: /srv/initramfs.cpio.zst, sha256: ${SHA}}\n`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'anemos.conf');
  } catch (err) {
    expect(err).toBeInstanceOf(AnemosError);
    expect((err as AnemosError).exitCode).toBe(3);
    return (err as AnemosError).details;
  }
  throw new Error('expected a config error');
}

describe('config', () => {
  it('fills defaults for a minimal file', () => {
    const c = parseConfig(minimal, 'anemos.conf');
    expect(c.boot).toEqual({method: 'auto', delay: 3});
    expect(c.deploy).toEqual({on_failure: 'auto', timeout: 3600, network_timeout: 120});
    expect(c.access).toEqual({ssh_authorized_keys: 'host', host_keys: 'carry'});
    expect(c.network).toBe('auto');
    expect(c.firmware).toBe('auto');
    expect(c.cache_dir).toBe('/var/cache/anemos');
  });

  it('normalizes durations and sha256 case', () => {
    const c = parseConfig(minimal + `payload: {url: file:///p.tar.gz, sha256: ${'AB'.repeat(32)}}\ndeploy: {timeout: 30m, network_timeout: 90, disk: /dev/vda}\n`, 'x');
    expect(c.deploy.timeout).toBe(1800);
    expect(c.deploy.network_timeout).toBe(90);
    expect(c.payload?.sha256).toBe('ab'.repeat(32));
  });

  it('lists every problem with its YAML path and a hint', () => {
    const details = problems(
      `kernel: {url: https://k, sha256: nothex}\ninitramfs: {sha256: ${SHA}}\nboot: {method: pxe, dealy: 3}\ndeploy: {timeout: soon}\nfirmware: 7\nunknown_key: 1\n`,
    );
    expect(details).toEqual([
      expect.stringMatching(/^kernel\.sha256: .*sha256sum/),
      expect.stringMatching(/^initramfs\.url: is required/),
      expect.stringMatching(/^boot\.method: must be one of "auto", "kexec", "bootloader", not "pxe"/),
      expect.stringMatching(/^boot\.dealy: is not a known key — Did you mean "delay"\?/),
      expect.stringMatching(/^deploy\.timeout: .*"10m"/),
      expect.stringMatching(/^firmware: must be/),
      expect.stringMatching(/^unknown_key: is not a known key/),
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(problems('kernel: [unclosed\n')[0]).toMatch(/line 2|line 1/);
  });

  it('rejects duplicate keys rather than keeping the last', () => {
    expect(problems(minimal + minimal.split('\n')[0] + '\n')[0]).toMatch(/unique|duplicate/i);
  });

  it('says which checksums are missing', () => {
    const c = parseConfig('kernel: {url: /k}\ninitramfs: {url: /i, sha256: ' + SHA + '}\npayload: {url: /p}\n', 'x');
    expect(missingChecksums(c)).toEqual(['kernel.sha256', 'payload.sha256']);
  });

  it('treats an empty file as missing the required keys', () => {
    expect(problems('')).toEqual([expect.stringMatching(/^kernel: is required/), expect.stringMatching(/^initramfs: is required/)]);
  });
});
