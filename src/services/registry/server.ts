// anemos serve: one HTTP server for the API (/api/v1, JSON), the web UI (server-rendered
// HTML, no build step) and the agents' reports. Every request but the OpenAPI document and
// the login page needs a token: `Authorization: Bearer` for the API, a cookie for the UI.

import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import {MACHINE_STATES, ROLES, roleMay, validateReport, type MachineState, type Permission, type Report, type Role} from '../../core/registry/lifecycle.js';
import {validate, type Schema} from '../../core/json-schema.js';
import {openApi} from './openapi.js';
import {Registry, RegistryError, type MachinePatch} from './registry.js';
import {renderLogin, renderMachine, renderMachineList, renderConfirmState, renderMessage} from './ui.js';

/** A report of 200 events with an inventory is about 60 KiB; anything past this is refused whole. */
export const MAX_BODY = 1048576;

const PATCH_SCHEMA: Schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: {type: 'string', enum: MACHINE_STATES},
    tags: {type: 'array', items: {type: 'string', pattern: '^[A-Za-z0-9._:/-]{1,64}$'}},
    attributes: {type: 'object'},
    desired: {type: 'object'},
    hostname: {type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$'},
  },
};

const TOKEN_SCHEMA: Schema = {type: 'object', additionalProperties: false, required: ['role'], properties: {role: {type: 'string', enum: ROLES}, note: {type: 'string'}}};

interface Caller {
  id: string;
  role: Role;
}

