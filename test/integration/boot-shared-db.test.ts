// Several `anemos serve --boot` on one PostgreSQL, one per boot segment (two lab segments of
// network namespaces this test makes, each with its own serve; the database reached by its
// Unix socket, which namespaces share): they decide alike, a machine found on one is the
// same machine on the other, a change made through one is what the other boots, and a link
// one gave is good at the other and after a restart (the key that signs them is the
// database's). A machine's segment is the process's that made it: the other says 404 and
// the iPXE script asks again.

import {execFileSync} from 'node:child_process';
import {mkdtempSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {gunzipSync} from 'node:zlib';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {readCpio} from '../../src/core/cpio.js';
import {fakeEnvironment, startNetLab, type NetLab} from '../helpers/netlab.js';
import {startPostgres, type TestPostgres} from '../helpers/postgres.js';
import {CLI, startServe, type RunningServe} from '../helpers/registry.js';

const MAC = '52:54:00:66:00:01';

describe('two anemos serve --boot on one PostgreSQL', {timeout: 180_000}, () => {
  let work: string;
  let pg: TestPostgres;
  const labs: NetLab[] = [];
  const serves: RunningServe[] = [];
  let args: (lab: NetLab) => string[];
  let admin: string;

  /** curl inside a segment's namespace: status and body. */
  const curl = (lab: NetLab, url: string, extra: string[] = []): {status: number; body: Buffer} => {
    const argv = lab.exec(['curl', '-s', '-o', '-', '-w', '\n%{http_code}', ...extra, url]);
    const out = execFileSync(argv[0]!, argv.slice(1));
    const nl = out.lastIndexOf(10);
    return {status: Number(out.subarray(nl + 1).toString()), body: out.subarray(0, nl)};
  };
  const api = (i: number, method: string, path: string, body?: unknown) => {
    const r = curl(labs[i]!, `${serves[i]!.url}${path}`, ['-X', method, '-H', `authorization: Bearer ${admin}`, ...(body ? ['-H', 'content-type: application/json', '--data-binary', JSON.stringify(body)] : [])]);
    return {status: r.status, json: r.body.length ? JSON.parse(r.body.toString()) : undefined};
  };
  const explain = (i: number) => {
    const argv = labs[i]!.exec([process.execPath, CLI, 'machines', 'explain', MAC, '--registry', serves[i]!.url, '--json']);
    return JSON.parse(execFileSync(argv[0]!, argv.slice(1), {env: {...process.env, ANEMOS_REGISTRY_TOKEN: admin}}).toString());
  };
  /** The script segment i gives MAC, and what it names. */
  const script = (i: number) => {
    const text = curl(labs[i]!, `http://${labs[i]!.address}:8067/boot/ipxe?mac=${MAC}&firmware=bios`).body.toString();
    return {text, segment: text.match(/initrd --name machine\.img (\S+)/)?.[1]};
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'anemos-boot-shared-'));
    pg = await startPostgres();
    const env = fakeEnvironment(work);
    admin = execFileSync(process.execPath, [CLI, 'serve', 'token', 'create', '--database', pg.url, '--role', 'admin']).toString().trim();
    for (const id of ['a', 'b']) labs.push(startNetLab(join(work), `${id}${process.pid}`, {siteDhcp: false}));
    args = (lab) => ['--database', pg.socketUrl, '--boot', '--boot-interface', lab.bridge, '--boot-environment', env, '--discover', '--dhcp', 'off', '--boot-cache', join(work, `cache-${lab.ns}`)];
    for (const lab of labs) serves.push(await startServe(args(lab), {wrap: lab.exec([])}));
  }, 120_000);

  afterAll(async () => {
    for (const s of serves) await s.stop();
    for (const l of labs) l.close();
    await pg?.stop();
  });

  it('a machine found on one segment is the same machine on the other, and both say the same about it', () => {
    const first = script(0);
    expect(first.text).toMatch(/is not in the registry and discovery is on/);
    const second = script(1);
    // The other segment knows it already: not "not in the registry".
    expect(second.text).toMatch(/is new; found by a network boot, it waits in the deploy environment for a deployment/);
    const machines = api(0, 'GET', '/api/v1/machines').json.machines as {id: string; macs: string[]}[];
    expect(machines.filter((m) => m.macs.includes(MAC))).toHaveLength(1);
    expect(explain(1)).toEqual(explain(0));
    expect(explain(0)).toMatchObject({boot: 'environment', mode: 'register', machine: {state: 'new', discovered: true}});
  });

  it("a change made through one is what the other boots; a link one signed is good at the other and after a restart; a segment is the process's that made it", async () => {
    // The next-boot link the deploy environment polls, from the segment segment 0 made.
    const {segment} = script(0);
    const bytes = gunzipSync(curl(labs[0]!, segment!).body);
    const {entries} = readCpio(bytes);
    const cfg = entries.find((e) => e.path === 'anemos/config.json')!;
    const next = JSON.parse(bytes.subarray(cfg.dataOffset, cfg.dataOffset + cfg.size).toString()).next_boot.url as string;
    expect(JSON.parse(curl(labs[1]!, next).body.toString())).toMatchObject({boot: 'environment', mode: 'register'});
    // The other process does not hold this segment: 404, and the script asks again.
    expect(curl(labs[1]!, segment!).status).toBe(404);
    expect(script(1).text).toContain(`chain --replace http://${labs[1]!.address}:8067/boot/ipxe?mac=${MAC}&firmware=bios || goto retry`);

    // Made ready with a desired deployment through segment 1's registry.
    const id = explain(1).machine.id as string;
    const sha = 'c'.repeat(64);
    expect(api(1, 'PUT', `/api/v1/machines/${id}/desired`, {payload: {url: 'http://images.example.net/debian13.tar.gz', sha256: sha}, config: {deploy: {disk: '/dev/vda'}}}).status).toBe(200);
    expect(api(1, 'PATCH', `/api/v1/machines/${id}`, {state: 'ready'}).status).toBe(200);
    expect(explain(0)).toMatchObject({boot: 'environment', mode: 'deploy'});
    expect(explain(1)).toEqual(explain(0));
    expect(JSON.parse(curl(labs[0]!, next).body.toString())).toMatchObject({boot: 'environment', mode: 'deploy'});

    // Segment 0's process restarts: the link it gave before is still good.
    await serves[0]!.stop();
    serves[0] = await startServe(args(labs[0]!), {wrap: labs[0]!.exec([])});
    expect(JSON.parse(curl(labs[0]!, next).body.toString())).toMatchObject({boot: 'environment', mode: 'deploy'});
    // A link with another signature is not.
    expect(curl(labs[0]!, next.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))).status).toBe(404);
  });
});
