// The flags of a token's making, the same for anemos tokens create (over the API) and
// anemos serve token create (on the registry's own machine).

import {Flags} from '@oclif/core';
import {ROLES} from '../core/registry/lifecycle.js';
import {usageError} from '../shared/errors.js';

export const tokenCreateFlags = {
  role: Flags.string({options: [...ROLES], required: true, description: 'admin: everything; operator: machines, desired deployments, deployments; reader: read only; enroll: register new machines, each of which gets its own credential.'}),
  note: Flags.string({description: 'What it is for: the audit log names the token by it.'}),
  expires: Flags.string({description: 'It stops working after this long: 3600 (seconds), 90m, 12h, 30d.'}),
  uses: Flags.integer({description: 'Enroll tokens: how many machines it may register.', min: 1}),
};

/** --expires: seconds, or a number with s, m, h or d. */
export function parseExpiry(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^([0-9]+)(s|m|h|d)?$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) throw usageError('bad-expiry', `--expires ${text} is not a duration.`, 'Write seconds (3600) or 90m, 12h, 30d.');
  return Number(m[1]) * ({s: 1, m: 60, h: 3600, d: 86400}[m[2] as 's' | 'm' | 'h' | 'd'] ?? 1);
}
