// The registry's API on both databases it runs on: the embedded one (PGlite in a data
// directory) and a real PostgreSQL server (Debian's, started here). The same requests and
// the same answers; what a user checks afterwards is read back through the API.

import type {AddressInfo} from 'node:net';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {openEmbedded, openPostgres} from '../../src/adapters/db.js';
import type {HardwareInventory} from '../../src/core/inventory.js';
import type {Db} from '../../src/services/registry/db.js';
import {Registry} from '../../src/services/registry/registry.js';
import {createRegistryServer, MAX_BODY} from '../../src/services/registry/server.js';
import {loadInventoryFixture} from '../helpers/inventory.js';
import {startPostgres, type TestPostgres} from '../helpers/postgres.js';

const UUID = '4c4c4544-0042-3510-8053-b4c04f4e3232';
const MAC = '52:54:00:aa:bb:01';
const {inventory: INVENTORY} = loadInventoryFixture('cloud-vm-virtio');

function report(over: Record<string, unknown> = {}) {
  return {machine: {uuid: UUID, macs: [MAC], hostname: 'web1'}, inventory: {...INVENTORY, nics: [{name: 'eth0', mac: MAC, driver: 'virtio_net', link: 'up'}]}, ...over};
}

let pg: TestPostgres | undefined;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => pg?.stop());

