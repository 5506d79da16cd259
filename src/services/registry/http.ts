// What every request of the registry goes through, whatever a peer sends: bodies read up
// to a limit and a deadline, strict UTF-8, JSON no deeper than a bound, strings PostgreSQL
// can store (no NUL, no lone surrogate), and answers with the headers every response
// carries. Errors leave here as RegistryError and become {error: {code, message, hint}}.

import type {IncomingMessage, ServerResponse} from 'node:http';
import {RegistryError} from './registry.js';

/** A report of 200 events with an inventory is about 60 KiB; anything past this is refused whole. */
export const MAX_BODY = 1048576;
/** A sign-in form: a token and little else. */
export const MAX_FORM_BODY = 8192;
/** Arrays and objects inside one another: an inventory needs 4. */
export const MAX_JSON_DEPTH = 32;

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw new RegistryError(413, 'body-too-large', `The request body is larger than ${limit} bytes: nothing was stored.`, {hint: 'Send events in smaller batches.'});
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > limit) throw new RegistryError(413, 'body-too-large', `The request body is larger than ${limit} bytes: nothing was stored.`, {hint: 'Send events in smaller batches.'});
      chunks.push(c as Buffer);
    }
  } catch (err) {
    if (err instanceof RegistryError) throw err;
    // The peer closed (or was cut off by a deadline) before its body was all there.
    throw new RegistryError(400, 'body-cut', `The request body ended before its end (${(err as Error).message}): nothing was stored.`);
  }
  return Buffer.concat(chunks);
}

const utf8 = new TextDecoder('utf-8', {fatal: true});

export function decodeUtf8(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new RegistryError(400, 'bad-utf8', 'The request body is not valid UTF-8: nothing was stored.', {hint: 'Send UTF-8 text.'});
  }
}

/** How deep arrays and objects nest in JSON text, counted without parsing it (so a deep one costs no recursion). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

// NUL, and UTF-16 halves without their other half: JSON allows them, PostgreSQL's jsonb and
// text do not (a report with one would fail whole, every time it is sent again).
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Every string (and key) of a parsed JSON value as PostgreSQL can keep it: what cannot be kept becomes U+FFFD. */
export function storable(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(UNSTORABLE, '\ufffd');
  if (Array.isArray(v)) return v.map(storable);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(UNSTORABLE, '\ufffd'), storable(x)]));
  return v;
}

export function parseJsonBody(bytes: Buffer): unknown {
  const text = decodeUtf8(bytes);
  if (jsonDepth(text) > MAX_JSON_DEPTH) throw new RegistryError(400, 'too-deep', `The request body nests arrays and objects deeper than ${MAX_JSON_DEPTH}: nothing was stored.`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new RegistryError(400, 'not-json', `The request body is not JSON: ${(err as Error).message}. Nothing was stored.`, {hint: 'Send a JSON object with Content-Type: application/json.'});
  }
  return storable(value);
}

/** Every response: no caching of records, no sniffing, no referrer. */
const BASE_HEADERS = {'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer'};

/**
 * Pages: no script at all, styles only from this server, forms only to it, never in a
 * frame. The UI needs nothing else, so an injected tag has nothing to run.
 */
export const HTML_HEADERS = {
  ...BASE_HEADERS,
  'content-security-policy': "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {'content-type': 'application/json; charset=utf-8', ...BASE_HEADERS, ...headers});
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {'content-type': contentType, ...(contentType.startsWith('text/html') ? HTML_HEADERS : BASE_HEADERS), ...headers});
  res.end(body);
}

/** The JSON error every API refusal is: the CLI's shape, {error: {code, message, hint}}, plus what the refusal carries (problems, allowed). */
export function errorBody(err: RegistryError): {error: Record<string, unknown>} {
  const {hint, ...extra} = err.extra;
  return {error: {code: err.code, message: err.message, ...(hint ? {hint} : {}), ...extra}};
}

export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) {
      try {
        return decodeURIComponent(v.join('='));
      } catch {
        return undefined; // a cookie we did not set: as if there were none
      }
    }
  }
  return undefined;
}

export function bearer(req: IncomingMessage): string | undefined {
  return req.headers.authorization?.match(/^Bearer\s+(\S{1,512})\s*$/i)?.[1];
}
