// anemos serve's HTTP(S) server: the API (dispatched from the route table in api.ts), the
// web UI (server-rendered HTML, ui.ts) and the agents' reports. Whatever a peer sends is
// answered inside one error boundary per request; slow and idle clients are cut off by
// deadlines; an address holds a bounded number of connections that have not yet shown a
// valid token (the oldest gives way); bodies are read only after the token is accepted.

import {createServer as createHttpServer, type IncomingMessage, type Server, type ServerOptions as HttpServerOptions, type ServerResponse} from 'node:http';
import {createServer as createHttpsServer} from 'node:https';
import type {Socket} from 'node:net';
import {parseDocument} from 'yaml';
import {validateDesired} from '../../core/config.js';
import type {Idle} from '../../core/netboot/boot-decision.js';
import {validate} from '../../core/json-schema.js';
import {MACHINE_STATES, roleMay, whoMay, type MachineState} from '../../core/registry/lifecycle.js';
import {terminalLine} from '../../shared/terminal-text.js';
import {parseQuery, RawAnswer, ROUTES, type ApiEnv, type ApiRoute} from './api.js';
import {bearer, cookie, decodeUtf8, errorBody, MAX_BODY, MAX_FORM_BODY, parseJsonBody, readBody, sendJson, sendText} from './http.js';
import {Metrics} from './metrics.js';
import {openApi} from './openapi.js';
import {diffMergePatch} from '../../core/registry/merge-patch.js';
import {MACHINE_SORTS, Registry, RegistryError, type Caller, type DesiredDeployment} from './registry.js';
import {renderAudit, renderConfirmState, renderDeployments, renderLogin, renderMachine, renderMachineList, renderMessage, STYLESHEET, type MachineForms, type Viewer} from './ui.js';

export {MAX_BODY} from './http.js';

export interface Limits {
  /** A request's headers must have arrived this long after the connection (or the last request). */
  headersTimeoutMs: number;
  /** A whole request (headers and body) must have arrived within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection that sends and reads nothing for this long is closed (a client that stopped reading its answer). */
  idleTimeoutMs: number;
  maxConnections: number;
  /** Connections one address may hold open before any request on them showed a valid token. */
  unauthenticatedPerAddress: number;
  maxHeaderSize: number;
}

export const DEFAULT_LIMITS: Limits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxConnections: 4096,
  unauthenticatedPerAddress: 64,
  maxHeaderSize: 16384,
};

export interface ServeOptions {
  version: string;
  /** Each request, for the operator's terminal (method, path, status, ms), and failures. */
  log?: (line: string) => void;
  tls?: {key: string; cert: string};
  limits?: Partial<Limits>;
  now?: () => Date;
  /** Network boot's HTTP side (/boot/...), answered on this server. */
  boot?: {handle: (req: IncomingMessage, res: ServerResponse, url: URL, setLabel: (l: string) => void) => Promise<void>};
  /**
   * The boot listener on the boot segment: /boot/..., the agents' reports and /healthz, and
   * nothing else (not the web UI, not the rest of the API: those stay where --listen puts them).
   */
  bootOnly?: boolean;
  /** Network boot runs in this process (--boot): with discovery (--discover) or not, for /api/v1/boot/explain. */
  discover?: boolean;
  /** --discover-idle, for the same. */
  idle?: Idle;
  /** Wake-on-LAN on the boot segment (--boot). */
  wake?: (macs: string[]) => Promise<number>;
  /** The installer a machine would boot, its answer file rendered now (--boot --media), for /api/v1/boot/explain. */
  installer?: NonNullable<ApiEnv['boot']>['installer'];
  /** The installation media (--boot --media), for /api/v1/boot/media. */
  media?: NonNullable<ApiEnv['boot']>['media'];
}

const BOOT_LISTENER_PATHS = ['/api/v1/reports', '/api/v1/drift', '/healthz'];

const TOKEN_COOKIE = 'anemos_token';
const REALM = 'Bearer realm="anemos registry"';

interface CompiledRoute {
  route: ApiRoute;
  regex: RegExp;
  names: string[];
  label: string;
}

