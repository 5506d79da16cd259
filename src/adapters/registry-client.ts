// The host CLI's one call to the registry: post a report (anemos deploy records the
// deployment it starts). Bounded in time; a registry that is down or refuses is the
// caller's warning, never the deploy's failure.

import type {DesiredConfig} from '../core/config.js';
import type {Report} from '../core/registry/lifecycle.js';
import {configError, fetchError} from '../shared/errors.js';

/** What fetch's "fetch failed" hides: the socket's error code (ECONNREFUSED), or its message. */
function fetchFailure(err: unknown): string {
  const e = err as Error & {cause?: {code?: string; message?: string}};
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

export async function postReport(target: {url: string; token: string}, report: Report, timeoutMs = 5000): Promise<{ok: true} | {ok: false; why: string}> {
  try {
    const res = await fetch(`${target.url.replace(/\/+$/, '')}/api/v1/reports`, {
      method: 'POST',
      headers: {authorization: `Bearer ${target.token}`, 'content-type': 'application/json'},
      body: JSON.stringify(report),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.ok) return {ok: true};
    const body = (await res.json().catch(() => undefined)) as {error?: {message?: string}} | undefined;
    return {ok: false, why: `HTTP ${res.status}${body?.error?.message ? `: ${body.error.message}` : ''}`};
  } catch (err) {
    return {ok: false, why: (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : fetchFailure(err)};
  }
}

/** The desired deployment of the machine with one of these MACs (anemos deploy --from-registry). */
export async function fetchDesired(target: {url: string; token: string}, macs: string[], timeoutMs = 10_000): Promise<{machine: string; state: string; desired: DesiredConfig | null}> {
  const base = target.url.replace(/\/+$/, '');
  for (const mac of macs) {
    let res: Response;
    try {
      res = await fetch(`${base}/api/v1/machines/by-mac/${mac}/desired`, {headers: {authorization: `Bearer ${target.token}`}, signal: AbortSignal.timeout(timeoutMs)});
    } catch (err) {
      throw fetchError('registry-unreachable', `The registry at ${target.url} did not answer: ${fetchFailure(err)}. Nothing was changed.`, 'Check --from-registry and that anemos serve runs there.');
    }
    if (res.status === 404) continue;
    if (res.status === 401 || res.status === 403) throw configError('registry-token', `The registry at ${target.url} refused the token (HTTP ${res.status}). Nothing was changed.`, 'Pass a reporter, reader or admin token with --registry-token (or ANEMOS_REGISTRY_TOKEN).');
    if (!res.ok) throw fetchError('registry-failed', `The registry at ${target.url} answered HTTP ${res.status}. Nothing was changed.`, 'Look at the registry\'s log.');
    return (await res.json()) as {machine: string; state: string; desired: DesiredConfig | null};
  }
  throw configError('registry-unknown-machine', `No machine in the registry at ${target.url} has any of this host's MACs (${macs.join(', ') || 'none found'}). Nothing was changed.`, 'Let it report once (report: in anemos.conf, then anemos test-boot), or check the URL.');
}
