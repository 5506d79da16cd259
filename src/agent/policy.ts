// What to do when the deploy fails: the old system comes back only if it is intact.
import type {FailurePolicy} from '../core/boot-contract.js';

export type FailureAction = 'reboot' | 'stay';

export function decideOnFailure(policy: FailurePolicy, writtenDisks: string[]): FailureAction {
  if (policy === 'reboot') return 'reboot';
  if (policy === 'stay') return 'stay';
  return writtenDisks.length ? 'stay' : 'reboot';
}