const COMPILED: CompiledRoute[] = ROUTES.map((route) => {
  const names: string[] = [];
  const regex = new RegExp(`^${route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}/g, (_m, n: string) => (names.push(n), '([^/]+)'))}/?$`);
  return {route, regex, names, label: `${route.method} ${route.path}`};
});

const API_PATHS = ['/healthz', '/readyz', '/metrics'];

function decodeParam(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    throw new RegistryError(400, 'bad-url', `The path has a broken percent-encoding: ${v}.`, {hint: 'Encode each path segment with encodeURIComponent.'});
  }
}

/** Connections per address that have not shown a valid token yet, oldest first; the oldest gives way. */
class ConnectionGuard {
  private readonly waiting = new Map<string, Map<string, Socket>>();
  constructor(
    private readonly perAddress: number,
    private readonly shed: () => void,
  ) {}

  private static key(s: {remoteAddress?: string; remotePort?: number}) {
    return `${s.remoteAddress ?? '?'}|${s.remotePort ?? 0}`;
  }

  admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '?';
    let sockets = this.waiting.get(address);
    if (!sockets) this.waiting.set(address, (sockets = new Map()));
    if (sockets.size >= this.perAddress) {
      const [oldestKey, oldest] = sockets.entries().next().value as [string, Socket];
      sockets.delete(oldestKey);
      oldest.destroy();
      this.shed();
    }
    const key = ConnectionGuard.key(socket);
    sockets.set(key, socket);
    socket.once('close', () => {
      sockets!.delete(key);
      if (!sockets!.size && this.waiting.get(address) === sockets) this.waiting.delete(address);
    });
  }

  /** A request on this connection showed a valid token: it no longer counts against its address. */
  authenticated(socket: {remoteAddress?: string; remotePort?: number}): void {
    this.waiting.get(socket.remoteAddress ?? '?')?.delete(ConnectionGuard.key(socket));
  }
}