describe.each(['embedded', 'postgres'] as const)('registry API on the %s database', (kind) => {
  let db: Db;
  let url: string;
  let close: () => Promise<void>;
  const tokens: Record<'admin' | 'reporter' | 'reader', string> = {admin: '', reporter: '', reader: ''};
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'anemos-registry-'));
    db = kind === 'embedded' ? await openEmbedded(dir) : await openPostgres(pg!.url);
    const registry = await Registry.open(db);
    for (const role of ['admin', 'reporter', 'reader'] as const) tokens[role] = (await registry.createToken(role, `test ${role}`)).token;
    const server = createRegistryServer(registry, {version: 'test'});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = async () => {
      await new Promise((r) => server.close(r));
      await db.close();
      rmSync(dir, {recursive: true, force: true});
    };
  }, 60_000);
  afterAll(async () => close?.());

  const call = async (method: string, path: string, o: {token?: string; body?: unknown; raw?: string} = {}) => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: {...(o.token ? {authorization: `Bearer ${o.token}`} : {}), 'content-type': 'application/json'},
      body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)),
    });
    return {status: res.status, body: (await res.json()) as any};
  };
  const machineCount = async () => (await call('GET', '/machines', {token: tokens.admin})).body.machines.length;

  it('refuses without a token (401), a wrong one (401), and a role that may not (403)', async () => {
    expect((await call('GET', '/machines')).status).toBe(401);
    expect((await call('GET', '/machines', {token: 'anm_00000000_wrong'})).status).toBe(401);
    expect((await call('POST', '/reports', {token: tokens.reader, body: report()})).status).toBe(403);
    expect((await call('GET', '/machines', {token: tokens.reporter})).status).toBe(403);
    expect(await machineCount()).toBe(0);
  });

  it('refuses malformed, invalid and oversized reports with 400, and stores nothing', async () => {
    const bad = await call('POST', '/reports', {token: tokens.reporter, raw: '{"machine": '});
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/not JSON/);
    const invalid = await call('POST', '/reports', {token: tokens.reporter, body: report({inventory: {...INVENTORY, version: 9}, events: [{seq: 1, msg: 'x'}]})});
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.problems.map((p: {path: string}) => p.path)).toContain('inventory.version');
    const orphan = await call('POST', '/reports', {token: tokens.reporter, body: report({events: [{seq: 1, msg: 'x'}]})});
    expect(orphan.status).toBe(400);
    expect(orphan.body.error.message).toMatch(/events belong to a deployment/);
    const huge = await call('POST', '/reports', {token: tokens.reporter, body: report({deployment: {id: 'dep-huge-0001', mode: 'deploy'}, events: [{seq: 1, msg: 'x'.repeat(MAX_BODY)}]})});
    expect(huge.status).toBe(400);
    expect(huge.body.error.message).toMatch(/larger than 1048576 bytes/);
    expect(await machineCount()).toBe(0);
  });

  it("records a deploy environment's report: the machine, its hardware, the deployment and its events (each once), the lifecycle", async () => {
    const events = [
      {seq: 1, t: '2026-12-06T10:00:00.000Z', level: 'info', msg: 'agent started (mode deploy)'},
      {seq: 2, t: '2026-12-06T10:00:03.000Z', level: 'info', msg: 'network up'},
    ];
    const first = await call('POST', '/reports', {token: tokens.reporter, body: report({deployment: {id: 'dep-20261206-0001', mode: 'deploy', who: 'ci', artifacts: [{name: 'payload.tar.gz', sha256: 'a'.repeat(64)}]}, events})});
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({machine: UUID, created: true, state: 'provisioning', events: 2});
    // The agent posts again what it is not sure arrived, and then the outcome.
    const again = await call('POST', '/reports', {token: tokens.reporter, body: {machine: {uuid: UUID, macs: [MAC]}, deployment: {id: 'dep-20261206-0001', mode: 'deploy'}, events: [...events, {seq: 3, msg: 'DEPLOY SUCCEEDED in 80 s', outcome: 'succeeded'}]}});
    expect(again.body).toMatchObject({events: 1, state: 'deployed', created: false});

    const m = await call('GET', `/machines/${UUID}`, {token: tokens.reader});
    expect(m.body).toMatchObject({id: UUID, hostname: 'web1', state: 'deployed', macs: [MAC], lastDeployment: {id: 'dep-20261206-0001', outcome: 'succeeded'}});
    expect(m.body.inventory.disks[0].serial).toBe('overlayblk');
    const deps = (await call('GET', `/machines/${UUID}/deployments`, {token: tokens.reader})).body.deployments;
    expect(deps).toHaveLength(1);
    expect(deps[0]).toMatchObject({id: 'dep-20261206-0001', who: 'ci', outcome: 'succeeded', artifacts: [{name: 'payload.tar.gz'}]});
    expect(deps[0].events.map((e: {seq: number}) => e.seq)).toEqual([1, 2, 3]);
    expect(deps[0].finishedAt).not.toBeNull();
    // Found by its MAC alone (a second NIC's report, a firmware without UUID).
    const byMac = await call('POST', '/reports', {token: tokens.reporter, body: {machine: {macs: [MAC, '52:54:00:aa:bb:02']}}});
    expect(byMac.body.machine).toBe(UUID);
    expect((await call('GET', `/machines/${UUID}`, {token: tokens.reader})).body.macs).toEqual([MAC, '52:54:00:aa:bb:02']);
  });

  it('keeps the hardware history: a replaced disk and added RAM show as changes, in the audit log too', async () => {
    const inv: HardwareInventory = structuredClone(report().inventory as HardwareInventory);
    inv.disks = [{...inv.disks[0]!, serial: 'S4EWNX0R123456'}];
    inv.memory.totalBytes *= 2;
    const r = await call('POST', '/reports', {token: tokens.reporter, body: report({inventory: inv})});
    expect(r.body.changes).toEqual(['memory: 23.5 GiB → 47.1 GiB', 'disk removed: vda 256.0 GiB (serial overlayblk)', 'disk added: vda 256.0 GiB (serial S4EWNX0R123456)']);
    const history = (await call('GET', `/machines/${UUID}/inventory-history`, {token: tokens.reader})).body.reports;
    expect(history[0].changes).toHaveLength(3);
    expect(history.at(-1).changes).toEqual([]);
    const audit = (await call('GET', `/machines/${UUID}/audit`, {token: tokens.reader})).body.audit;
    expect(audit.map((a: {action: string}) => a.action)).toEqual(['hardware changed', 'state changed', 'state changed', 'deployment started', 'machine registered']);
  });

  it('changes state only as the lifecycle allows (409 lists the allowed ones), tags and desired deployment; a reporter cannot', async () => {
    expect((await call('PATCH', `/machines/${UUID}`, {token: tokens.reporter, body: {state: 'maintenance'}})).status).toBe(403);
    expect((await call('PATCH', `/machines/${UUID}`, {token: tokens.reader, body: {state: 'maintenance'}})).status).toBe(403);
    const refused = await call('PATCH', `/machines/${UUID}`, {token: tokens.admin, body: {state: 'new'}});
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({state: 'deployed', allowed: ['provisioning', 'ready', 'maintenance', 'retired']});
    expect((await call('PATCH', `/machines/${UUID}`, {token: tokens.admin, body: {state: 'bogus'}})).status).toBe(400);
    expect((await call('PATCH', `/machines/nope`, {token: tokens.admin, body: {state: 'ready'}})).status).toBe(404);
    const desired = {payload: {url: 'https://example.net/debian.tar.gz', sha256: 'b'.repeat(64)}, config: {hostname: 'web1'}};
    const ok = await call('PATCH', `/machines/${UUID}`, {token: tokens.admin, body: {state: 'maintenance', tags: ['rack3', 'web'], desired}});
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({state: 'maintenance', tags: ['rack3', 'web'], desired});
    // What a machine asks for by its MAC, with a reporter's token.
    const asked = await call('GET', `/machines/by-mac/${MAC.toUpperCase()}/desired`, {token: tokens.reporter});
    expect(asked.body).toEqual({machine: UUID, state: 'maintenance', desired});
    expect((await call('GET', '/machines/by-mac/52:54:00:ff:ff:ff/desired', {token: tokens.reporter})).status).toBe(404);
    const actions = (await call('GET', `/machines/${UUID}/audit`, {token: tokens.admin})).body.audit.slice(0, 3);
    expect(actions.map((a: {action: string; actor: string}) => a.action)).toEqual(['desired deployment changed', 'tags changed', 'state changed']);
    expect(actions[2].detail).toEqual({from: 'deployed', to: 'maintenance'});
  });

  it('filters machines by state, tag and text', async () => {
    await call('POST', '/reports', {token: tokens.reporter, body: {machine: {macs: ['52:54:00:cc:dd:01'], hostname: 'db7'}}});
    const names = async (q: string) => (await call('GET', `/machines?${q}`, {token: tokens.reader})).body.machines.map((m: {hostname: string}) => m.hostname);
    expect(await names('')).toEqual(['db7', 'web1']);
    expect(await names('state=new')).toEqual(['db7']);
    expect(await names('tag=rack3')).toEqual(['web1']);
    expect(await names('q=S4EWNX')).toEqual([]); // the serial searched is the system's, not a disk's
    expect(await names('q=cc:dd')).toEqual(['db7']);
    expect(await names('q=WEB')).toEqual(['web1']);
    expect((await call('GET', '/machines?q=db7', {token: tokens.reader})).body.machines[0].id).toBe('mac-525400ccdd01');
  });

  it('keeps the audit log append-only, whoever connects to the database', async () => {
    await expect(db.query("UPDATE audit SET action = 'nothing happened'")).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM audit')).rejects.toThrow(/append-only/);
    expect((await call('GET', '/audit', {token: tokens.reader})).body.audit.length).toBeGreaterThan(5);
  });

  it('makes tokens through the API for an admin only; the new one works, and its making is in the audit log', async () => {
    expect((await call('POST', '/tokens', {token: tokens.reader, body: {role: 'reader'}})).status).toBe(403);
    expect((await call('POST', '/tokens', {token: tokens.admin, body: {role: 'root'}})).status).toBe(400);
    const made = await call('POST', '/tokens', {token: tokens.admin, body: {role: 'reader', note: 'dashboard'}});
    expect(made.status).toBe(200);
    expect(made.body.token).toMatch(/^anm_[0-9a-f]{8}_/);
    expect((await call('GET', '/machines', {token: made.body.token})).status).toBe(200);
    expect((await call('GET', '/audit', {token: made.body.token})).body.audit[0]).toMatchObject({action: 'token created', detail: {id: made.body.id, role: 'reader', note: 'dashboard'}});
  });

  it('describes itself at /api/v1/openapi.json, without a token', async () => {
    const doc = await call('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/machines', '/machines/{id}', '/machines/{id}/deployments', '/reports', '/machines/by-mac/{mac}/desired', '/tokens']));
    expect(doc.body.components.schemas.Inventory.required).toContain('disks');
  });
});

describe('registry database at start', () => {
  it('refuses an embedded data directory another live process has open, and names it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-registry-lock-'));
    const first = await openEmbedded(dir);
    try {
      const err = (await openEmbedded(dir).then(
        () => undefined,
        (e: unknown) => e as Error & {hint?: string},
      ))!;
      expect(err.message).toBe(`The registry's data directory ${dir} is in use by process ${process.pid} (an anemos serve, or a token being made).`);
      expect(err.hint).toMatch(/POST \/api\/v1\/tokens/);
    } finally {
      await first.close();
    }
    // Closed: free again.
    await (await openEmbedded(dir)).close();
    rmSync(dir, {recursive: true, force: true});
  }, 60_000);

  it('names a PostgreSQL server it cannot reach, and what to do', async () => {
    const err = (await openPostgres('postgres://anemos:secret@127.0.0.1:1/anemos').then(
      () => undefined,
      (e: unknown) => e as Error,
    ))!;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/Cannot reach the registry's database postgres:\/\/anemos:\*\*\*@127\.0\.0\.1:1\/anemos: .*ECONNREFUSED/);
    expect((err as {hint?: string}).hint).toMatch(/--database/);
  });
});
