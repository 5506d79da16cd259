// The registry's CLI client (anemos machines, anemos tokens, anemos inventory --report)
// against a real anemos serve --tls auto, on the embedded database and on PostgreSQL: what
// an operator types, and what the registry holds afterwards. The registry's key is pinned
// by the fingerprint serve printed; a wrong one, plain HTTP elsewhere and a token file
// others can read are refused before anything is sent.

import {execFile, spawn} from 'node:child_process';
import {chmodSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {promisify} from 'node:util';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {startPostgres, type TestPostgres} from '../helpers/postgres.js';
import {CLI, startServe, type RunningServe} from '../helpers/registry.js';

const sha = (c: string) => c.repeat(64);

let pg: TestPostgres | undefined;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => pg?.stop());

describe.each(['embedded', 'postgres'] as const)('anemos machines and tokens against anemos serve --tls auto on the %s database', (kind) => {
  const dir = mkdtempSync(join(tmpdir(), 'anemos-client-'));
  const data = join(dir, 'registry');
  const db = () => (kind === 'embedded' ? ['--data', data] : ['--database', pg!.url, '--data', data]);
  let serve: RunningServe;
  let env: Record<string, string>;
  let machine: string;

  const cli = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await promisify(execFile)(process.execPath, [CLI, ...args], {env: {...process.env, HOME: dir, ...env, ...extra}}).then(
      (x) => ({code: 0, ...x}),
      (e: {code: number; stdout: string; stderr: string}) => e,
    );
    return {code: r.code, stdout: r.stdout, stderr: r.stderr, out: `${r.stdout}${r.stderr}`};
  };
  const json = async (args: string[], extra: Record<string, string> = {}) => {
    const r = await cli([...args, '--json'], extra);
    expect(r.code, r.out).toBe(0);
    return JSON.parse(r.stdout);
  };

  beforeAll(async () => {
    const admin = (await promisify(execFile)(process.execPath, [CLI, 'serve', 'token', 'create', ...db(), '--role', 'admin', '--note', 'alice'])).stdout.trim();
    serve = await startServe([...db(), '--tls', 'auto', '--quiet']);
    expect(serve.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(serve.fingerprint).toMatch(/^sha256\/\/[A-Za-z0-9+/]{43}=$/);
    env = {ANEMOS_REGISTRY: serve.url, ANEMOS_REGISTRY_FINGERPRINT: serve.fingerprint!, ANEMOS_REGISTRY_TOKEN: admin};
  }, 120_000);
  afterAll(async () => {
    await serve?.stop();
    rmSync(dir, {recursive: true, force: true});
  });

  it('enrolls this host with an enroll token (anemos inventory --report), keeps its credential 0600, and reports with it after', async () => {
    const enroll = await json(['tokens', 'create', '--role', 'enroll', '--uses', '1', '--expires', '1d', '--note', 'install day']);
    expect(enroll).toMatchObject({kind: 'enroll', token: expect.stringMatching(/^anm_/), expiresAt: expect.any(String)});
    const credential = join(dir, 'credential');
    const first = await json(['inventory', '--report', serve.url, '--credential', credential], {ANEMOS_ENROLL_TOKEN: enroll.token});
    expect(first).toMatchObject({enrolled: true, created: true});
    machine = first.machine;
    expect(statSync(credential).mode & 0o777).toBe(0o600);
    const second = await json(['inventory', '--report', serve.url, '--credential', credential], {ANEMOS_ENROLL_TOKEN: ''});
    expect(second).toMatchObject({enrolled: false, machine});
    const list = await json(['machines', 'list']);
    expect(list).toMatchObject({total: 1, machines: [{id: machine, state: 'new'}]});
    const table = await cli(['machines', 'list']);
    expect(table.stdout).toMatch(/^ID\s+HOSTNAME\s+STATE\s+ADDRESSES\s+TAGS\s+LAST DEPLOYMENT\s+LAST SEEN\n/);
    expect(table.stdout).toMatch(/1 of 1 machine\(s\)\.\n$/);
  });

  it('sets the desired deployment from a file, validated here first (nothing sent when it is wrong), and tags, attributes and state', async () => {
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, `kernel: {url: https://images.example.net/vmlinuz}\npayload: {url: https://images.example.net/web.tar.gz, sha256: ${sha('a')}}\ndeploy: {dsik: /dev/sda}\n`);
    const refused = await cli(['machines', 'set', machine, '--desired-config', bad]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/bad\.conf has 2 problems as a desired deployment: nothing was sent to the registry\.\n {2}- kernel\.sha256: is required but missing[\s\S]*\n {2}- deploy\.dsik: is not a known key — Did you mean "disk"\?/);
    expect((await json(['machines', 'show', machine])).machine.desired).toBeNull();
    const good = join(dir, 'web1.conf');
    writeFileSync(good, `kernel: {url: https://images.example.net/vmlinuz, sha256: ${sha('b')}}\npayload: {url: https://images.example.net/web.tar.gz, sha256: ${sha('a')}}\nhostname: web1\ndeploy: {disk: /dev/sda}\n`);
    const set = await json(['machines', 'set', machine, '--desired-config', good, '--add-tag', 'rack3', '--add-tag', 'web', '--attribute', 'owner=web-team', '--attribute', 'weight=3', '--state', 'ready']);
    expect(set.machine).toMatchObject({state: 'ready', tags: ['rack3', 'web'], attributes: {owner: 'web-team', weight: 3}, desired: {kernel: {sha256: sha('b')}, payload: {sha256: sha('a')}, config: {hostname: 'web1', deploy: {disk: '/dev/sda'}}}});
    const removed = await json(['machines', 'set', machine, '--remove-tag', 'web', '--attribute', 'weight=']);
    expect(removed.machine).toMatchObject({tags: ['rack3'], attributes: {owner: 'web-team'}});
    const lifecycle = await cli(['machines', 'set', machine, '--state', 'deployed']);
    expect(lifecycle.code).toBe(4);
    expect(lifecycle.stderr).toMatch(/Error \[registry-transition\]: A machine in state ready cannot go to deployed; from ready it may go to: provisioning, maintenance, retired/);
    const shown = await cli(['machines', 'show', machine]);
    expect(shown.stdout).toMatch(/desired {5}kernel https:\/\/images\.example\.net\/vmlinuz \(bbbbbbbbbbbb…\); payload/);
  });

  it("follows a machine's deployment live (anemos machines watch) with the --host watcher's exit codes; what the machine printed is shown as text", async () => {
    const watch = (args: string[] = []) => {
      const child = spawn(process.execPath, [CLI, 'machines', 'watch', machine, '--timeout', '60s', ...args], {env: {...process.env, HOME: dir, ...env}});
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      child.stderr.on('data', (d: Buffer) => (out += d));
      const done = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
      const said = async (re: RegExp) => {
        for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 100));
        expect(out).toMatch(re);
      };
      return {done, said, out: () => out};
    };
    const api = async (method: string, path: string, token: string, body: unknown) => {
      // This test talks to the self-signed registry directly too: its certificate is its own CA.
      const {request} = await import('node:https');
      const {readFileSync} = await import('node:fs');
      return new Promise<any>((resolve, reject) => {
        const req = request(`${serve.url}${path}`, {method, ca: readFileSync(join(data, 'tls-cert.pem')), checkServerIdentity: () => undefined, headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'}}, (res) => {
          let t = '';
          res.on('data', (d) => (t += d)).on('end', () => resolve(JSON.parse(t)));
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
    };
    const m = (await json(['machines', 'show', machine])).machine;
    const deploy = async (id: string, events: object[]) => {
      const d = await api('POST', '/api/v1/deployments', env.ANEMOS_REGISTRY_TOKEN!, {machine: {macs: m.macs}, id, mode: 'deploy'});
      for (const e of events) {
        await api('POST', '/api/v1/reports', d.token.token, {machine: {macs: m.macs}, deployment: {id}, events: [e]});
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    // Deployed: exit 0, every event in order, the OSC 52 the payload printed shown, not obeyed.
    const ok = watch();
    await ok.said(/Waiting for a deployment of/);
    await deploy('dep-20261206T190000Z-watch001', [
      {seq: 1, t: '2026-12-06T19:00:01.000Z', level: 'info', msg: 'agent started'},
      {seq: 2, t: '2026-12-06T19:00:02.000Z', level: 'info', msg: 'deploy: done\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\u0007'},
      {seq: 3, t: '2026-12-06T19:00:30.000Z', level: 'info', msg: 'DEPLOY SUCCEEDED in 29 s', outcome: 'succeeded'},
    ]);
    expect(await ok.done).toBe(0);
    expect(ok.out()).toMatch(/Following deployment dep-20261206T190000Z-watch001[\s\S]*19:00:01 agent started\n {2}19:00:02 deploy: done\\x1b\]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\\x07\n {2}19:00:30 DEPLOY SUCCEEDED in 29 s\nDEPLOYED: dep-20261206T190000Z-watch001 succeeded/);
    expect(ok.out()).not.toMatch(/\u001b/);
    // Failed before writing: exit 10; after writing (it stays): exit 11; nothing within the timeout: exit 12.
    const before = watch();
    await before.said(/Waiting for a deployment/);
    await deploy('dep-20261206T190100Z-watch002', [{seq: 1, level: 'error', msg: 'DEPLOY FAILED: payload exited 3', outcome: 'failed', action: 'reboot'}]);
    expect(await before.done).toBe(10);
    const after = watch();
    await after.said(/Waiting for a deployment/);
    await deploy('dep-20261206T190200Z-watch003', [{seq: 1, level: 'error', msg: 'DEPLOY FAILED: mkfs failed', outcome: 'failed', action: 'stay', written: ['/dev/sda']}]);
    expect(await after.done).toBe(11);
    expect(after.out()).toMatch(/failed after writing to \/dev\/sda; the machine stays in the deploy environment/);
    const late = spawn(process.execPath, [CLI, 'machines', 'watch', machine, '--timeout', '2s'], {env: {...process.env, HOME: dir, ...env}});
    expect(await new Promise((r) => late.on('exit', r))).toBe(12);
  }, 120_000);

  it('lists and revokes tokens: a revoked one is refused at once, with why', async () => {
    const reader = await json(['tokens', 'create', '--role', 'reader', '--note', 'dashboard']);
    expect((await cli(['machines', 'list'], {ANEMOS_REGISTRY_TOKEN: reader.token})).code).toBe(0);
    const listed = await json(['tokens', 'list', '--live']);
    expect(listed.tokens.map((t: {note: string}) => t.note)).toEqual(expect.arrayContaining(['alice', 'dashboard']));
    const table = await cli(['tokens', 'list']);
    expect(table.stdout).toMatch(/^ID\s+KIND\s+NOTE\s+BOUND TO\s+CREATED\s+EXPIRES\s+USES LEFT\s+STATE$/m);
    // The secret is what follows anm_<id>_ (base64url: it may hold '_' itself).
    const secret = reader.token.slice('anm_'.length + reader.id.length + 1);
    expect(secret).toHaveLength(32);
    expect(table.stdout).not.toContain(secret);
    expect((await cli(['tokens', 'revoke', reader.id])).stdout).toBe(`Token ${reader.id} (reader, dashboard) is revoked.\n`);
    const refused = await cli(['machines', 'list'], {ANEMOS_REGISTRY_TOKEN: reader.token});
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/Error \[registry-token-revoked\]: The registry at https:\/\/127\.0\.0\.1:\d+ refused the token: Token [0-9a-f]{8} was revoked at /);
  });

  it('retires a machine only when told --yes', async () => {
    expect((await cli(['machines', 'retire', machine])).code).toBe(2);
    expect((await json(['machines', 'retire', machine, '--yes'])).machine.state).toBe('retired');
  });

  it('refuses a registry with another key, plain HTTP off this machine, and a token file others can read, before sending anything', async () => {
    const pin = await cli(['machines', 'list'], {ANEMOS_REGISTRY_FINGERPRINT: `sha256//${'A'.repeat(43)}=`});
    expect(pin.code).toBe(4);
    expect(pin.stderr).toMatch(/Error \[registry-pin\]: The registry at 127\.0\.0\.1:\d+ is not the one pinned: its public key is sha256\/\/\S+, not sha256\/\/A+=\. Nothing was sent to it\./);
    const noPin = await cli(['machines', 'list'], {ANEMOS_REGISTRY_FINGERPRINT: ''});
    expect(noPin.code).toBe(5);
    expect(noPin.stderr).toMatch(/self-signed registry \(anemos serve --tls auto\) pin its fingerprint/);
    const plain = await cli(['machines', 'list', '--registry', 'http://192.0.2.1:8080'], {ANEMOS_REGISTRY_FINGERPRINT: ''});
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/Error \[registry-insecure\]/);
    const file = join(dir, 'token');
    writeFileSync(file, `${env.ANEMOS_REGISTRY_TOKEN}\n`);
    chmodSync(file, 0o644);
    const open = await cli(['machines', 'list', '--token-file', file], {ANEMOS_REGISTRY_TOKEN: ''});
    expect(open.code).toBe(4);
    expect(open.stderr).toMatch(/can be read by others \(mode 644\): it is not used\.\nHint: chmod 600/);
    chmodSync(file, 0o600);
    expect((await cli(['machines', 'list', '--token-file', file], {ANEMOS_REGISTRY_TOKEN: ''})).code).toBe(0);
  });
});