export function createRegistryServer(registry: Registry, o: ServeOptions): Server {
  const limits = {...DEFAULT_LIMITS, ...o.limits};
  const metrics = new Metrics();
  registry.instrument((seconds) => metrics.dbQuery(seconds));
  const now = o.now ?? (() => new Date());
  const secure = Boolean(o.tls);
  const guard = new ConnectionGuard(limits.unauthenticatedPerAddress, () => metrics.count('connections_shed'));
  let open = 0;
  const env: ApiEnv = {registry, version: o.version, metrics, connections: () => open, now, ...(o.discover !== undefined ? {boot: {discover: o.discover, ...(o.idle ? {idle: o.idle} : {}), ...(o.wake ? {wake: o.wake} : {}), ...(o.installer ? {installer: o.installer} : {}), ...(o.media ? {media: o.media} : {})}} : {})};
  const log = (line: string) => o.log?.(terminalLine(line));

  async function authenticate(req: IncomingMessage, token: string | undefined): Promise<Caller | undefined> {
    if (!token) return undefined;
    const caller = await registry.authenticate(token, now());
    guard.authenticated(req.socket);
    return caller;
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL, setLabel: (l: string) => void): Promise<void> {
    const matching = COMPILED.filter((c) => c.regex.test(url.pathname));
    if (!matching.length) throw new RegistryError(404, 'no-route', `No API route ${url.pathname}.`, {hint: 'The routes are in /api/v1/openapi.json.'});
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const c = matching.find((x) => x.route.method === method);
    if (!c) {
      const allow = [...new Set(matching.map((x) => x.route.method))];
      res.setHeader('connection', 'close');
      return sendJson(res, 405, errorBody(new RegistryError(405, 'method-not-allowed', `${req.method} is not allowed on ${url.pathname}; ${allow.join(', ')} ${allow.length > 1 ? 'are' : 'is'}.`)), {allow: allow.join(', ')});
    }
    setLabel(c.label);
    const route = c.route;
    const params = Object.fromEntries(c.names.map((n, i) => [n, decodeParam(url.pathname.match(c.regex)![i + 1]!)]));
    let caller: Caller | undefined;
    if (route.permission !== 'public') {
      const token = bearer(req);
      if (!token) {
        res.setHeader('connection', 'close');
        return sendJson(res, 401, errorBody(new RegistryError(401, 'no-token', 'No token: send "Authorization: Bearer <token>".', {hint: 'anemos tokens create (or anemos serve token create) makes one.'})), {'www-authenticate': REALM});
      }
      try {
        caller = await authenticate(req, token);
      } catch (err) {
        if (!(err instanceof RegistryError)) throw err;
        res.setHeader('connection', 'close');
        return sendJson(res, err.status, errorBody(err), {'www-authenticate': `${REALM}, error="invalid_token", error_description="${err.code}"`});
      }
      const p = route.permission;
      if (p !== 'any' && !roleMay(caller!.kind, p) && !(route.self && caller!.kind === 'machine') && !(route.self && caller!.kind === 'deployment' && p === 'read')) {
        throw new RegistryError(403, 'forbidden', `This ${caller!.kind} token may not ${route.summary.charAt(0).toLowerCase()}${route.summary.slice(1)}: that needs ${whoMay(p)}.`, {hint: 'Use a token of a role that may (anemos tokens create --role ...).'});
      }
    }
    const query = parseQuery(route, url.searchParams);
    let body: unknown;
    if (route.body) {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json' && !(route.body.mergePatch && type === 'application/merge-patch+json')) {
        throw new RegistryError(415, 'not-json', `The body must be JSON (Content-Type: application/json${route.body.mergePatch ? ' or application/merge-patch+json' : ''}), not ${type || 'untyped'}.`);
      }
      body = parseJsonBody(await readBody(req, MAX_BODY));
      const problems = route.body.validate ? route.body.validate(body) : validate(route.body.schema, body);
      if (problems.length) {
        throw new RegistryError(400, 'invalid', `The ${route.body.name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()} is invalid: nothing was stored. ${problems.slice(0, 5).map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`, {problems});
      }
    }
    const out = route.path === '/api/v1/openapi.json' ? openApi(o.version) : await route.handle({params, query, body, caller}, env);
    if (out instanceof RawAnswer) return sendText(res, out.status, out.contentType, out.body);
    sendJson(res, 200, out);
  }

  // ---------------------------------------------------------------- the web UI

  function viewerOf(c: Caller): Viewer {
    return {label: c.note ?? `${c.kind} token ${c.tokenId}`, kind: c.kind, mayWrite: roleMay(c.kind, 'write')};
  }

  async function form(req: IncomingMessage): Promise<URLSearchParams> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') throw new RegistryError(415, 'not-a-form', 'The page sends a form: Content-Type: application/x-www-form-urlencoded.');
    return new URLSearchParams(decodeUtf8(await readBody(req, MAX_FORM_BODY)));
  }

  /**
   * A form of this site, not another's. Browsers say where a POST comes from in
   * Sec-Fetch-Site; an Origin header is the fallback (it is "null" under our
   * Referrer-Policy: no-referrer, which says nothing either way).
   */
  function sameOrigin(req: IncomingMessage): void {
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    let crossSite = site !== undefined && site !== 'same-origin' && site !== 'none';
    if (site === undefined && origin && origin !== 'null') {
      try {
        crossSite = new URL(origin).host !== req.headers.host;
      } catch {
        crossSite = true;
      }
    }
    if (crossSite) throw new RegistryError(403, 'cross-site', 'This form was sent from another site: refused.', {hint: "Use the registry's own pages."});
  }

  const uiQuery = (url: URL, names: string[]) => Object.fromEntries(names.map((n) => [n, url.searchParams.get(n) || undefined])) as Record<string, string | undefined>;

  async function machinePage(res: ServerResponse, viewer: Viewer, ref: string, status = 200, forms: MachineForms = {}): Promise<void> {
    const machine = await registry.getMachine(ref);
    const deps = await registry.deployments({machine: machine.id}, {limit: 10});
    const withEvents = await Promise.all(deps.items.map(async (d) => ({...d, timeline: (await registry.events(d.id, -1, 500)).events})));
    const lastGood = deps.items.find((d) => d.outcome === 'succeeded') ?? (await registry.deployments({machine: machine.id, outcome: 'succeeded', mode: 'deploy'}, {limit: 1})).items[0];
    const history = await registry.inventoryHistory(machine.id, {limit: 200});
    const audit = await registry.audit({machine: machine.id}, {limit: 50});
    // An installer: the media and the answer file it gets now (or what stops it), as the boot service renders them.
    const installer = machine.desired?.installer && machine.macs[0] && env.boot?.installer ? await env.boot.installer(machine.macs[0]) : undefined;
    sendText(res, status, 'text/html; charset=utf-8', renderMachine(viewer, machine, withEvents, Boolean(deps.next), lastGood, history.items, audit.items, {...forms, ...(installer ? {installer} : {})}));
  }

  async function ui(req: IncomingMessage, res: ServerResponse, url: URL, setLabel: (l: string) => void): Promise<void> {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const html = (status: number, body: string, headers: Record<string, string> = {}) => sendText(res, status, 'text/html; charset=utf-8', body, headers);
    const redirect = (location: string, headers: Record<string, string> = {}) => {
      res.writeHead(303, {location, 'cache-control': 'no-store', ...headers});
      res.end();
    };
    const only = (...methods: string[]) => {
      if (!methods.includes(method ?? '')) throw Object.assign(new RegistryError(405, 'method-not-allowed', `${req.method} is not allowed on ${url.pathname}.`), {allow: methods.join(', ')});
    };
    const p = url.pathname;
    if (p === '/static/registry.css') {
      setLabel('GET /static/registry.css');
      only('GET');
      return sendText(res, 200, 'text/css; charset=utf-8', STYLESHEET, {'cache-control': 'public, max-age=3600'});
    }
    if (p === '/login') {
      setLabel(`${method} /login`);
      only('GET', 'POST');
      if (method === 'GET') return html(200, renderLogin());
      sameOrigin(req);
      const token = (await form(req)).get('token')?.trim() ?? '';
      let caller: Caller;
      try {
        caller = await registry.authenticate(token, now());
      } catch (err) {
        if (err instanceof RegistryError && err.status === 401) return html(401, renderLogin(`${err.message} ${err.extra.hint ?? ''}`.trim()));
        throw err;
      }
      if (!roleMay(caller.kind, 'read')) return html(403, renderLogin(`A ${caller.kind} token cannot read the registry; sign in with a reader, operator or admin token.`));
      guard.authenticated(req.socket);
      return redirect('/', {'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`});
    }
    if (p === '/logout') {
      setLabel('POST /logout');
      only('POST');
      sameOrigin(req);
      return redirect('/login', {'set-cookie': `${TOKEN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? '; Secure' : ''}`});
    }
    let caller: Caller;
    try {
      const token = cookie(req, TOKEN_COOKIE);
      if (!token) return redirect('/login');
      caller = (await authenticate(req, token))!;
    } catch (err) {
      if (err instanceof RegistryError && err.status === 401) return redirect('/login', {'set-cookie': `${TOKEN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`});
      throw err;
    }
    const viewer = viewerOf(caller);
    if (!roleMay(caller.kind, 'read')) return html(403, renderMessage('Not allowed', `A ${caller.kind} token cannot read the registry; sign in with a reader, operator or admin token.`));
    const mayWrite = () => {
      if (!viewer.mayWrite) throw new RegistryError(403, 'forbidden', `A ${caller.kind} token cannot change machines: that needs ${whoMay('write')}.`);
    };
    if (p === '/') {
      setLabel('GET /');
      only('GET');
      const f = uiQuery(url, ['state', 'tag', 'q', 'sort', 'cursor']);
      if (f.state && !MACHINE_STATES.includes(f.state as MachineState)) throw new RegistryError(400, 'bad-query', `There is no state ${f.state}.`, {hint: `States: ${MACHINE_STATES.join(', ')}.`});
      if (f.sort && !MACHINE_SORTS.includes(f.sort as never)) throw new RegistryError(400, 'bad-query', `Machines cannot be sorted by ${f.sort}.`, {hint: `Sort by ${MACHINE_SORTS.join(', ')}.`});
      const machines = await registry.listMachines({state: f.state as MachineState | undefined, tag: f.tag, q: f.q, sort: f.sort as never}, {cursor: f.cursor});
      return html(200, renderMachineList(viewer, machines, f, await registry.counts()));
    }
    if (p === '/deployments') {
      setLabel('GET /deployments');
      only('GET');
      const f = uiQuery(url, ['machine', 'outcome', 'mode', 'cursor']);
      if (f.outcome && !['succeeded', 'failed', 'aborted', 'running'].includes(f.outcome)) throw new RegistryError(400, 'bad-query', `There is no outcome ${f.outcome}.`);
      if (f.mode && !['deploy', 'test'].includes(f.mode)) throw new RegistryError(400, 'bad-query', `There is no mode ${f.mode}.`);
      return html(200, renderDeployments(viewer, await registry.deployments({machine: f.machine, outcome: f.outcome as never, mode: f.mode as never}, {cursor: f.cursor}), f));
    }
    if (p === '/audit') {
      setLabel('GET /audit');
      only('GET');
      const f = uiQuery(url, ['machine', 'action', 'actor', 'cursor']);
      return html(200, renderAudit(viewer, await registry.audit({machine: f.machine, action: f.action, actor: f.actor}, {cursor: f.cursor}), f, await registry.auditActions()));
    }
    const m = p.match(/^\/machines\/([^/]+)(\/state|\/attributes|\/desired)?$/);
    if (!m) {
      setLabel('unmatched');
      throw new RegistryError(404, 'not-found', `Nothing at ${p}.`);
    }
    const id = decodeParam(m[1]!);
    if (!m[2]) {
      setLabel('GET /machines/{id}');
      only('GET');
      return machinePage(res, viewer, id);
    }
    setLabel(`POST /machines/{id}${m[2]}`);
    only('POST');
    sameOrigin(req);
    mayWrite();
    const fields = await form(req);
    const machine = await registry.getMachine(id);
    const back = `/machines/${encodeURIComponent(machine.id)}`;
    if (m[2] === '/state') {
      const to = fields.get('state') as MachineState;
      if (!MACHINE_STATES.includes(to)) throw new RegistryError(400, 'bad-state', `There is no state ${to}.`);
      // Two steps: the form asks, this page shows what will change, the confirmation does it.
      if (fields.get('confirm') !== 'yes') return html(200, renderConfirmState(viewer, machine, to));
      await registry.patchMachine(machine.id, {state: to}, caller.actor);
      return redirect(back);
    }
    if (m[2] === '/attributes') {
      const text = fields.get('attributes') ?? '';
      let value: unknown;
      try {
        value = text.trim() ? JSON.parse(text) : {};
      } catch (err) {
        return machinePage(res, viewer, machine.id, 400, {attributesText: text, attributesProblems: [`not JSON: ${(err as Error).message}`]});
      }
      if (!value || typeof value !== 'object' || Array.isArray(value)) return machinePage(res, viewer, machine.id, 400, {attributesText: text, attributesProblems: ['must be a JSON object ({"rack": "r3"})']});
      // The form holds the whole set: what is not in it any more is removed.
      await registry.patchMachine(machine.id, {attributes: diffMergePatch(machine.attributes, value)}, caller.actor);
      return redirect(back);
    }
    const text = fields.get('desired') ?? '';
    const doc = parseDocument(text, {uniqueKeys: true});
    const desired = doc.errors.length ? undefined : (doc.toJS() as unknown);
    const problems = doc.errors.length ? doc.errors.map((e) => `not YAML: ${e.message.split('\n')[0]}`) : desired === null || desired === undefined ? [] : validateDesired(desired);
    if (problems.length) return machinePage(res, viewer, machine.id, 400, {desiredText: text, desiredProblems: problems});
    // The form holds the whole desired deployment: it replaces the one there was.
    await registry.setDesired(machine.id, (desired as DesiredDeployment | null | undefined) ?? null, caller.actor);
    return redirect(back);
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    let label = 'unmatched';
    let isApi = true;
    const run = async () => {
      let url: URL;
      try {
        // The target as a path on this server: "//host/x" is a path here, not another host.
        const target = req.url ?? '/';
        url = target.startsWith('/') ? new URL(`http://registry${target}`) : new URL(target);
      } catch {
        throw new RegistryError(400, 'bad-url', 'The request line names no path this server can read.');
      }
      if (url.pathname.startsWith('/boot/') && o.boot) return o.boot.handle(req, res, url, (l) => (label = l));
      if (o.bootOnly && !BOOT_LISTENER_PATHS.includes(url.pathname)) throw new RegistryError(404, 'not-found', `Nothing at ${url.pathname} on the boot listener.`, {hint: 'The API and the web UI are on the address anemos serve --listen names.'});
      isApi = url.pathname.startsWith('/api/') || API_PATHS.includes(url.pathname.replace(/\/$/, ''));
      return isApi ? api(req, res, url, (l) => (label = l)) : ui(req, res, url, (l) => (label = l));
    };
    run()
      .catch((err: unknown) => {
        // Whatever is left of a refused body is not read: close the connection after answering.
        if (!req.complete) res.setHeader('connection', 'close');
        if (err instanceof RegistryError) {
          const headers: Record<string, string> = (err as RegistryError & {allow?: string}).allow ? {allow: (err as RegistryError & {allow?: string}).allow!} : {};
          if (err.code.startsWith('identity-')) metrics.count('identity_refused');
          return isApi ? sendJson(res, err.status, errorBody(err), headers) : sendText(res, err.status, 'text/html; charset=utf-8', renderMessage(`Refused (${err.status})`, `${err.message}${err.extra.hint ? ` ${err.extra.hint}` : ''}`), headers);
        }
        log(`error: ${req.method} ${req.url}: ${(err as Error).stack ?? String(err)}`);
        const message = 'The registry failed on this request; its log has the reason.';
        return isApi ? sendJson(res, 500, {error: {code: 'internal', message, hint: 'Look at the output of anemos serve.'}}) : sendText(res, 500, 'text/html; charset=utf-8', renderMessage('The registry failed', message));
      })
      .catch((err: unknown) => log(`error answering ${req.method} ${req.url}: ${String(err)}`))
      .finally(() => {
        metrics.request(label, res.statusCode);
        if (label === 'POST /api/v1/reports') metrics.count(res.statusCode === 200 ? 'reports_stored' : 'reports_refused');
        // A boot link's signature lets its holder fetch a machine's segment (and its token): not in the log.
        log(`${req.method} ${req.url?.slice(0, 200).replace(/^(\/boot\/(?:m|next)\/.*\/)[A-Za-z0-9_-]{43}/, '$1<signature>')} ${res.statusCode} ${(performance.now() - t0).toFixed(0)} ms`);
      });
  };

  const options: HttpServerOptions = {maxHeaderSize: limits.maxHeaderSize, requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.headersTimeoutMs, keepAliveTimeout: limits.keepAliveTimeoutMs, connectionsCheckingInterval: 1000} as HttpServerOptions;
  const server: Server = o.tls ? (createHttpsServer({...options, key: o.tls.key, cert: o.tls.cert, handshakeTimeout: limits.headersTimeoutMs, minVersion: 'TLSv1.2'}, handler) as unknown as Server) : createHttpServer(options, handler);
  server.maxConnections = limits.maxConnections;
  server.setTimeout(limits.idleTimeoutMs, (socket: Socket) => socket.destroy());
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
    // A peer that resets the connection is not the server's problem.
    socket.on('error', () => undefined);
    guard.admit(socket);
  });
  // Malformed HTTP (a broken request line, a header too large): answered and closed, never thrown.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    metrics.request('malformed', 400);
    if (socket.writable && err.code !== 'ECONNRESET') {
      const body = JSON.stringify({error: {code: 'bad-request', message: `The request is not HTTP this server reads (${err.code ?? 'malformed'}).`}});
      socket.end(`HTTP/1.1 ${err.code === 'HPE_HEADER_OVERFLOW' ? '431' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408' : '400'} Bad Request\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    } else socket.destroy();
  });
  server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
  return server;
}
