import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import type {InventoryDisk} from '../inventory.js';
import type {NetworkConfig} from '../network.js';
import {AnswerError, chooseRootDisk, renderAnswer, type AnswerInput} from './answer-file.js';

const GOLDEN = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'answer');
const disk = (name: string, sizeBytes: number, removable = false): InventoryDisk => ({name, sizeBytes, rotational: false, removable, byId: []});
const network: NetworkConfig = {
  version: 1,
  interfaces: {'52:54:00:12:34:56': {mac: '52:54:00:12:34:56', name: 'eth0', dhcp4: false, slaac: false, addresses: [{family: 4, address: '192.0.2.10', prefix: 24}], routes: [{family: 4, to: 'default', via: '192.0.2.1'}]}},
  dns: {servers: ['192.0.2.53'], search: []},
  skipped: [],
};
const input = (over: Partial<AnswerInput> = {}): AnswerInput => ({
  kind: 'preseed',
  spec: {media: 'debian-12.8.0-amd64-netinst', packages: ['nginx', 'curl']},
  hostname: 'web1.example.net',
  network,
  authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAnemosTestKeyOnlyForGoldenFiles ops@example.net'],
  disks: [disk('sdb', 960e9), disk('sda', 240e9), disk('sdc', 16e9, true)],
  report: {url: 'http://192.0.2.2:8067', token: 'anm_dep_goldentoken', deployment: '20261207-0800-abcd1234', mac: '52:54:00:12:34:56'},
  ...over,
});

describe('installer answer files', () => {
  for (const kind of ['preseed', 'kickstart', 'autoinstall'] as const) {
    it(`the built-in ${kind} template, rendered for a recorded machine, is its golden file`, () => {
      const text = renderAnswer(input({kind}));
      const file = join(GOLDEN, `web1.${kind}`);
      if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
      expect(text).toBe(readFileSync(file, 'utf8'));
      expect(text).toContain('/dev/sda');
      expect(text).toContain('Bearer anm_dep_goldentoken');
    });
  }

  it('the root disk: the one named, or the smallest non-removable one; none is a refusal', () => {
    expect(chooseRootDisk([disk('sdb', 2), disk('sda', 3), disk('sdc', 1, true)])).toBe('/dev/sdb');
    expect(chooseRootDisk([disk('nvme0n1', 2)], '/dev/nvme0n1')).toBe('/dev/nvme0n1');
    expect(() => chooseRootDisk([disk('sda', 2)], 'sdz')).toThrow('the root disk sdz is not among its disks (sda)');
    expect(() => renderAnswer(input({disks: [disk('sdc', 16e9, true)]}))).toThrow('no root disk: its inventory lists only removable or empty disks (sdc), and installer.disk names none');
    expect(() => renderAnswer(input({disks: []}))).toThrow(/no root disk: its inventory lists no disk/);
  });

  it('vars change the defaults; a template with an unknown variable, or a var that shadows the record, is refused', () => {
    expect(renderAnswer(input({spec: {media: 'x', vars: {MIRROR: 'mirror.example.net'}}}))).toContain('d-i mirror/http/hostname string mirror.example.net');
    expect(() => renderAnswer(input({spec: {media: 'x', template: 'd-i a/b string {{NOPE}} {{HOSTNAME}}'}}))).toThrow(/^installer\.template: unknown variable \{\{NOPE\}\}; known: HOSTNAME/);
    expect(() => renderAnswer(input({spec: {media: 'x', vars: {HOSTNAME: 'x'}}}))).toThrow('installer.vars.HOSTNAME: {{HOSTNAME}} comes from the record and cannot be set');
    expect(() => renderAnswer(input({spec: {media: 'x', vars: {lower: 'x'}}}))).toThrow(/installer\.vars\.lower: a variable is named in capitals/);
    expect(renderAnswer(input({spec: {media: 'x', template: 'd-i my/q string {{ROLE}} on {{SHORT_HOSTNAME}}\n', vars: {ROLE: 'web {{literally}}'}}}))).toBe('d-i my/q string web {{literally}} on web1\n');
  });

  it('a template that renders to an empty or unparsable file is refused with the line', () => {
    expect(() => renderAnswer(input({spec: {media: 'x', template: '# only a comment\n\n'}}))).toThrow('installer.template renders to an empty preseed file');
    expect(() => renderAnswer(input({spec: {media: 'x', template: 'd-i netcfg/get_hostname {{HOSTNAME}}\n'}}))).toThrow(/line 1: not "owner question type value"/);
    expect(() => renderAnswer(input({spec: {media: 'x', template: 'd-i partman/confirm boolean yes\n'}}))).toThrow('installer.template, line 1: partman/confirm is a boolean, given "yes"');
    expect(() => renderAnswer(input({kind: 'kickstart', spec: {media: 'x', template: 'text\n%packages\n@core\n'}}))).toThrow('installer.template: %packages has no %end');
    expect(() => renderAnswer(input({kind: 'kickstart', spec: {media: 'x', template: 'text\n"quoted" thing\n'}}))).toThrow(/line 2: not a kickstart command/);
    expect(() => renderAnswer(input({kind: 'autoinstall', spec: {media: 'x', template: '#cloud-config\nautoinstall: {version: 2}\n'}}))).toThrow('autoinstall.version must be 1');
    expect(() => renderAnswer(input({kind: 'autoinstall', spec: {media: 'x', template: '#cloud-config\nautoinstall: [\n'}}))).toThrow(/is not YAML/);
  });

  it("autoinstall's report command is one YAML string, as subiquity runs it", async () => {
    const {parse} = await import('yaml');
    const v = parse(renderAnswer(input({kind: 'autoinstall'}))) as {autoinstall: {'late-commands': string[]; ssh: {'authorized-keys': string[]}}};
    expect(v.autoinstall['late-commands'][0]).toMatch(/^curl -fsS .* 'http:\/\/192\.0\.2\.2:8067\/api\/v1\/reports'$/);
    expect(v.autoinstall.ssh['authorized-keys']).toEqual([expect.stringMatching(/^ssh-ed25519 /)]);
  });
});
