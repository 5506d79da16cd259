import {execFileSync, spawnSync} from 'node:child_process';
import {mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, it} from 'vitest';
import {attributeValues, DIRECTIVES, evaluatorScript, parseEvaluation, parseFormat, parseSize, renderTemplate, templateValues, unknownTemplateVariables, validateImgbuild, type Evaluation} from './imgbuild.js';
import {qemuNetwork} from './qemu-target.js';
import type {PayloadFile} from './payload-check.js';
import {TARGET_MODULES} from './targets/index.js';

/** Source an IMGBUILD with the real sh, as the agent and `payload check` do. */
function evaluate(imgbuild: string): {status: number | null; evaluation: Evaluation; stderr: string} {
  const dir = mkdtempSync(join(tmpdir(), 'imgbuild-'));
  writeFileSync(join(dir, 'IMGBUILD'), imgbuild);
  const r = spawnSync('sh', ['-c', evaluatorScript(), 'sh', dir], {encoding: 'utf8'});
  return {status: r.status, evaluation: parseEvaluation(r.stdout), stderr: r.stderr};
}

const file = (path: string, type: PayloadFile['type'] = 'file'): PayloadFile => ({path, mode: 0o644, type});
const IMGBUILD_FILE = [file('IMGBUILD')];

describe('IMGBUILD evaluation by sh', () => {
  it('reads scalars, newline lists with comments, functions, and ignores what the IMGBUILD prints', () => {
    const r = evaluate(`echo "this goes to stderr"
imgname=web1
target=debian
packages="
nginx   # the web server
openssh-server
"
services="nginx"
provision() { echo hi; }
cleanup() { :; }
`);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('this goes to stderr');
    expect(r.evaluation.vars.imgname).toBe('web1');
    expect(r.evaluation.functions.sort()).toEqual(['cleanup', 'provision']);
    // sh keeps "# ..." inside quotes; list directives drop it as a comment.
    const v = validateImgbuild(r.evaluation, IMGBUILD_FILE);
    expect(v.errors).toEqual([]);
    expect(v.spec!.packages).toEqual(['nginx', 'openssh-server']);
    expect(v.spec!.services).toEqual(['nginx']);
  });

  it('computes values the way sh does (variables, command substitution)', () => {
    const r = evaluate('imgname=db\ntarget=debian\nsuite=trixie\ndebian_suite=$suite\npackages="$(printf "%s\\n" postgresql-17 pgbackrest)"\n');
    const v = validateImgbuild(r.evaluation, IMGBUILD_FILE);
    expect(v.errors).toEqual([]);
    expect(v.spec!.options.debian_suite).toBe('trixie');
    expect(v.spec!.packages).toEqual(['postgresql-17', 'pgbackrest']);
  });

  it('an IMGBUILD that fails when sourced makes sh exit non-zero', () => {
    expect(evaluate('imgname=x\nfalse\n').status).not.toBe(0);
    expect(evaluate('imgname=x\nif then fi\n').status).not.toBe(0);
  });
});

