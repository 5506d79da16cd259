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
import type {Db} from '../../src/core/registry/db.js';
import {Registry} from '../../src/services/registry/registry.js';
import {createRegistryServer, MAX_BODY} from '../../src/services/registry/server.js';
import {loadInventoryFixture} from '../helpers/inventory.js';
import {startPostgres, type TestPostgres} from '../helpers/postgres.js';

const UUID = '4c4c4544-0042-3510-8053-b4c04f4e3232';
const MAC = '52:54:00:aa:bb:01';
const OTHER_UUID = '4c4c4544-0042-3510-8053-b4c04f4e9999';
const OTHER_MAC = '52:54:00:aa:bb:99';
const {inventory: INVENTORY} = loadInventoryFixture('cloud-vm-virtio');
const sha = (c: string) => c.repeat(64);

const inventoryOf = (mac: string): HardwareInventory => ({...structuredClone(INVENTORY), nics: [{name: 'eth0', mac, driver: 'virtio_net', link: 'up', addresses: ['192.0.2.10/24']}]});

let pg: TestPostgres | undefined;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => pg?.stop());

describe.each(['embedded', 'postgres'] as const)('registry API on the %s database', (kind) => {
  let db: Db;
  let url: string;
  let close: () => Promise<void>;
  const tokens = {admin: '', operator: '', reader: '', enroll: '', machine: '', other: '', deployment: ''};
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'anemos-registry-'));
    db = kind === 'embedded' ? await openEmbedded(dir) : await openPostgres(pg!.url);
    const registry = await Registry.open(db);
    for (const role of ['admin', 'operator', 'reader'] as const) tokens[role] = (await registry.createToken({role, note: `test ${role}`})).token;
    tokens.enroll = (await registry.createToken({role: 'enroll', note: 'rack 3 install day', uses: 3})).token;
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

  const call = async (method: string, path: string, o: {token?: string; body?: unknown; raw?: string; type?: string} = {}) => {
    const res = await fetch(`${url}${path.startsWith('/') && !path.startsWith('/api') && !/^\/(healthz|readyz|metrics)/.test(path) ? `/api/v1${path}` : path}`, {
      method,
      headers: {...(o.token ? {authorization: `Bearer ${o.token}`} : {}), 'content-type': o.type ?? 'application/json'},
      body: o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body)),
    });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return {status: res.status, body, headers: res.headers};
  };
  const machineCount = async () => (await call('GET', '/machines', {token: tokens.admin})).body.total;

  it('refuses without a token (401 and WWW-Authenticate), a wrong one (401), and a role that may not (403)', async () => {
    const none = await call('GET', '/machines');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="anemos registry"');
    expect(none.body.error).toMatchObject({code: 'no-token'});
    const wrong = await call('GET', '/machines', {token: 'anm_00000000_wrong'});
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    expect((await call('POST', '/reports', {token: tokens.reader, body: {machine: {macs: [MAC]}}})).body.error.code).toBe('forbidden');
    expect((await call('GET', '/machines', {token: tokens.enroll})).status).toBe(403);
    expect((await call('POST', '/tokens', {token: tokens.operator, body: {role: 'admin'}})).status).toBe(403);
    expect(await machineCount()).toBe(0);
  });

  it('enrolls a new machine with an enroll token: a credential of its own, which reports for it', async () => {
    const first = await call('POST', '/enroll', {token: tokens.enroll, body: {machine: {uuid: UUID, macs: [MAC], hostname: 'web1'}, inventory: inventoryOf(MAC)}});
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({machine: UUID, created: true, credential: {kind: 'machine'}});
    tokens.machine = first.body.credential.token;
    const other = await call('POST', '/enroll', {token: tokens.enroll, body: {machine: {uuid: OTHER_UUID, macs: [OTHER_MAC], hostname: 'db1'}}});
    tokens.other = other.body.credential.token;
    // The credential reports; it cannot read the fleet, nor enroll again.
    expect((await call('POST', '/reports', {token: tokens.machine, body: {machine: {uuid: UUID, macs: [MAC]}, inventory: inventoryOf(MAC)}})).status).toBe(200);
    expect((await call('GET', '/machines', {token: tokens.machine})).status).toBe(403);
    expect((await call('GET', `/machines/${UUID}`, {token: tokens.machine})).body.id).toBe(UUID);
    expect((await call('GET', `/machines/${OTHER_UUID}`, {token: tokens.machine})).body.error.code).toBe('not-your-machine');
    // A machine that enrolled already cannot be enrolled again (its credential would be taken).
    const again = await call('POST', '/enroll', {token: tokens.enroll, body: {machine: {uuid: UUID, macs: [MAC]}}});
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({code: 'already-enrolled', hint: expect.stringMatching(/anemos tokens revoke/)});
    // Three uses: two machines and the refused third... the refusal rolled back, so one use is left.
    const third = await call('POST', '/enroll', {token: tokens.enroll, body: {machine: {macs: ['52:54:00:aa:bb:03']}}});
    expect(third.status).toBe(200);
    const used = await call('POST', '/enroll', {token: tokens.enroll, body: {machine: {macs: ['52:54:00:aa:bb:04']}}});
    expect(used.status).toBe(401);
    expect(used.body.error.code).toBe('token-used-up');
    expect(await machineCount()).toBe(3);
  });

  it("refuses a report that speaks for another machine: a MAC or UUID bound to one is never moved to another (403 or 409, audited)", async () => {
    await call('PUT', `/machines/${UUID}/desired`, {token: tokens.operator, body: {payload: {url: 'https://images.example.net/web.tar.gz', sha256: sha('a')}}});
    // Machine B's credential names A's MAC: refused, and A keeps its MAC and its desired deployment.
    const takeover = await call('POST', '/reports', {token: tokens.other, body: {machine: {uuid: OTHER_UUID, macs: [OTHER_MAC, MAC]}}});
    expect(takeover.status).toBe(403);
    expect(takeover.body.error).toMatchObject({code: 'identity-mismatch', message: expect.stringMatching(/MAC 52:54:00:aa:bb:01 is machine 4c4c4544-0042-3510-8053-b4c04f4e3232's/)});
    // B's credential claims A's UUID.
    expect((await call('POST', '/reports', {token: tokens.other, body: {machine: {uuid: UUID, macs: [OTHER_MAC]}}})).status).toBe(403);
    // An enrollment naming B's UUID with A's MAC (the attack of the old shared reporter token).
    const enroll = await call('POST', '/enroll', {token: (await call('POST', '/tokens', {token: tokens.admin, body: {role: 'enroll'}})).body.token, body: {machine: {uuid: '4c4c4544-0042-3510-8053-b4c04f4e7777', macs: [MAC]}}});
    expect(enroll.status).toBe(409);
    expect(enroll.body.error.code).toBe('identity-conflict');
    const desired = await call('GET', `/machines/by-mac/${MAC}/desired`, {token: tokens.machine});
    expect(desired.body).toMatchObject({machine: UUID, desired: {payload: {sha256: sha('a')}}});
    expect((await call('GET', `/machines/by-mac/${OTHER_MAC}/desired`, {token: tokens.machine})).status).toBe(403);
    const refusals = (await call('GET', '/audit?action=identity%20refused', {token: tokens.reader})).body.audit;
    expect(refusals).toHaveLength(3);
    expect(refusals.map((a: {actor: string}) => a.actor)).toEqual(expect.arrayContaining([expect.stringMatching(/^machine 4c4c4544-0042-3510-8053-b4c04f4e9999 \(credential [0-9a-f]{8}\)$/)]));
  });

  it('refuses malformed, invalid and oversized reports (400, 413), and stores nothing of them', async () => {
    const before = (await call('GET', `/machines/${UUID}/inventory-history`, {token: tokens.reader})).body.reports.length;
    const bad = await call('POST', '/reports', {token: tokens.machine, raw: '{"machine": '});
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({code: 'not-json'});
    const invalid = await call('POST', '/reports', {token: tokens.machine, body: {machine: {uuid: UUID, macs: [MAC]}, inventory: {...INVENTORY, version: 9}}});
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.problems.map((p: {path: string}) => p.path)).toContain('inventory.version');
    const orphan = await call('POST', '/reports', {token: tokens.machine, body: {machine: {uuid: UUID, macs: [MAC]}, events: [{seq: 1, msg: 'x'}]}});
    expect(orphan.body.error.message).toMatch(/events belong to a deployment/);
    const huge = await call('POST', '/reports', {token: tokens.machine, raw: JSON.stringify({machine: {uuid: UUID, macs: [MAC]}, pad: 'x'.repeat(MAX_BODY)})});
    expect(huge.status).toBe(413);
    expect(huge.body.error.message).toMatch(/larger than 1048576 bytes/);
    const deep = await call('POST', '/reports', {token: tokens.machine, raw: `${'['.repeat(5000)}${']'.repeat(5000)}`});
    expect(deep.body.error.code).toBe('too-deep');
    const text = await call('POST', '/reports', {token: tokens.machine, raw: '{}', type: 'text/plain'});
    expect(text.status).toBe(415);
    expect((await call('GET', `/machines/${UUID}/inventory-history`, {token: tokens.reader})).body.reports.length).toBe(before);
  });

  it("records a deployment: an operator's request gives a token bound to it, whose events are stored once each, with the lifecycle", async () => {
    const recorded = await call('POST', '/deployments', {token: tokens.operator, body: {machine: {uuid: UUID, macs: [MAC]}, id: 'dep-20261206-0001', mode: 'deploy', who: 'alice@laptop', artifacts: [{name: 'payload', sha256: sha('a')}], timeoutSeconds: 3600}});
    expect(recorded.status).toBe(200);
    expect(recorded.body).toMatchObject({deployment: 'dep-20261206-0001', machine: UUID, token: {kind: 'deployment'}});
    tokens.deployment = recorded.body.token.token;
    const events = [
      {seq: 0, t: '2026-12-06T10:00:00.000Z', level: 'info', msg: 'anemos deploy by alice@laptop: handing over'},
      {seq: 1, t: '2026-12-06T10:00:03.000Z', level: 'info', msg: 'agent started (mode deploy)'},
    ];
    const first = await call('POST', '/reports', {token: tokens.deployment, body: {machine: {uuid: UUID, macs: [MAC]}, deployment: {id: 'dep-20261206-0001'}, events}});
    expect(first.body).toMatchObject({machine: UUID, events: 2, state: 'provisioning'});
    // More events of the running deployment (the path most reports take) still name only this machine's own MACs and UUID.
    const foreignMac = await call('POST', '/reports', {token: tokens.deployment, body: {machine: {uuid: UUID, macs: [MAC, OTHER_MAC]}, deployment: {id: 'dep-20261206-0001'}, events: [{seq: 9, msg: 'x'}]}});
    expect(foreignMac.body.error.code).toBe('identity-mismatch');
    const foreignUuid = await call('POST', '/reports', {token: tokens.deployment, body: {machine: {uuid: OTHER_UUID, macs: [MAC]}, deployment: {id: 'dep-20261206-0001'}, events: [{seq: 9, msg: 'x'}]}});
    expect(foreignUuid.body.error.code).toBe('identity-mismatch');
    expect((await call('GET', '/deployments/dep-20261206-0001/events', {token: tokens.reader})).body.events.map((e: {seq: number}) => e.seq)).toEqual([0, 1]);
    // The agent posts again what it is not sure arrived, then the outcome; a NUL and a lone surrogate from payload output are kept as U+FFFD.
    const again = await call('POST', '/reports', {token: tokens.deployment, raw: `{"machine": {"uuid": "${UUID}", "macs": ["${MAC}"]}, "deployment": {"id": "dep-20261206-0001"}, "events": [${events.map((e) => JSON.stringify(e)).join(',')}, {"seq": 2, "msg": "deploy: a\\u0000b \\ud800 c"}, {"seq": 3, "msg": "DEPLOY SUCCEEDED in 80 s", "outcome": "succeeded"}]}`});
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({events: 2, state: 'deployed'});
    const d = await call('GET', '/deployments/dep-20261206-0001', {token: tokens.reader});
    expect(d.body).toMatchObject({id: 'dep-20261206-0001', machine: UUID, who: 'alice@laptop', outcome: 'succeeded', events: 4, machineClock: {startedAt: '2026-12-06T10:00:00.000Z'}});
    const ev = (await call('GET', '/deployments/dep-20261206-0001/events?after=0', {token: tokens.reader})).body;
    expect(ev.events.map((e: {seq: number}) => e.seq)).toEqual([1, 2, 3]);
    expect(ev.events[1].msg).toBe('deploy: a\ufffdb \ufffd c');
    expect(ev.events[0].receivedAt).toMatch(/^\d{4}-/);
    // A sequence number past the database's integer, or a message past the limit: 400 naming the event.
    const seq = await call('POST', '/reports', {token: tokens.deployment, body: {machine: {uuid: UUID, macs: [MAC]}, deployment: {id: 'dep-20261206-0001'}, events: [{seq: 2 ** 31, msg: 'x'}]}});
    expect(seq.status).toBe(400);
    expect(seq.body.error.problems).toEqual([expect.objectContaining({path: 'events[0].seq'})]);
    // The deployment's token: for this deployment only, and it ends with it (a grace period, then expired).
    expect((await call('POST', '/reports', {token: tokens.deployment, body: {machine: {uuid: UUID, macs: [MAC]}, deployment: {id: 'dep-other-0001'}, events: [{seq: 1, msg: 'x'}]}})).body.error.code).toBe('token-scope');
    expect((await call('GET', '/machines', {token: tokens.deployment})).status).toBe(403);
    const listed = (await call('GET', '/tokens?kind=deployment', {token: tokens.admin})).body.tokens[0];
    expect(listed).toMatchObject({kind: 'deployment', machine: UUID, deployment: 'dep-20261206-0001'});
    expect(Date.parse(listed.expiresAt) - Date.now()).toBeLessThanOrEqual(900_000);
    // A machine's credential records its own deployments, never another machine's.
    expect((await call('POST', '/deployments', {token: tokens.machine, body: {machine: {uuid: UUID, macs: [MAC]}, id: 'dep-20261206-0002', mode: 'test'}})).status).toBe(200);
    expect((await call('POST', '/deployments', {token: tokens.machine, body: {machine: {uuid: OTHER_UUID, macs: [OTHER_MAC]}, id: 'dep-20261206-0003', mode: 'deploy'}})).status).toBe(403);
  });

  it('keeps the hardware history: a replaced disk and added RAM show as changes, in the audit log too', async () => {
    const inv = inventoryOf(MAC);
    inv.disks = [{...inv.disks[0]!, serial: 'S4EWNX0R123456'}];
    inv.memory.totalBytes *= 2;
    const r = await call('POST', '/reports', {token: tokens.machine, body: {machine: {uuid: UUID, macs: [MAC]}, inventory: inv}});
    expect(r.body.changes).toEqual(['memory: 23.5 GiB → 47.1 GiB', 'disk removed: vda 256.0 GiB (serial overlayblk)', 'disk added: vda 256.0 GiB (serial S4EWNX0R123456)']);
    const history = (await call('GET', `/machines/${UUID}/inventory-history`, {token: tokens.reader})).body.reports;
    expect(history[0].changes).toHaveLength(3);
    expect(history.at(-1).changes).toEqual([]);
    expect((await call('GET', `/machines/${UUID}`, {token: tokens.reader})).body.addresses).toEqual(['192.0.2.10/24']);
  });

  it('changes state only as the lifecycle allows (409 with the allowed ones); tags, attributes and desired by JSON Merge Patch, the desired deployment validated like anemos.conf', async () => {
    expect((await call('PATCH', `/machines/${UUID}`, {token: tokens.reader, body: {state: 'maintenance'}})).status).toBe(403);
    const refused = await call('PATCH', `/machines/${UUID}`, {token: tokens.operator, body: {state: 'new'}});
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({code: 'transition', state: 'deployed', allowed: ['provisioning', 'ready', 'maintenance', 'retired']});
    expect((await call('PATCH', `/machines/${UUID}`, {token: tokens.operator, body: {state: 'bogus'}})).status).toBe(400);
    expect((await call('PATCH', '/machines/nope', {token: tokens.operator, body: {state: 'ready'}})).status).toBe(404);
    // A typo and a missing sha256: every problem, with its path; nothing stored.
    const typo = await call('PATCH', `/machines/${UUID}`, {token: tokens.operator, body: {desired: {kernel: {url: 'https://images.example.net/vmlinuz'}, config: {deploy: {dsik: '/dev/sda'}}}}});
    expect(typo.status).toBe(400);
    expect(typo.body.error.problems).toEqual([expect.stringMatching(/^desired\.kernel\.sha256: is required but missing — Put the output of "sha256sum FILE" here/), expect.stringMatching(/^desired\.config\.deploy\.dsik: is not a known key — Did you mean "disk"\?/)]);
    const merged = await call('PATCH', `/machines/${UUID}`, {token: tokens.operator, type: 'application/merge-patch+json', body: {state: 'maintenance', tags: ['rack3', 'web'], attributes: {owner: 'web-team', rack: 'r3'}, desired: {kernel: {url: 'https://images.example.net/vmlinuz', sha256: sha('b')}, config: {hostname: 'web1'}}}});
    expect(merged.status).toBe(200);
    // Merged member by member: the payload set before is still there.
    expect(merged.body).toMatchObject({state: 'maintenance', tags: ['rack3', 'web'], attributes: {owner: 'web-team', rack: 'r3'}, desired: {payload: {sha256: sha('a')}, kernel: {sha256: sha('b')}, config: {hostname: 'web1'}}});
    const removed = await call('PATCH', `/machines/${UUID}`, {token: tokens.operator, body: {attributes: {rack: null}, desired: {payload: null}}});
    expect(removed.body.attributes).toEqual({owner: 'web-team'});
    expect(removed.body.desired).not.toHaveProperty('payload');
    const audit = (await call('GET', `/machines/${UUID}/audit`, {token: tokens.reader})).body.audit;
    expect(audit[0]).toMatchObject({action: 'desired deployment changed', actor: expect.stringMatching(/^test operator \(operator token [0-9a-f]{8}\)$/)});
  });

  it('pages through lists with an opaque cursor and a total; unknown parameters and values are refused', async () => {
    const a = await call('GET', '/machines?limit=2&sort=id', {token: tokens.reader});
    expect(a.body).toMatchObject({total: 3, next: expect.any(String)});
    expect(a.body.machines).toHaveLength(2);
    const b = await call('GET', `/machines?limit=2&sort=id&cursor=${a.body.next}`, {token: tokens.reader});
    expect(b.body.machines).toHaveLength(1);
    expect(b.body.next).toBeNull();
    expect([...a.body.machines, ...b.body.machines].map((m: {id: string}) => m.id)).toEqual([UUID, OTHER_UUID, 'mac-525400aabb03'].sort());
    const bad = async (q: string) => (await call('GET', `/machines?${q}`, {token: tokens.reader})).body.error;
    expect(await bad('state=bogus')).toMatchObject({code: 'bad-query', problems: [expect.objectContaining({path: 'state'})]});
    expect(await bad('sort=age')).toMatchObject({code: 'bad-query'});
    expect(await bad('colour=red')).toMatchObject({code: 'bad-query', hint: expect.stringMatching(/state, tag, q, sort, limit, cursor/)});
    expect(await bad('limit=0')).toMatchObject({code: 'bad-query'});
    expect(await bad('cursor=not-a-cursor')).toMatchObject({code: 'bad-cursor'});
    const audit = await call('GET', '/audit?limit=3', {token: tokens.reader});
    expect(audit.body.audit).toHaveLength(3);
    const rest = await call('GET', `/audit?limit=500&cursor=${audit.body.next}`, {token: tokens.reader});
    expect(rest.body.audit[0].id).toBe(audit.body.audit[2].id - 1);
    const names = async (q: string) => (await call('GET', `/machines?${q}`, {token: tokens.reader})).body.machines.map((m: {hostname: string}) => m.hostname);
    expect(await names('tag=rack3')).toEqual(['web1']);
    expect(await names('q=192.0.2.10')).toEqual(['web1']);
    expect(await names('q=aa:bb:99')).toEqual(['db1']);
  });

  it('answers 405 with Allow, 404 for no route, /healthz and /readyz without a token, /metrics with one', async () => {
    const wrong = await call('DELETE', '/machines');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect(wrong.body.error.code).toBe('method-not-allowed');
    expect((await call('GET', '/nothing-here', {token: tokens.reader})).body.error.code).toBe('no-route');
    expect((await call('GET', '/healthz')).body).toEqual({status: 'ok', version: 'test'});
    expect((await call('GET', '/readyz')).body).toMatchObject({status: 'ready'});
    expect((await call('GET', '/metrics')).status).toBe(401);
    const m = await call('GET', '/metrics', {token: tokens.reader});
    expect(m.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.body).toMatch(/^anemos_registry_http_requests_total\{route="POST \/api\/v1\/reports",status="200"\} \d+$/m);
    expect(m.body).toMatch(/^anemos_registry_deployments\{outcome="succeeded"\} 1$/m);
    expect(m.body).toMatch(/^anemos_registry_identity_refused_total [1-9]\d*$/m);
    expect(m.body).toMatch(/^anemos_registry_db_query_seconds_count [1-9]\d*$/m);
  });

  it('dispatches every route its description names (from the same table): none answers 404 "no route" or 405', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops)) {
        const concrete = path.replace('{id}', 'no-such-thing').replace('{mac}', '52:54:00:ff:ff:ff');
        const r = await call(method.toUpperCase(), concrete, {token: tokens.reader, body: method === 'get' || method === 'delete' ? undefined : {}});
        expect([r.status, r.body?.error?.code], `${method} ${path}`).not.toEqual(expect.arrayContaining(['no-route']));
        expect(r.status, `${method} ${path}`).not.toBe(405);
      }
    }
  });

  it('revokes a token: it stops working at once, and the audit log says who revoked it', async () => {
    const made = await call('POST', '/tokens', {token: tokens.admin, body: {role: 'reader', note: 'dashboard', expiresInSeconds: 3600}});
    expect(made.body).toMatchObject({kind: 'reader', token: expect.stringMatching(/^anm_[0-9a-f]{8}_/), expiresAt: expect.any(String)});
    expect((await call('GET', '/machines', {token: made.body.token})).status).toBe(200);
    const revoked = await call('DELETE', `/tokens/${made.body.id}`, {token: tokens.admin});
    expect(revoked.body).toMatchObject({id: made.body.id, revokedAt: expect.any(String)});
    const after = await call('GET', '/machines', {token: made.body.token});
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('token-revoked');
    expect((await call('GET', '/audit?action=token%20revoked', {token: tokens.reader})).body.audit[0]).toMatchObject({actor: expect.stringMatching(/^test admin/), detail: {id: made.body.id, note: 'dashboard'}});
    expect((await call('GET', '/whoami', {token: tokens.operator})).body).toMatchObject({kind: 'operator', note: 'test operator'});
  });

  it('keeps the audit log append-only, whoever connects to the database', async () => {
    await expect(db.query("UPDATE audit SET action = 'nothing happened'")).rejects.toThrow(/append-only/);
    await expect(db.query('DELETE FROM audit')).rejects.toThrow(/append-only/);
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

  it('answers /readyz 503 when its database does not answer, and /healthz still 200', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'anemos-registry-ready-'));
    const registry = await Registry.open(await openEmbedded(dir));
    const server = createRegistryServer(registry, {version: 'test'});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      await registry.db.close();
      const down = await fetch(`${url}/readyz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as {error: {code: string}}).error.code).toBe('database-down');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      await new Promise((r) => server.close(r));
      rmSync(dir, {recursive: true, force: true});
    }
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
