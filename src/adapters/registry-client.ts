// The host CLI's one call to the registry: post a report (anemos deploy records the
// deployment it starts). Bounded in time; a registry that is down or refuses is the
// caller's warning, never the deploy's failure.

import type {Report} from '../core/registry/lifecycle.js';

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
    const e = err as Error & {cause?: {code?: string}};
    return {ok: false, why: e.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (e.cause?.code ?? (e.cause as Error | undefined)?.message ?? e.message)};
  }
}
