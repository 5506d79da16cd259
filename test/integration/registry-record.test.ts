// anemos deploy and the registry: the deployment is recorded before the deploy environment
// is composed, with the operator's token or the machine's own credential (enrolling it the
// first time with an enroll token), and what goes into config.json is that deployment's
// own token; a registry that is down costs a warning, not the deploy. And the other way:
// anemos deploy --from-registry takes the machine's desired deployment (the real CLI bundle).

import {execFile} from 'node:child_process';
import {mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openEmbedded} from '../../src/adapters/db.js';
import {hostFiles} from '../../src/adapters/host-files.js';
import {gatherHostHardware} from '../../src/adapters/hardware-sources.js';
import {registryCall} from '../../src/adapters/registry-client.js';
import {parseConfig} from '../../src/core/config.js';
import {planDeploy} from '../../src/core/deploy-plan.js';
import {registryAccess, trustOf} from '../../src/services/registry/access.js';
import {Registry} from '../../src/services/registry/registry.js';
import {deploymentRecorder} from '../../src/services/registry/record.js';
import {fakeFacts} from '../helpers/facts.js';
import {REPO} from '../helpers/kernel.js';
import {freePort} from '../helpers/postgres.js';
import {serveInProcess} from '../helpers/registry.js';

describe('anemos deploy records the deployment it starts', () => {
  let registry: Registry;
  let url: string;
  let operator: string;
  let close: () => Promise<void>;
  const dir = mkdtempSync(join(tmpdir(), 'anemos-record-'));

  beforeAll(async () => {
    registry = await Registry.open(await openEmbedded(join(dir, 'registry')));
    operator = (await registry.createToken({role: 'operator', note: 'alice'})).token;
    const served = await serveInProcess(registry);
    url = served.url;
    close = async () => {
      await served.close();
      rmSync(dir, {recursive: true, force: true});
    };
  }, 60_000);
  afterAll(async () => close?.());

  const plan = (registryUrl: string) => {
    const config = parseConfig(`kernel: {url: https://example.net/vmlinuz}\ninitramfs: {url: https://example.net/initramfs.cpio.zst}\npayload: {url: https://example.net/debian.tar.gz}\ndeploy: {disk: /dev/vda}\nreport: {url: "${registryUrl}"}\n`, 'x', {allowUnverified: true});
    return {config, plan: planDeploy(config, fakeFacts(), {mode: 'deploy', phases: ['fetch', 'compose', 'load', 'exec'], allowUnverified: true, cliVersion: 't', deploymentId: 'dep-20261206T130000Z-0badcafe'})};
  };
  const artifacts = [
    {name: 'kernel', url: 'https://example.net/vmlinuz', path: '/c/k', sha256: '1'.repeat(64), size: 1, verified: true, fromCache: false},
    {name: 'payload', url: 'https://example.net/debian.tar.gz', path: '/c/p', sha256: '2'.repeat(64), size: 1, verified: true, fromCache: false},
  ];
  const operatorAccess = (u: string) => async () => ({target: {url: u, token: operator, trust: {}}, via: 'the token in ANEMOS_REGISTRY_TOKEN'});

  it("records the deployment (who, artifacts) and gives its own token for config.json; event 0 at the hand-over; the agent's report with the UUID joins the same machine", async () => {
    const {plan: p} = plan(url);
    expect(p.registry).toEqual({url, deployment: 'dep-20261206T130000Z-0badcafe'});
    const lines: string[] = [];
    const recorder = deploymentRecorder({plan: p, trust: {}, who: 'alice@workstation', access: operatorAccess(url), log: (l) => lines.push(l)})!;
    const target = await recorder.begin(artifacts);
    expect(target).toEqual({url, token: expect.stringMatching(/^anm_[0-9a-f]{8}_/), deployment: 'dep-20261206T130000Z-0badcafe'});
    expect(target!.token).not.toBe(operator);
    expect(lines).toEqual([expect.stringMatching(/^registry: deployment dep-20261206T130000Z-0badcafe of machine mac-\w+ recorded at http:\/\/127\.0\.0\.1:\d+ \(with the token in ANEMOS_REGISTRY_TOKEN\); the deploy environment reports with this deployment's own token, valid until /)]);
    await recorder.handover();
    const macs = Object.keys(p.network.interfaces);
    const [m] = (await registry.listMachines()).items;
    expect(m).toMatchObject({macs, state: 'provisioning', uuid: null});
    // The deploy environment reports with the deployment's token, and the firmware's UUID.
    const uuid = '6a1d3c2e-5b4f-4e8a-9c7d-0123456789ab';
    await registryCall({url, token: target!.token, trust: {}}, 'POST', '/api/v1/reports', {machine: {uuid, macs}, deployment: {id: 'dep-20261206T130000Z-0badcafe'}, events: [{seq: 1, msg: 'agent started'}, {seq: 2, msg: 'DEPLOY SUCCEEDED', outcome: 'succeeded'}]});
    const machines = (await registry.listMachines()).items;
    expect(machines).toHaveLength(1);
    expect(machines[0]).toMatchObject({id: m!.id, uuid, state: 'deployed'});
    const d = await registry.deployment('dep-20261206T130000Z-0badcafe');
    expect(d).toMatchObject({who: 'alice@workstation', source: 'cli', outcome: 'succeeded', events: 3, artifacts: [{name: 'kernel', sha256: '1'.repeat(64)}, {name: 'payload', sha256: '2'.repeat(64)}]});
    const events = (await registry.events(d.id)).events;
    expect(events.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(events[0]!.msg).toBe('anemos deploy by alice@workstation: handing over to the deploy environment (kexec)');
    // The audit log names who recorded it: the operator's token by its note.
    expect((await registry.audit({action: 'deployment recorded'})).items[0]!.actor).toMatch(/^alice \(operator token [0-9a-f]{8}\)$/);
  });

  it('a registry that is down, or no credential at all, is a warning: the deploy goes on and the deploy environment does not report', async () => {
    const lines: string[] = [];
    const closed = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    expect(await deploymentRecorder({plan: plan(closed).plan, trust: {}, who: 'bob@ci', access: operatorAccess(closed), log: (l) => lines.push(l)})!.begin(artifacts)).toBeUndefined();
    expect(await deploymentRecorder({plan: plan(url).plan, trust: {}, who: 'bob@ci', access: async () => undefined, log: (l) => lines.push(l)})!.begin(artifacts)).toBeUndefined();
    expect(lines).toEqual([
      expect.stringMatching(/^WARNING: the registry at http:\/\/127\.0\.0\.1:\d+ did not record deployment dep-20261206T130000Z-0badcafe \(The registry at .* did not answer: ECONNREFUSED\.\); the deploy goes on/),
      expect.stringMatching(/^WARNING: deployment dep-20261206T130000Z-0badcafe is not recorded at .*: there is no credential for it/),
    ]);
  });

  it('with report.enroll_token, the first deploy enrolls the machine and keeps its credential (0600); the next one uses that', async () => {
    const enroll = (await registry.createToken({role: 'enroll', uses: 1})).token;
    const credentialPath = join(dir, 'etc', 'anemos', 'registry-credential');
    const {config} = plan(url);
    const identity = async () => ({identity: {uuid: '1b2c3d4e-0000-4000-8000-000000000001', macs: ['52:54:00:e0:00:01'], hostname: 'enrolled'}, inventory: gatherHostHardware()});
    const lines: string[] = [];
    const access = () => registryAccess({url, trust: trustOf(config.report!), credentialPath, enrollToken: enroll, files: hostFiles, identity, where: 'this machine', log: (l) => lines.push(l)});
    const first = await access();
    expect(first!.via).toMatch(/^the credential of this machine \(enrolled now, machine 1b2c3d4e-0000-4000-8000-000000000001\)$/);
    expect(statSync(credentialPath).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'etc', 'anemos')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(credentialPath, 'utf8'))).toMatchObject({registry: url, machine: '1b2c3d4e-0000-4000-8000-000000000001', token: first!.target.token});
    // The enroll token is used up; the credential is what the second deploy uses.
    const second = await access();
    expect(second!.via).toMatch(/^the credential of this machine \(.*registry-credential, machine 1b2c3d4e-0000-4000-8000-000000000001\)$/);
    expect(second!.target.token).toBe(first!.target.token);
    expect((await registry.getMachine('1b2c3d4e-0000-4000-8000-000000000001')).enrolled).toBe(true);
  });

  it("deploy --from-registry: the desired deployment, found by this host's MACs, is the plan; an unknown machine, a record without one, a bad token and plain HTTP elsewhere are refused before anything", async () => {
    const cli = async (args: string[], env: Record<string, string> = {}) => {
      const r = await promisify(execFile)(process.execPath, [join(REPO, 'dist', 'anemos.cjs'), ...args], {env: {...process.env, HOME: dir, ...env}}).then(
        (x) => ({code: 0, ...x}),
        (e: {code: number; stdout: string; stderr: string}) => e,
      );
      return {code: r.code, out: `${r.stdout}${r.stderr}`};
    };
    const nope = join(dir, 'no-such.conf'); // no local file: the record is the whole config
    const args = ['deploy', '--dry-run', '--config', nope, '--from-registry', url];
    const withToken = {ANEMOS_REGISTRY_TOKEN: operator};
    // Neither the operator's token nor a credential of this machine.
    const none = await cli(args);
    expect(none.code).toBe(3);
    expect(none.out).toMatch(/--from-registry http:\/\/127\.0\.0\.1:\d+ needs a credential: none was found/);
    // Not in the registry yet.
    const unknown = await cli(args, withToken);
    expect(unknown.code).toBe(3);
    expect(unknown.out).toMatch(/No machine in the registry at http:\/\/127\.0\.0\.1:\d+ has any of this host's MACs/);
    // It is recorded (a deployment an operator recorded), without a desired deployment.
    const macs = gatherHostHardware().nics.map((n) => n.mac);
    const operatorCaller = await registry.authenticate(operator);
    const {machine} = await registry.createDeployment({machine: {macs, hostname: 'self'}, id: 'dep-20261206T140000Z-00000001', mode: 'test'}, operatorCaller);
    const noDesired = await cli(args, withToken);
    expect(noDesired.code).toBe(3);
    expect(noDesired.out).toMatch(new RegExp(`Machine ${machine} has no desired deployment[\\s\\S]*anemos machines set`));
    const sha = (c: string) => c.repeat(64);
    await registry.setDesired(machine, {kernel: {url: 'https://images.example.net/vmlinuz', sha256: sha('a')}, initramfs: {url: 'https://images.example.net/initramfs.cpio.zst', sha256: sha('b')}, payload: {url: 'https://images.example.net/debian13.tar.gz', sha256: sha('c')}, config: {hostname: 'web9', deploy: {disk: '/dev/vda'}}}, 'test');
    const ok = await cli(args, withToken);
    expect(ok.out).toMatch(/registry: machine \S+ \(new\), its desired deployment from .* \(asked with the token in ANEMOS_REGISTRY_TOKEN\)/);
    expect(ok.out).toMatch(/kernel +https:\/\/images\.example\.net\/vmlinuz/);
    expect(ok.out).toMatch(/payload +https:\/\/images\.example\.net\/debian13\.tar\.gz/);
    expect(ok.out).toMatch(/web9/);
    expect(ok.out).toMatch(/Registry: deployment dep-\S+ is recorded at http:\/\/127\.0\.0\.1:\d+ before the deploy environment is composed/);
    const bad = await cli(args, {ANEMOS_REGISTRY_TOKEN: 'anm_00000000_wrong'});
    expect(bad.code).toBe(3);
    expect(bad.out).toMatch(/refused the token: The token is not known to this registry/);
    // Plain HTTP to another machine: refused before a byte is sent (192.0.2.1 is TEST-NET, nothing answers there).
    const plain = await cli(['deploy', '--dry-run', '--config', nope, '--from-registry', 'http://192.0.2.1:8080'], withToken);
    expect(plain.code).toBe(2);
    expect(plain.out).toMatch(/Error \[registry-insecure\]: The registry http:\/\/192\.0\.2\.1:8080 is reached over plain HTTP/);
  }, 60_000);
});
