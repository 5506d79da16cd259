// The CLI's side of the registry's API: one request function over node:http/https that
// trusts a registry by the system's CAs, a CA file, or the pin of its public key (a
// self-signed anemos serve --tls auto), refuses plain HTTP off this machine unless told,
// bounds every answer in time and size, and turns the registry's {error: {code, message,
// hint}} into the CLI's errors. Nothing here knows what the requests mean.

import {request as httpRequest, type IncomingMessage} from 'node:http';
import {Agent, request as httpsRequest} from 'node:https';
import {connect, type ConnectionOptions} from 'node:tls';
import {AnemosError, configError, fetchError, preconditionError, usageError} from '../shared/errors.js';
import {registryUrlProblem} from '../core/registry/trust.js';
import {pinOf} from './tls.js';

export interface RegistryTrust {
  /** PEM of the CA (or the self-signed certificate) that signed the registry's certificate. */
  ca?: string;
  /** sha256//BASE64 of the registry's public key: that key and no other (the name is not checked). */
  pin?: string;
  /** Plain HTTP to a registry that is not on this machine. */
  insecure?: boolean;
}

export interface RegistryTarget {
  url: string;
  token?: string;
  trust: RegistryTrust;
}

/** The largest answer read: a page of 500 machines with their inventories fits. */
const MAX_ANSWER = 32 * 1048576;

/** The URL, or a usage error saying why this registry may not be reached this way (core/registry/trust.ts). */
export function checkRegistryUrl(url: string, trust: RegistryTrust, allowFlag = 'report.insecure: true in anemos.conf, or --insecure-registry'): URL {
  const problem = registryUrlProblem(url, trust, allowFlag);
  if (problem) throw usageError(problem.code, problem.message, problem.hint);
  return new URL(url);
}

/** An agent that accepts exactly the registry whose public key has this pin, whatever its certificate says. */
function pinnedAgent(pin: string, host: string): Agent {
  const agent = new Agent({keepAlive: false});
  // Node's agent takes a socket through this callback: none is handed over before the key is checked.
  (agent as unknown as {createConnection: (o: ConnectionOptions, cb: (err: Error | null, s?: unknown) => void) => undefined}).createConnection = (options, cb) => {
    let done = false;
    const finish = (err: Error | null, s?: unknown) => {
      if (!done) (done = true), cb(err, s);
    };
    const socket = connect({...options, rejectUnauthorized: false});
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const got = cert?.raw ? pinOf(cert.raw) : 'none';
      if (got === pin) return finish(null, socket);
      socket.destroy();
      finish(preconditionError('registry-pin', `The registry at ${host} is not the one pinned: its public key is ${got}, not ${pin}. Nothing was sent to it.`, 'If the registry was given a new key, pin the new fingerprint (anemos serve prints it at start); otherwise something else answers at that address.'));
    });
    socket.once('error', (e) => finish(e));
    return undefined;
  };
  return agent;
}

export interface RegistryAnswer {
  status: number;
  body: unknown;
}

/** What fetch-like failures say: the socket's code (ECONNREFUSED) or the TLS verdict. */
function failure(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

/** One request; the answer's status and its JSON (or text), or a network failure as a fetch error. */
export async function registryRequest(t: RegistryTarget, method: string, path: string, body?: unknown, o: {timeoutMs?: number; contentType?: string} = {}): Promise<RegistryAnswer> {
  const base = checkRegistryUrl(t.url, t.trust);
  const url = new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base.href : `${base.href}/`);
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const timeoutMs = o.timeoutMs ?? 15_000;
  const headers: Record<string, string> = {accept: 'application/json', ...(t.token ? {authorization: `Bearer ${t.token}`} : {}), ...(data ? {'content-type': o.contentType ?? 'application/json', 'content-length': String(data.length)} : {})};
  const https = url.protocol === 'https:';
  return new Promise<RegistryAnswer>((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(url, {
      method,
      headers,
      timeout: timeoutMs,
      ...(https && t.trust.pin ? {agent: pinnedAgent(t.trust.pin, url.host)} : {}),
      ...(https && !t.trust.pin && t.trust.ca ? {ca: t.trust.ca} : {}),
    });
    const fail = (err: unknown) => {
      if (err instanceof AnemosError) return reject(err);
      const why = failure(err);
      const tlsHint = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO|certificate/i.test(why) ? ' For a self-signed registry (anemos serve --tls auto) pin its fingerprint (report.fingerprint or --registry-fingerprint), or give its CA (report.ca or --registry-ca).' : '';
      reject(fetchError('registry-unreachable', `The registry at ${t.url} did not answer: ${why}.`, `Check the URL and that anemos serve runs there.${tlsHint}`, err));
    };
    const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), {code: 'ETIMEDOUT'})), timeoutMs);
    req.on('error', (e) => (clearTimeout(timer), fail(e)));
    req.on('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER) req.destroy(new Error(`the answer is larger than ${MAX_ANSWER} bytes`));
        else chunks.push(c);
      });
      res.on('error', (e) => (clearTimeout(timer), fail(e)));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        if ((res.headers['content-type'] ?? '').includes('json')) {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = text; // said as it is: the caller shows the status
          }
        }
        resolve({status: res.statusCode ?? 0, body: parsed});
      });
    });
    req.end(data);
  });
}

/** The registry's refusal as the CLI's error: its code (prefixed), message and hint, the exit status by kind. */
export function registryError(t: RegistryTarget, a: RegistryAnswer): AnemosError {
  const e = (a.body as {error?: {code?: string; message?: string; hint?: string; problems?: {path: string; message: string}[]}} | undefined)?.error;
  const code = `registry-${e?.code ?? a.status}`;
  const message = e?.message ?? `The registry at ${t.url} answered HTTP ${a.status}.`;
  const details = (e?.problems ?? []).map((p) => `${p.path}: ${p.message}`);
  const hint = e?.hint;
  if (a.status === 401) return configError(code, `The registry at ${t.url} refused the token: ${message}`, hint ?? 'Set ANEMOS_REGISTRY_TOKEN (or --token-file) to a valid token.');
  if (a.status === 403) return configError(code, message, hint, details);
  if (a.status === 400 || a.status === 404 || a.status === 405 || a.status === 413 || a.status === 415) return new AnemosError('usage', code, message, {hint, details});
  if (a.status === 409) return new AnemosError('precondition', code, message, {hint, details});
  return fetchError(code, `The registry at ${t.url} failed: HTTP ${a.status}${e?.message ? `: ${e.message}` : ''}.`, hint ?? "Look at the registry's log.");
}

/** A request whose answer must be 2xx: its JSON, or the registry's refusal as an error. */
export async function registryCall<T>(t: RegistryTarget, method: string, path: string, body?: unknown, o?: {timeoutMs?: number; contentType?: string}): Promise<T> {
  const a = await registryRequest(t, method, path, body, o);
  if (a.status < 200 || a.status > 299) throw registryError(t, a);
  return a.body as T;
}