describe('IMGBUILD validation', () => {
  const ok = (vars: Record<string, string>, files = IMGBUILD_FILE, functions: string[] = []) => validateImgbuild({vars: {imgname: 'x', target: 'debian', ...vars}, functions}, files);

  it('fills in the documented defaults', () => {
    const v = ok({});
    expect(v.errors).toEqual([]);
    expect(v.spec).toMatchObject({options: {debian_suite: 'stable', debian_mirror: 'http://deb.debian.org/debian'}, kernel: 'linux-image-amd64', format: {kind: 'raw', size: 8 * 2 ** 30, table: 'msdos', fs: 'ext4'}});
    expect(ok({target: 'alpine'}).spec!.kernel).toBe('linux-lts');
    expect(ok({target: 'arch'}).spec!.kernel).toBe('linux');
  });

  it("each target's own directives come from its table: read by sh, checked by its form, and another target's said to be ignored", () => {
    // Every option of every target is a directive the evaluator prints.
    for (const [name, t] of Object.entries(TARGET_MODULES)) for (const o of Object.keys(t.options)) expect(DIRECTIVES, `${name}: ${o}`).toContain(o);
    const r = evaluate('imgname=x\ntarget=alpine\nalpine_version=v3.20\nalpine_mirror=https://mirror.example/alpine//\ndebian_suite=trixie\n');
    const v = validateImgbuild(r.evaluation, IMGBUILD_FILE);
    expect(v.errors).toEqual([]);
    expect(v.spec!.options).toEqual({alpine_version: 'v3.20', alpine_mirror: 'https://mirror.example/alpine', alpine_unverified: 'no'});
    expect(v.warnings).toEqual(['IMGBUILD: debian_suite is read by target "debian" only; target "alpine" ignores it.']);
    expect(ok({target: 'arch', arch_mirror: 'ftp://mirror'}).errors).toEqual(['IMGBUILD: arch_mirror "ftp://mirror" is not an http(s) URL.']);
    expect(ok({target: 'alpine', alpine_unverified: 'maybe'}).errors).toEqual(['IMGBUILD: alpine_unverified "maybe" is not yes or no.']);
  });

  it('names every problem: missing and unknown target, malformed format, shell characters in packages', () => {
    expect(validateImgbuild({vars: {}, functions: []}, IMGBUILD_FILE).errors).toEqual([
      'IMGBUILD: imgname is required (a name for this system, e.g. imgname=web1).',
      'IMGBUILD: target is required: one of debian, alpine, arch.',
    ]);
    expect(ok({target: 'gentoo'}).errors).toEqual(['IMGBUILD: target "gentoo" is not one of debian, alpine, arch.']);
    expect(ok({format: 'raw 8X msdos ext4'}).errors[0]).toMatch(/size "8X" is not a size/);
    expect(ok({format: 'raw 8G bsd ext4'}).errors[0]).toMatch(/partition table "bsd" is not one of msdos, gpt/);
    expect(ok({format: 'raw 8G gpt xfs'}).errors[0]).toMatch(/file system "xfs" is not one of ext4, ext3, ext2/);
    expect(ok({format: 'tar zst'}).errors[0]).toMatch(/a tar image has nowhere to go in a deploy/);
    expect(ok({format: 'qcow2'}).errors[0]).toMatch(/is not one of "raw SIZE PARTTYPE FS", "custom", "dir"/);
    const bad = ok({packages: 'nginx\nvim;reboot\n$(curl)\nfoo=1.2\n`id`'}).errors;
    expect(bad).toHaveLength(1);
    expect(bad[0]).toContain('"vim;reboot", "$(curl)", "foo=1.2", "`id`" are not a package name');
    expect(ok({services: 'nginx\nx;y'}).errors[0]).toContain('"x;y": not a service name');
    expect(ok({debian_suite: 'trixie; rm'}).errors[0]).toContain('is not a suite name');
    expect(ok({debian_mirror: 'ftp://x'}).errors[0]).toContain('is not an http(s) URL');
  });

  it('a live layer from= a URL is pinned by from_sha256 (its manifest); a local parent needs no pin', () => {
    const live = (vars: Record<string, string>) => validateImgbuild({vars: {imgname: 'web', target: 'debian', format: 'live', kernel: 'none', ...vars}, functions: []}, IMGBUILD_FILE, 'live');
    const pin = 'C90FCE57A62CAE6FA0CAFB1B3672E0BB6100FEA2ACF24141F09A21CF0889F6C0';
    expect(live({from: 'https://images.example.com/base/out', from_sha256: pin}).spec).toMatchObject({from: 'https://images.example.com/base/out', fromSha256: pin.toLowerCase()});
    expect(live({from: 'https://images.example.com/base/out'}).errors).toEqual([expect.stringMatching(/from=https:\/\/images\.example\.com\/base\/out is downloaded: from_sha256= must pin it, the sha256 of its manifest\.json .*and there is none/)]);
    expect(live({from: 'http://10.0.0.1/base', from_sha256: 'abc'}).errors).toEqual([expect.stringMatching(/not "abc"/)]);
    expect(live({from: '../base', from_sha256: pin}).errors).toEqual([expect.stringMatching(/from_sha256= pins a parent downloaded from an http\(s\) URL/)]);
    expect(live({from: '../base'}).spec?.fromSha256).toBeUndefined();
  });

  it('custom and dir need setup(); required_files must exist in files/', () => {
    expect(ok({format: 'custom'}).errors[0]).toMatch(/needs a setup\(\) function/);
    expect(ok({format: 'custom'}, IMGBUILD_FILE, ['setup']).errors).toEqual([]);
    const files = [...IMGBUILD_FILE, file('files', 'dir'), file('files/etc', 'dir'), file('files/etc/nsd.conf.makeimg.template')];
    expect(ok({required_files: '/etc/nsd.conf\n/etc/zones/example.org'}, files).errors).toEqual([
      'IMGBUILD: required_files names "/etc/zones/example.org", but neither files/etc/zones/example.org nor files/etc/zones/example.org.makeimg.template is in the payload.',
    ]);
  });

  it('finds patches and templates under files/; an Alpine bootstrap is unverified only when the IMGBUILD says so, and then warned of', () => {
    const files = [...IMGBUILD_FILE, file('files', 'dir'), file('files/etc/ssh/sshd_config.makeimg.patch'), file('files/etc/motd.makeimg.template')];
    const v = ok({target: 'alpine'}, files);
    expect(v.spec!.patches).toEqual(['files/etc/ssh/sshd_config.makeimg.patch']);
    expect(v.spec!.templates).toEqual(['files/etc/motd.makeimg.template']);
    expect(v.warnings).toEqual([]);
    expect(v.spec!.options.alpine_unverified).toBe('no');
    const unverified = ok({target: 'alpine', alpine_unverified: 'yes'}, files);
    expect(unverified.spec!.options.alpine_unverified).toBe('yes');
    expect(unverified.warnings).toEqual([expect.stringMatching(/^UNVERIFIED: alpine_unverified=yes: .*--allow-untrusted/)]);
    expect(ok({target: 'alpine', alpine_unverified: 'maybe'}, files).errors).toEqual(['IMGBUILD: alpine_unverified "maybe" is not yes or no.']);
  });

  it('sizes and formats', () => {
    expect(parseSize('8G')).toBe(8 * 2 ** 30);
    expect(parseSize('512MiB')).toBe(512 * 2 ** 20);
    expect(parseSize('max')).toBeNull();
    expect(parseSize('0G')).toBeUndefined();
    expect(parseSize('-1G')).toBeUndefined();
    expect(parseFormat('raw max gpt ext4')).toEqual({kind: 'raw', size: null, sizeText: 'max', table: 'gpt', fs: 'ext4'});
    expect(parseFormat('raw')).toMatchObject({kind: 'raw', sizeText: '8G', table: 'msdos', fs: 'ext4'});
  });
});

