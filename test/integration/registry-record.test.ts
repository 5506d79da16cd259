// anemos deploy's own record: the deployment it hands over reaches the registry with who
// started it and the artifacts it verified, and joins the machine the agent's reports
// name by UUID; a registry that is down costs a warning, not the deploy.

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
});