export interface ServeOptions {
  version: string;
  /** Each request, for the operator's terminal (method, path, status, ms). */
  log?: (line: string) => void;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new RegistryError(400, `The request body is larger than ${MAX_BODY} bytes: nothing was stored. Send events in smaller batches.`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RegistryError(400, `The request body is not JSON: ${(err as Error).message}. Nothing was stored.`);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json', 'cache-control': 'no-store', ...headers});
  res.end(text);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

const TOKEN_COOKIE = 'anemos_token';

export function createRegistryServer(registry: Registry, o: ServeOptions): Server {
  const authenticate = async (token: string | undefined): Promise<Caller | undefined> => (token ? registry.authenticate(token) : undefined);
  const need = (caller: Caller | undefined, p: Permission): Caller => {
    if (!caller) throw new RegistryError(401, 'No valid token: send "Authorization: Bearer <token>" (anemos serve token create makes one).');
    if (!roleMay(caller.role, p)) throw new RegistryError(403, `A ${caller.role} token may not ${p === 'write' ? 'change records' : p === 'report' ? 'post reports' : 'read the registry'}.`);
    return caller;
  };

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.replace(/^\/api\/v1/, '').replace(/\/$/, '') || '/';
    const method = req.method ?? 'GET';
    if (path === '/openapi.json' && method === 'GET') return send(res, 200, openApi(o.version));
    const bearer = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const caller = await authenticate(bearer);
    const actor = () => `token:${caller!.id}`;
    let m: RegExpMatchArray | null;
    if (path === '/reports' && method === 'POST') {
      need(caller, 'report');
      const body = await readJson(req);
      const problems = validateReport(body);
      if (problems.length) throw new RegistryError(400, `The report is invalid: nothing was stored. ${problems.slice(0, 5).map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ')}`, {problems});
      return send(res, 200, await registry.report(body as Report, actor()));
    }
    if ((m = path.match(/^\/machines\/by-mac\/([0-9A-Fa-f:]{17})\/desired$/)) && method === 'GET') {
      if (!caller || !(roleMay(caller.role, 'read') || roleMay(caller.role, 'report'))) need(caller, 'read');
      return send(res, 200, await registry.desiredByMac(m[1]!));
    }
    if (path === '/machines' && method === 'GET') {
      need(caller, 'read');
      const q = url.searchParams;
      return send(res, 200, {machines: await registry.listMachines({state: q.get('state') ?? undefined, tag: q.get('tag') ?? undefined, q: q.get('q') ?? undefined, sort: q.get('sort') ?? undefined})});
    }
    if (path === '/tokens' && method === 'POST') {
      need(caller, 'write');
      const body = (await readJson(req)) as {role?: string; note?: string};
      const problems = validate(TOKEN_SCHEMA, body);
      if (problems.length) throw new RegistryError(400, `The token request is invalid: ${problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ')}`, {problems});
      return send(res, 200, await registry.createToken(body.role as Role, body.note, actor()));
    }
    if (path === '/audit' && method === 'GET') {
      need(caller, 'read');
      return send(res, 200, {audit: await registry.audit()});
    }
    if ((m = path.match(/^\/machines\/([^/]+)(\/deployments|\/inventory-history|\/audit)?$/))) {
      const id = decodeURIComponent(m[1]!);
      if (method === 'GET') {
        need(caller, 'read');
        if (m[2] === '/deployments') return send(res, 200, {deployments: await registry.deployments(id)});
        if (m[2] === '/inventory-history') return send(res, 200, {reports: await registry.inventoryHistory(id)});
        if (m[2] === '/audit') return send(res, 200, {audit: await registry.audit(id)});
        return send(res, 200, await registry.getMachine(id));
      }
      if (method === 'PATCH' && !m[2]) {
        need(caller, 'write');
        const body = await readJson(req);
        const problems = validate(PATCH_SCHEMA, body);
        if (problems.length) throw new RegistryError(400, `The change is invalid: ${problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ')}`, {problems});
        return send(res, 200, await registry.patchMachine(id, body as MachinePatch, actor()));
      }
    }
    send(res, 404, {error: {message: `No API route ${method} ${url.pathname}; the routes are in /api/v1/openapi.json.`}});
  }

  async function ui(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    if (url.pathname === '/login') {
      if (method === 'POST') {
        const token = new URLSearchParams(await readBody(req)).get('token')?.trim() ?? '';
        if (!(await authenticate(token))) return send(res, 401, renderLogin('That token is not known to this registry.'));
        return send(res, 303, '', {location: '/', 'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`});
      }
      return send(res, 200, renderLogin());
    }
    const caller = await authenticate(cookie(req, TOKEN_COOKIE));
    if (!caller) return send(res, 303, '', {location: '/login'});
    if (!roleMay(caller.role, 'read')) return send(res, 403, renderMessage('Not allowed', `A ${caller.role} token cannot read the registry; sign in with a reader or admin token.`));
    const q = url.searchParams;
    if (url.pathname === '/' && method === 'GET') {
      const filter = {state: q.get('state') || undefined, tag: q.get('tag') || undefined, q: q.get('q') || undefined, sort: q.get('sort') || undefined};
      return send(res, 200, renderMachineList(await registry.listMachines(filter), filter, await registry.counts()));
    }
    let m: RegExpMatchArray | null;
    if ((m = url.pathname.match(/^\/machines\/([^/]+)$/)) && method === 'GET') {
      const id = decodeURIComponent(m[1]!);
      const [machine, deployments, history, audit] = [await registry.getMachine(id), await registry.deployments(id), await registry.inventoryHistory(id), await registry.audit(id)];
      return send(res, 200, renderMachine(machine, deployments, history, audit, {mayWrite: roleMay(caller.role, 'write')}));
    }
    if ((m = url.pathname.match(/^\/machines\/([^/]+)\/state$/)) && method === 'POST') {
      const id = decodeURIComponent(m[1]!);
      if (!roleMay(caller.role, 'write')) return send(res, 403, renderMessage('Not allowed', `A ${caller.role} token cannot change a machine's state.`));
      const form = new URLSearchParams(await readBody(req));
      const to = form.get('state') as MachineState;
      if (!MACHINE_STATES.includes(to)) throw new RegistryError(400, `No state ${to}.`);
      const machine = await registry.getMachine(id);
      // Two steps: the form asks, this page shows what will change, the confirmation does it.
      if (form.get('confirm') !== 'yes') return send(res, 200, renderConfirmState(machine, to));
      await registry.patchMachine(id, {state: to}, `token:${caller.id}`);
      return send(res, 303, '', {location: `/machines/${encodeURIComponent(id)}`});
    }
    send(res, 404, renderMessage('Not found', `Nothing at ${url.pathname}.`));
  }

  return createServer((req, res) => {
    const t0 = performance.now();
    const url = new URL(req.url ?? '/', 'http://registry');
    const isApi = url.pathname.startsWith('/api/');
    (isApi ? api(req, res, url) : ui(req, res, url))
      .catch((err: unknown) => {
        if (err instanceof RegistryError) {
          // Whatever is left of a refused body is not read: close the connection after answering.
          if (!req.complete) res.setHeader('connection', 'close');
          return isApi ? send(res, err.status, {error: {message: err.message, ...err.extra}}) : send(res, err.status, renderMessage(`Refused (${err.status})`, err.message));
        }
        o.log?.(`error: ${(err as Error).stack ?? String(err)}`);
        send(res, 500, isApi ? {error: {message: `The registry failed: ${(err as Error).message}`}} : renderMessage('The registry failed', (err as Error).message));
      })
      .finally(() => o.log?.(`${req.method} ${url.pathname} ${res.statusCode} ${(performance.now() - t0).toFixed(0)} ms`));
  });
}
