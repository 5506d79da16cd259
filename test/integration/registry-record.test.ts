// anemos deploy and the registry: the deployment it hands over reaches the registry with
// who started it and the artifacts it verified, and joins the machine the agent's reports
// name by UUID; a registry that is down costs a warning, not the deploy. And the other way:
// anemos deploy --from-registry takes the machine's desired deployment (the real CLI bundle).

import type {AddressInfo} from 'node:net';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openEmbedded} from '../../src/adapters/db.js';
import {parseConfig} from '../../src/core/config.js';
import {planDeploy} from '../../src/core/deploy-plan.js';
import {Registry} from '../../src/services/registry/registry.js';
import {deploymentRecorder} from '../../src/services/registry/record.js';
import {createRegistryServer} from '../../src/services/registry/server.js';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {hostHardwareSources} from '../../src/adapters/hardware-sources.js';
import {gatherHardware} from '../../src/core/inventory.js';
import {REPO} from '../helpers/kernel.js';
import {fakeFacts} from '../helpers/facts.js';
import {freePort} from '../helpers/postgres.js';

describe('anemos deploy records the deployment it starts', () => {
  let registry: Registry;
  let url: string;
  let token: string;
  let close: () => Promise<void>;
  const dir = mkdtempSync(join(tmpdir(), 'anemos-record-'));

  beforeAll(async () => {
    registry = await Registry.open(await openEmbedded(dir));
    token = (await registry.createToken('reporter')).token;
    const server = createRegistryServer(registry, {version: 'test'});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = async () => {
      await new Promise((r) => server.close(r));
      await registry.db.close();
      rmSync(dir, {recursive: true, force: true});
    };
  }, 60_000);
  afterAll(async () => close?.());

  const plan = (registryUrl: string) => {
    const config = parseConfig(`kernel: {url: https://example.net/vmlinuz}\ninitramfs: {url: https://example.net/initramfs.cpio.zst}\npayload: {url: https://example.net/debian.tar.gz}\ndeploy: {disk: /dev/vda}\nreport: {url: "${registryUrl}", token: "${token}"}\n`, 'x', {allowUnverified: true});
    return planDeploy(config, fakeFacts(), {mode: 'deploy', phases: ['fetch', 'compose', 'load', 'exec'], allowUnverified: true, cliVersion: 't', deploymentId: 'dep-20261206T130000Z-0badcafe'});
  };
  const artifacts = [
    {name: 'kernel', url: 'https://example.net/vmlinuz', path: '/c/k', sha256: '1'.repeat(64), size: 1, verified: true, fromCache: false},
    {name: 'payload', url: 'https://example.net/debian.tar.gz', path: '/c/p', sha256: '2'.repeat(64), size: 1, verified: true, fromCache: false},
  ];

  it('posts the deployment (who, artifacts, event 0); the agent\'s report with the UUID joins the same machine', async () => {
    const p = plan(url);
    expect(p.bootConfig.report).toEqual({url, token, deployment: 'dep-20261206T130000Z-0badcafe'});
    const lines: string[] = [];
    await deploymentRecorder({plan: p, who: 'alice@workstation', log: (l) => lines.push(l)})!(artifacts);
    expect(lines).toEqual([`registry: deployment dep-20261206T130000Z-0badcafe recorded at ${url}`]);
    const macs = Object.keys(p.network.interfaces);
    const [m] = await registry.listMachines();
    expect(m).toMatchObject({macs, state: 'provisioning', uuid: null});
    // The deploy environment reports under the same deployment, with the firmware's UUID.
    const uuid = '6a1d3c2e-5b4f-4e8a-9c7d-0123456789ab';
    await registry.report({machine: {uuid, macs}, deployment: {id: 'dep-20261206T130000Z-0badcafe', mode: 'deploy', source: 'agent'}, events: [{seq: 1, msg: 'agent started'}, {seq: 2, msg: 'DEPLOY SUCCEEDED', outcome: 'succeeded'}]}, 'token:agent');
    const machines = await registry.listMachines();
    expect(machines).toHaveLength(1);
    expect(machines[0]).toMatchObject({id: m!.id, uuid, state: 'deployed'});
    const [d] = await registry.deployments(m!.id);
    expect(d).toMatchObject({who: 'alice@workstation', source: 'cli', outcome: 'succeeded', artifacts: [{name: 'kernel', sha256: '1'.repeat(64)}, {name: 'payload', sha256: '2'.repeat(64)}]});
    expect(d!.events.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(d!.events[0]!.msg).toBe('anemos deploy by alice@workstation: handing over to the deploy environment (kexec)');
  });

  it('a registry that is down is a warning; the deploy goes on', async () => {
    const lines: string[] = [];
    const closed = await freePort(); // nothing listens there
    await deploymentRecorder({plan: plan(`http://127.0.0.1:${closed}`), who: 'bob@ci', log: (l) => lines.push(l)})!(artifacts);
    expect(lines).toEqual([expect.stringMatching(/^WARNING: the registry at http:\/\/127\.0\.0\.1:\d+ did not record deployment dep-20261206T130000Z-0badcafe \(ECONNREFUSED\); the deploy goes on/)]);
  });

  it('deploy --from-registry: the desired deployment, found by this host\'s MACs, is the plan; an unknown machine, a record without one and a bad token are refused before anything', async () => {
    const cli = async (args: string[]) => {
      const r = await promisify(execFile)(process.execPath, [join(REPO, 'dist', 'anemos.cjs'), ...args]).then(
        (x) => ({code: 0, ...x}),
        (e: {code: number; stdout: string; stderr: string}) => e,
      );
      return {code: r.code, out: `${r.stdout}${r.stderr}`};
    };
    const nope = join(dir, 'no-such.conf'); // no local file: the record is the whole config
    const args = ['deploy', '--dry-run', '--config', nope, '--from-registry', url, '--registry-token', token];
    // Not in the registry yet.
    const unknown = await cli(args);
    expect(unknown.code).toBe(3);
    expect(unknown.out).toMatch(/No machine in the registry at http:\/\/127\.0\.0\.1:\d+ has any of this host's MACs/);
    // It reports once (as its deploy environment would), without a desired deployment.
    const macs = gatherHardware(hostHardwareSources(), {at: new Date().toISOString(), where: 'host'}).nics.map((n) => n.mac);
    const {machine} = await registry.report({machine: {macs, hostname: 'self'}}, 'token:test');
    const none = await cli(args);
    expect(none.code).toBe(3);
    expect(none.out).toMatch(new RegExp(`Machine ${machine} has no desired deployment[\\s\\S]*PATCH`));
    const sha = (c: string) => c.repeat(64);
    await registry.patchMachine(machine, {desired: {kernel: {url: 'https://images.example.net/vmlinuz', sha256: sha('a')}, initramfs: {url: 'https://images.example.net/initramfs.cpio.zst', sha256: sha('b')}, payload: {url: 'https://images.example.net/debian13.tar.gz', sha256: sha('c')}, config: {hostname: 'web9', deploy: {disk: '/dev/vda'}}}}, 'token:test');
    const ok = await cli(args);
    expect(ok.out).toMatch(/registry: machine \S+ \(new\), its desired deployment from/);
    expect(ok.out).toMatch(/kernel +https:\/\/images\.example\.net\/vmlinuz/);
    expect(ok.out).toMatch(/payload +https:\/\/images\.example\.net\/debian13\.tar\.gz/);
    expect(ok.out).toMatch(/web9/);
    const bad = await cli(['deploy', '--dry-run', '--config', nope, '--from-registry', url, '--registry-token', 'anm_00000000_wrong']);
    expect(bad.code).toBe(3);
    expect(bad.out).toMatch(/refused the token \(HTTP 401\)/);
  }, 60_000);
});