describe('templates', () => {
  const values = templateValues(qemuNetwork('ns1.example.org', {mac: '52:54:00:12:34:56'}), {hostname: 'ns1.example.org', imgname: 'ns', target: 'alpine', disk: '/dev/vda'});

  it('renders {{VARIABLES}} from the carried network and leaves shell-like $VARS alone', () => {
    expect(values).toMatchObject({HOSTNAME: 'ns1.example.org', SHORT_HOSTNAME: 'ns1', DOMAIN: 'example.org', IPV4: '10.0.2.15', IPV4_PREFIX: '24', IPV4_GATEWAY: '10.0.2.2', MAC: '52:54:00:12:34:56', DISK: '/dev/vda'});
    const zone = '$TTL 3600\n@ IN SOA {{ HOSTNAME }}. hostmaster.{{DOMAIN}}. (1 2 3 4 5)\nns1 IN A {{IPV4}}\n';
    expect(renderTemplate(zone, values, 'zone')).toBe('$TTL 3600\n@ IN SOA ns1.example.org. hostmaster.example.org. (1 2 3 4 5)\nns1 IN A 10.0.2.15\n');
  });

  it('an unknown variable is an error that names it and the known ones', () => {
    expect(() => renderTemplate('listen {{IPV4}}:{{PORT}} {{Foo}}', values, 'files/etc/x.makeimg.template')).toThrow(
      /files\/etc\/x\.makeimg\.template: unknown template variables \{\{PORT\}\}, \{\{Foo\}\}; known: HOSTNAME, /,
    );
  });

  it("a live image's conffs/ may name the registry record's attributes; one the record lacks stops it, as does one where no record says (kexec), or in a payload", () => {
    const attrs = attributeValues({role: 'frontend', 'rack-id': 7, canary: true, owner: {team: 'web'}});
    expect(attrs).toEqual({ATTR_ROLE: 'frontend', ATTR_RACK_ID: '7', ATTR_CANARY: 'true'});
    expect(renderTemplate('{{SHORT_HOSTNAME}} {{ATTR_ROLE}} rack {{ ATTR_RACK_ID }}\n', values, 'conffs/etc/role.makeimg.template', attrs)).toBe('ns1 frontend rack 7\n');
    expect(() => renderTemplate('{{ATTR_ZONE}}', values, 'conffs/etc/z.makeimg.template', attrs)).toThrow(
      "conffs/etc/z.makeimg.template: {{ATTR_ZONE}} is an attribute of the machine's registry record, and its record has only ATTR_ROLE, ATTR_RACK_ID, ATTR_CANARY; set it (anemos machines set ID --attribute key=value).",
    );
    expect(() => renderTemplate('{{ATTR_ROLE}}', values, 'conffs/x.makeimg.template', {})).toThrow(/this boot has none \(they come with a network boot from the registry\)/);
    // A payload's templates (rendered at deploy, not from a record): ATTR_ names are unknown, as at build.
    expect(() => renderTemplate('{{ATTR_ROLE}}', values, 'files/x.makeimg.template')).toThrow(/unknown template variable \{\{ATTR_ROLE\}\}/);
    expect(unknownTemplateVariables('{{ATTR_ROLE}} {{attr_x}}', {attributes: true})).toEqual(['attr_x']);
  });
});

describe('sh is the only shell parser', () => {
  it('the evaluator script itself is valid sh', () => {
    expect(() => execFileSync('sh', ['-n', '-c', evaluatorScript()])).not.toThrow();
  });
});
